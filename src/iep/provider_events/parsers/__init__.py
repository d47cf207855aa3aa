"""One module per provider: verify the request first, then map its events to the vocabulary."""

from __future__ import annotations

from iep.provider_events.parsers import mailgun, postmark, resend, sendgrid, ses
from iep.provider_events.parsers.base import Parser

PARSERS: dict[str, Parser] = {
    "ses": ses.verify_and_parse,
    "sendgrid": sendgrid.verify_and_parse,
    "mailgun": mailgun.verify_and_parse,
    "postmark": postmark.verify_and_parse,
    "resend": resend.verify_and_parse,
}
