"""One richly featured message every provider test sends: display names, cc, bcc, reply-to, a custom header,
RFC 8058 unsubscribe, a file attachment and an inline image."""

from __future__ import annotations

import base64
import uuid

from iep.providers.base import Address, Attachment, OutgoingEmail

MESSAGE_ID = uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
UNSUBSCRIBE = "https://app.example.com/unsubscribe?m=01890a5d"


def rich_email(**overrides: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "message_id": MESSAGE_ID,
        "sender": Address("noreply@product.example", "Product X"),
        "to": ("ana@example.org", "bo@example.net"),
        "cc": ("manager@example.org",),
        "bcc": ("audit@example.org",),
        "reply_to": "support@product.example",
        "subject": "Your invoice — March",
        "html": '<p>Hello <img src="cid:logo"></p>',
        "text": "Hello",
        "headers": {"X-Campaign": "spring"},
        "attachments": (
            Attachment("invoice.pdf", PDF, "application/pdf"),
            Attachment("logo.png", PNG, "image/png", content_id="logo"),
        ),
        "list_unsubscribe": UNSUBSCRIBE,
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


EXPECTED_HEADERS = {
    "X-Campaign": "spring",
    "X-IEP-Message-Id": str(MESSAGE_ID),
    "List-Unsubscribe": f"<{UNSUBSCRIBE}>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
