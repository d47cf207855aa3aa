"""The ~2 KB send request every accept and end-to-end run posts, and the same email as MIME for the SMTP ceiling."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import orjson

from bench.scratch import SENDER_DOMAIN

_ROW = (
    '<tr><td style="padding:4px 8px;border-bottom:1px solid #eee">{item}</td>'
    '<td style="padding:4px 8px;text-align:right">{price}</td></tr>'
)
_HTML = (
    '<!doctype html><html><body style="font-family:Helvetica,Arial,sans-serif;color:#222">'
    '<h1 style="font-size:20px">Thanks for your order, {{name}}</h1>'
    "<p>Order <strong>{{order}}</strong> is confirmed and will ship within two working days. "
    "You can follow it from your account page at any time.</p>"
    '<table style="border-collapse:collapse;width:100%">'
    + "".join(_ROW.format(item=f"Item number {i} of the order", price=f"{i * 7}.90 EUR") for i in range(1, 6))
    + '</table><p style="font-size:12px;color:#777">You receive this email because you placed an order. '
    "Questions? Reply to this message and a person will answer.</p></body></html>"
)
_TEXT = (
    "Thanks for your order, {{name}}.\n\nOrder {{order}} is confirmed and will ship within two working days. "
    "You can follow it from your account page at any time.\n\n"
    + "".join(f"- Item number {i} of the order: {i * 7}.90 EUR\n" for i in range(1, 6))
    + "\nQuestions? Reply to this message and a person will answer.\n"
)


def send_request() -> dict[str, Any]:
    return {
        "to": ["customer@example.com"],
        "from": {"email": f"orders@{SENDER_DOMAIN}", "name": "Bench Shop"},
        "subject": "Your order {{order}} is confirmed",
        "htmlBody": _HTML,
        "textBody": _TEXT,
        "variables": {"name": "Ada Lovelace", "order": "A-1042"},
        "tags": ["receipt", "bench"],
        "metadata": {"category": "receipt", "shop": "bench"},
    }


def send_body() -> bytes:
    return orjson.dumps(send_request())


def mime(ident: str) -> EmailMessage:
    """What the worker hands to SMTP for the request above, near enough in size and shape."""
    msg = EmailMessage()
    msg["From"] = f"Bench Shop <orders@{SENDER_DOMAIN}>"
    msg["To"] = "customer@example.com"
    msg["Subject"] = "Your order A-1042 is confirmed"
    msg["Message-ID"] = f"<{ident}@bench.example>"
    msg["X-IEP-Message-Id"] = ident
    msg.set_content(_TEXT.replace("{{name}}", "Ada Lovelace").replace("{{order}}", "A-1042"))
    msg.add_alternative(_HTML.replace("{{name}}", "Ada Lovelace").replace("{{order}}", "A-1042"), subtype="html")
    return msg
