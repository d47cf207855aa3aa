"""What an attachment must be to be accepted (D-4, seed 003 §9): a plain, honest file name, a type we allow
that matches what the bytes are, and sizes within the limits. Each check raises ValueError with the reason."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TOTAL_BYTES = 25 * 1024 * 1024
MAX_COUNT = 10
MAX_FILENAME = 255

# Default allow-list (seed 003 §9): PDF, images, Office documents, CSV and plain text.
ALLOWED_TYPES = frozenset(
    {
        "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/csv", "text/plain",
        "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)  # fmt: skip
# Extensions a mail client may run or a browser may render as active content: refused anywhere in a name,
# so `invoice.pdf.exe` and `invoice.exe.pdf` both fail.
DANGEROUS_EXTENSIONS = frozenset(
    {
        "exe", "com", "bat", "cmd", "scr", "pif", "msi", "msp", "js", "jse", "vbs", "vbe", "wsf", "wsh", "hta",
        "cpl", "jar", "ps1", "psm1", "sh", "lnk", "reg", "dll", "iso", "img", "vhd", "html", "htm", "svg",
        "xhtml", "shtml", "php", "asp", "aspx",
    }
)  # fmt: skip
_EXPECTED_EXTENSIONS = {
    "application/pdf": {"pdf"},
    "image/png": {"png"},
    "image/jpeg": {"jpg", "jpeg"},
    "image/gif": {"gif"},
    "image/webp": {"webp"},
    "text/csv": {"csv"},
    "text/plain": {"txt", "log", "csv"},
    "application/msword": {"doc"},
    "application/vnd.ms-excel": {"xls"},
    "application/vnd.ms-powerpoint": {"ppt"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {"docx"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"xlsx"},
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": {"pptx"},
}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound-file header of .doc/.xls/.ppt
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/msword": (_OLE,),
    "application/vnd.ms-excel": (_OLE,),
    "application/vnd.ms-powerpoint": (_OLE,),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (b"PK\x03\x04",),
}
_CONTENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,126}")


def check_filename(name: str) -> str:
    if not name or len(name) > MAX_FILENAME:
        raise ValueError(f"must be 1–{MAX_FILENAME} characters")
    for char in name:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp") or char in "\x7f":
            # Control characters (CR, LF, NUL...) and format characters: U+202E RIGHT-TO-LEFT OVERRIDE turns
            # "invoice\u202efdp.exe" into what reads as "invoiceexe.pdf".
            raise ValueError(f"must not contain control or bidirectional characters (found U+{ord(char):04X})")
    if "/" in name or "\\" in name or name in (".", "..") or ".." in name:
        raise ValueError("must be a plain file name: no path separators or '..'")
    if re.match(r"^[A-Za-z]:", name) or name.startswith("~"):
        raise ValueError("must be a plain file name, not a path")
    if name.startswith(".") or name.endswith((".", " ")) or name != name.strip():
        raise ValueError("must not start with '.' or start or end with spaces or dots")
    if unicodedata.normalize("NFC", name) != name:
        raise ValueError("must be in Unicode normal form C")
    parts = name.lower().split(".")
    if len(parts) < 2:
        raise ValueError("needs an extension that matches its content type")
    bad = [ext for ext in parts[1:] if ext in DANGEROUS_EXTENSIONS]
    if bad:
        raise ValueError(f"has an extension that can run or render active content (.{bad[0]})")
    return name


def decode_content(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None


def check_content_id(value: str | None) -> str | None:
    if value is not None and not _CONTENT_ID.fullmatch(value):
        raise ValueError("must be 1–127 of A-Z a-z 0-9 . _ @ - (used as cid:<contentId> in the HTML)")
    return value


def check_type(filename: str, content_type: str, content: bytes, allowed: frozenset[str] = ALLOWED_TYPES) -> None:
    """The declared type is allowed, the extension fits it, and the bytes are what it says."""
    if content_type not in allowed:
        raise ValueError(f"content type {content_type!r} is not allowed; allowed: {', '.join(sorted(allowed))}")
    extension = filename.rsplit(".", 1)[-1].lower()
    if extension not in _EXPECTED_EXTENSIONS.get(content_type, {extension}):
        raise ValueError(f"the extension .{extension} does not match the content type {content_type}")
    magic = _MAGIC.get(content_type)
    if magic is not None and not content.startswith(magic):
        raise ValueError(f"the content is not a {content_type} file (its first bytes say otherwise)")
    if content_type == "image/webp" and not (content[:4] == b"RIFF" and content[8:12] == b"WEBP"):
        raise ValueError("the content is not an image/webp file")
    if content_type.startswith("text/"):
        if b"\x00" in content:
            raise ValueError(f"the content is not {content_type}: it holds NUL bytes")
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"the content is not UTF-8 {content_type}") from None


def check_sizes(sizes: list[int]) -> None:
    if len(sizes) > MAX_COUNT:
        raise ValueError(f"at most {MAX_COUNT} attachments per message")
    if sum(sizes) > MAX_TOTAL_BYTES:
        raise ValueError(f"attachments total more than {MAX_TOTAL_BYTES // (1024 * 1024)} MB")
