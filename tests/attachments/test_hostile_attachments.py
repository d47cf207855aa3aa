"""D-4 at accept: hostile attachments are refused with one 422 problem naming the field, and nothing is kept."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from iep.bootstrap import Container
from tests.conftest import TenantKey

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
ZIP = b"PK\x03\x04" + b"\x00" * 26
EXE = b"MZ\x90\x00" + b"\x00" * 60
TEN_MB = 10 * 1024 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def att(
    filename: str = "invoice.pdf", content: bytes = PDF, content_type: str = "application/pdf", **extra: Any
) -> dict[str, Any]:
    return {"filename": filename, "content": base64.b64encode(content).decode(), "contentType": content_type, **extra}


def payload(*attachments: dict[str, Any]) -> dict[str, Any]:
    return {
        "to": ["user@example.com"], "from": "app@product.example", "subject": "Invoice", "htmlBody": "<p>x</p>",
        "attachments": list(attachments),
    }  # fmt: skip


HOSTILE: list[tuple[str, list[dict[str, Any]], str]] = [
    ("double extension .pdf.exe", [att("invoice.pdf.exe")], "attachments[0].filename"),
    ("hidden .exe before .pdf", [att("invoice.exe.pdf")], "attachments[0].filename"),
    ("double extension .pdf.js", [att("invoice.pdf.js")], "attachments[0].filename"),
    ("script disguised .jpg.vbs", [att("photo.jpg.vbs", PNG, "image/png")], "attachments[0].filename"),
    ("html attachment", [att("page.html", b"<script>", "text/plain")], "attachments[0].filename"),
    ("svg with script", [att("logo.svg", b"<svg onload=x>", "image/png")], "attachments[0].filename"),
    ("U+202E right-to-left override", [att("invoice\u202efdp.exe")], "attachments[0].filename"),
    ("U+202E with a safe-looking end", [att("report\u202excod.pdf")], "attachments[0].filename"),
    ("U+200F right-to-left mark", [att("a\u200f.pdf")], "attachments[0].filename"),
    ("U+2066 isolate", [att("a\u2066b.pdf")], "attachments[0].filename"),
    ("zero width joiner", [att("in\u200dvoice.pdf")], "attachments[0].filename"),
    ("NUL in the name", [att("invoice.pdf\x00.exe")], "attachments[0].filename"),
    ("NUL alone", [att("a\x00.pdf")], "attachments[0].filename"),
    ("../ traversal", [att("../../etc/passwd.pdf")], "attachments[0].filename"),
    ("..\\ traversal", [att("..\\..\\win.ini.pdf")], "attachments[0].filename"),
    ("dot dot inside", [att("a..pdf")], "attachments[0].filename"),
    ("absolute POSIX path", [att("/etc/passwd.pdf")], "attachments[0].filename"),
    ("absolute Windows path", [att("C:\\Windows\\x.pdf")], "attachments[0].filename"),
    ("drive-relative path", [att("C:x.pdf")], "attachments[0].filename"),
    ("home path", [att("~root.pdf")], "attachments[0].filename"),
    ("CR LF header injection", [att("a.pdf\r\nBcc: evil@attacker.example")], "attachments[0].filename"),
    ("bare LF", [att("a\n.pdf")], "attachments[0].filename"),
    ("bare CR", [att("a\r.pdf")], "attachments[0].filename"),
    ("TAB", [att("a\t.pdf")], "attachments[0].filename"),
    ("DEL", [att("a\x7f.pdf")], "attachments[0].filename"),
    ("dot file", [att(".htaccess.pdf")], "attachments[0].filename"),
    ("trailing dot", [att("invoice.pdf.")], "attachments[0].filename"),
    ("trailing space", [att("invoice.pdf ")], "attachments[0].filename"),
    ("no extension", [att("invoice")], "attachments[0].filename"),
    ("empty name", [att("")], "attachments[0].filename"),
    ("256-character name", [att("a" * 252 + ".pdf")], "attachments[0].filename"),
    ("decomposed Unicode", [att("re\u0301sume\u0301.pdf")], "attachments[0].filename"),
    ("declared PDF, content is an EXE", [att("invoice.pdf", EXE)], "attachments[0]"),
    ("declared PNG, content is a PDF", [att("logo.png", PDF, "image/png")], "attachments[0]"),
    ("declared DOCX, content is an EXE", [att("a.docx", EXE, DOCX)], "attachments[0]"),
    ("extension does not match the type", [att("invoice.png", PDF, "application/pdf")], "attachments[0]"),
    ("type not allowed", [att("a.zip", ZIP, "application/zip")], "attachments[0]"),
    ("executable type", [att("a.bin", EXE, "application/x-msdownload")], "attachments[0]"),
    ("text with NUL bytes", [att("a.txt", b"abc\x00def", "text/plain")], "attachments[0]"),
    ("text not UTF-8", [att("a.csv", b"\xff\xfe\xfa", "text/csv")], "attachments[0]"),
    ("content not base64", [{**att(), "content": "%%% not base64 %%%"}], "attachments[0].content"),
    ("content base64 with junk", [{**att(), "content": "JVBERi0x\nLjc="}], "attachments[0].content"),
    ("empty content", [att(content=b"")], "attachments[0].content"),
    ("oversize file", [att(content=PDF + b"\x00" * TEN_MB)], "attachments[0].content"),
    ("too many files", [att(f"f{i}.pdf") for i in range(11)], "attachments"),
    ("bad content id", [att("logo.png", PNG, "image/png", contentId="<evil>\r\n")], "attachments[0].contentId"),
    ("duplicate content ids", [att("a.png", PNG, "image/png", contentId="x")] * 2, "attachments"),
    ("a storage key from the caller", [att(storageKey="other-tenant/secret.pdf")], "attachments[0].storageKey"),
    ("a path field from the caller", [att(path="/etc/passwd")], "attachments[0].path"),
]  # fmt: skip


def test_there_are_at_least_30_hostile_cases() -> None:
    assert len(HOSTILE) >= 30


@pytest.mark.parametrize(("case", "attachments", "field"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_attachment_is_refused_naming_the_field(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, tmp_path: Path,
    case: str, attachments: list[dict[str, Any]], field: str,
) -> None:  # fmt: skip
    response = await api.post("/v1/messages", json=payload(*attachments), headers=tenant.headers)
    assert response.status_code == 422, (case, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/validation")
    assert field in [e["field"] for e in problem["errors"]], (case, problem["errors"])
    assert not _stored_files(container), "nothing is stored for a refused request"


def _stored_files(container: Container) -> list[Path]:
    root = container.settings.attachments_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_files_totalling_over_25_mb_are_refused_by_the_schema() -> None:
    # Over the API the 30 MB body limit answers first (413): 25 MB of files is 33 MB of base64.
    from pydantic import ValidationError

    from iep.messages.schemas import SendRequest
    from iep.messages.validation import problem_errors
    from iep.sending_domains.policy import SenderPolicy

    big = [att(f"f{i}.pdf", PDF + b"\x00" * (TEN_MB - 100)) for i in range(3)]
    senders = SenderPolicy(frozenset({"product.example"}), frozenset({"product.example"}), True)
    with pytest.raises(ValidationError) as raised:
        SendRequest.model_validate(payload(*big), context={"senders": senders})
    assert [e["field"] for e in problem_errors(raised.value)] == ["attachments"]
