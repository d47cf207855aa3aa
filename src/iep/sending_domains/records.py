"""The DNS records a tenant publishes for a sender domain (S5), and which of them verification requires.

- SPF, TXT at the domain: `v=spf1 include:<SPF_INCLUDE> ~all` (the include merged into an existing record).
- DKIM, TXT at `<selector>._domainkey.<domain>`: the public half of the key IEP signs the domain's mail with.
- Return path, CNAME `bounces.<domain>` → BOUNCE_DOMAIN: the tenant's own name for the bounce mailbox, so
  bounces reach IEP's `smtp` role and SPF for that name is IEP's.
- DMARC, TXT at `_dmarc.<domain>`: reported (with its policy) but not required; see docs/sending-domains.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from iep.config import Settings

RETURN_PATH_LABEL = "bounces"
SUGGESTED_DMARC = "v=DMARC1; p=none"


class Purpose(StrEnum):
    SPF = "spf"
    DKIM = "dkim"
    RETURN_PATH = "return_path"
    DMARC = "dmarc"


@dataclass(frozen=True, slots=True)
class DnsPlan:
    """The platform's side of the records: what SPF includes and where the return path points."""

    spf_include: str
    bounce_domain: str

    @classmethod
    def from_settings(cls, settings: Settings) -> DnsPlan:
        return cls(spf_include=settings.spf_include_domain, bounce_domain=settings.platform_bounce_domain)


@dataclass(frozen=True, slots=True)
class Record:
    purpose: Purpose
    type: str
    name: str
    value: str | None  # None: the domain has no DKIM key on file, so no value can be given
    required: bool


def dkim_value(public_key_b64: str) -> str:
    return f"v=DKIM1; k=rsa; p={public_key_b64}"


def records_for(domain: str, *, selector: str | None, public_key: str | None, plan: DnsPlan) -> list[Record]:
    dkim_name = f"{selector}._domainkey.{domain}" if selector else f"<selector>._domainkey.{domain}"
    return [
        Record(Purpose.SPF, "TXT", domain, f"v=spf1 include:{plan.spf_include} ~all", required=True),
        Record(Purpose.DKIM, "TXT", dkim_name, dkim_value(public_key) if public_key else None, required=True),
        Record(Purpose.RETURN_PATH, "CNAME", f"{RETURN_PATH_LABEL}.{domain}", plan.bounce_domain, required=True),
        Record(Purpose.DMARC, "TXT", f"_dmarc.{domain}", SUGGESTED_DMARC, required=False),
    ]
