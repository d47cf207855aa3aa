"""Check each published record against DNS and say, per record, what was expected, what was found and why
it is not right yet. A domain is verified when every required record is."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from iep.sending_domains.dns import DnsClient, Lookup
from iep.sending_domains.records import Purpose, Record

_SPF = re.compile(r"^v=spf1(\s|$)", re.IGNORECASE)
_DMARC = re.compile(r"^v=DMARC1\s*(;|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Check:
    record: Record
    found: tuple[str, ...]
    ok: bool
    error: str | None = None
    detail: str | None = None
    policy: str | None = None  # DMARC's p=, when a record was found

    def as_json(self) -> dict[str, Any]:
        r = self.record
        return {
            "purpose": r.purpose.value,
            "type": r.type,
            "name": r.name,
            "expected": r.value,
            "found": list(self.found),
            "ok": self.ok,
            "required": r.required,
            "error": self.error,
            "detail": self.detail,
            "policy": self.policy,
        }


def is_verified(checks: list[Check]) -> bool:
    return bool(checks) and all(c.ok for c in checks if c.record.required)


async def run_checks(records: list[Record], dns: DnsClient) -> list[Check]:
    return list(await asyncio.gather(*(_check(r, dns) for r in records)))


async def _check(record: Record, dns: DnsClient) -> Check:
    if record.purpose is Purpose.RETURN_PATH:
        assert record.value is not None  # the bounce domain is always known
        return _return_path(record, await dns.cname_chain(record.name, until=record.value))
    if record.purpose is Purpose.DKIM and record.value is None:
        return Check(record, (), ok=False, detail="no DKIM key is on file for this domain: delete it and add it again")
    found = await dns.txt(record.name)
    if found.error:
        return _failed(record, found)
    if record.purpose is Purpose.SPF:
        return _spf(record, found)
    if record.purpose is Purpose.DKIM:
        return _dkim(record, found)
    return _dmarc(record, found)


def _failed(record: Record, found: Lookup) -> Check:
    via = f" (via CNAME {' → '.join(found.chain)})" if found.chain else ""
    if record.purpose is Purpose.DMARC:
        detail = f"no DMARC record: {found.error}{via}; publish at least `{record.value}`"
    else:
        detail = f"{record.type} lookup of {record.name} failed: {found.error}{via}"
    return Check(record, found.chain, ok=False, error=found.error, detail=detail)


def _spf(record: Record, found: Lookup) -> Check:
    spf = tuple(v for v in found.values if _SPF.match(v))
    include = (record.value or "").split()[1].lower()  # `include:<SPF_INCLUDE>`
    if not spf:
        return Check(record, spf, ok=False, detail=f"no SPF record (a TXT starting with v=spf1) at {record.name}")
    if len(spf) > 1:
        return Check(
            record,
            spf,
            ok=False,
            detail=f"{len(spf)} SPF records: receivers treat that as a permanent error (RFC 7208 §3.2); "
            f"merge them into one that has `{include}`",
        )
    terms = {t.lstrip("+?~-").lower().rstrip(".") for t in spf[0].split()[1:]}
    if include not in terms:
        return Check(record, spf, ok=False, detail=f"the SPF record lacks `{include}`: add it before the `all` term")
    return Check(record, spf, ok=True)


def _dkim_tags(value: str) -> dict[str, str]:
    tags = {}
    for part in value.split(";"):
        key, eq, val = part.partition("=")
        if eq:
            tags[key.strip().lower()] = "".join(val.split())  # folding whitespace is allowed inside values
    return tags


def _dkim(record: Record, found: Lookup) -> Check:
    expected = _dkim_tags(record.value or "")["p"]
    keys = [t for t in (_dkim_tags(v) for v in found.values) if "p" in t]
    if len(found.values) > 1:
        return Check(record, found.values, ok=False, detail=f"{len(found.values)} TXT records: publish exactly one")
    if not keys:
        return Check(record, found.values, ok=False, detail="no DKIM key (no p= tag) in the record")
    tags = keys[0]
    published = tags["p"]
    if tags.get("v", "DKIM1") != "DKIM1":
        detail = f"v={tags['v']}: a DKIM key record says v=DKIM1 or leaves v= out"
    elif tags.get("k", "rsa").lower() != "rsa":
        detail = f"k={tags['k']}: IEP's key is k=rsa"
    elif published == expected:
        return Check(record, found.values, ok=True)
    elif not published:
        detail = "p= is empty: the key is revoked"
    elif expected.startswith(published):
        detail = (
            f"p= is truncated ({len(published)} of {len(expected)} characters): a TXT string holds at most 255 "
            "characters, so publish the value as several strings of one record rather than cutting it"
        )
    else:
        detail = "p= is a different key than the one IEP signs this domain's mail with"
    return Check(record, found.values, ok=False, detail=detail)


def _dmarc(record: Record, found: Lookup) -> Check:
    dmarc = tuple(v for v in found.values if _DMARC.match(v))
    if not dmarc:
        detail = f"no DMARC record (a TXT starting with v=DMARC1); publish at least `{record.value}`"
        return Check(record, dmarc, ok=False, detail=detail)
    if len(dmarc) > 1:
        detail = f"{len(dmarc)} DMARC records: receivers then apply none of them (RFC 7489 §6.6.3)"
        return Check(record, dmarc, ok=False, detail=detail)
    policy = _dkim_tags(dmarc[0]).get("p")
    return Check(record, dmarc, ok=True, policy=policy, detail=f"policy p={policy}" if policy else None)


def _return_path(record: Record, found: Lookup) -> Check:
    if found.chain and found.chain[-1] == record.value:
        return Check(record, found.chain, ok=True)
    if found.error:
        return _failed(record, found)
    return Check(
        record,
        found.chain,
        ok=False,
        detail=f"{record.name} is a CNAME to {found.chain[-1]}, not to {record.value}",
    )
