"""Request and response bodies of the sender domains API (SPEC §3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RecordPurpose = Literal["spf", "dkim", "return_path", "dmarc"]


class DomainCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1, max_length=300, description="e.g. `example.com` or `bücher.example`")


class RecordOut(BaseModel):
    """A record to publish: `type` at `name` with `value`."""

    purpose: RecordPurpose
    type: Literal["TXT", "CNAME"]
    name: str
    value: str | None = Field(description="null only when the domain has no DKIM key on file")
    required: bool = Field(description="needed for the domain to be verified (DMARC is advised, not required)")


class CheckOut(BaseModel):
    """One record as DNS showed it at verification."""

    purpose: RecordPurpose
    type: Literal["TXT", "CNAME"]
    name: str
    expected: str | None
    found: list[str] = Field(description="the matching records, or the CNAME targets followed")
    ok: bool
    required: bool
    error: str | None = Field(description="NXDOMAIN, timeout, no answer, CNAME loop, SERVFAIL, …; null if DNS answered")
    detail: str | None = Field(description="why the record is not right yet, or a warning")
    policy: str | None = Field(default=None, description="DMARC: the published p= policy")


class DomainOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    domain: str = Field(description="lower-case, IDNA A-labels, no trailing dot")
    verified: bool
    verified_at: datetime | None = Field(alias="verifiedAt")
    checked_at: datetime | None = Field(alias="checkedAt")
    created_at: datetime = Field(alias="createdAt")
    records: list[RecordOut]
    last_check: list[CheckOut] | None = Field(alias="lastCheck", description="the last verification, per record")


class DomainList(BaseModel):
    data: list[DomainOut]


class Verification(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    domain: str
    verified: bool
    checked_at: datetime = Field(alias="checkedAt")
    records: list[CheckOut]
