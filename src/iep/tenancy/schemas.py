"""Request and response bodies of the keys API and the operator's tenants API (SPEC §3, S1, S2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from iep.tenancy.keys import SCOPES

Scope = Literal["send", "read", "admin"]
assert set(Scope.__args__) == SCOPES  # type: ignore[attr-defined]  # one list of scopes
MAX_GRACE_SECONDS = 30 * 24 * 3600
DEFAULT_GRACE_SECONDS = 3600


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class KeyCreate(_Body):
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    expires_at: datetime | None = Field(default=None, alias="expiresAt")
    name: str | None = Field(default=None, max_length=255)

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must carry a time zone, e.g. 2027-01-01T00:00:00Z")
        now = (info.context or {}).get("now")
        if now is not None and value <= now:
            raise ValueError("must be in the future")
        return value


class KeyRotate(_Body):
    grace_seconds: int = Field(
        default=DEFAULT_GRACE_SECONDS,
        ge=0,
        le=MAX_GRACE_SECONDS,
        alias="graceSeconds",
        description="How long the old key keeps working; 0 refuses it at once (within a second everywhere)",
    )


class KeyOut(_Out):
    prefix: str
    name: str | None = None
    scopes: list[str]
    status: Literal["active", "expired", "revoked"]
    created_at: datetime = Field(alias="createdAt")
    expires_at: datetime | None = Field(default=None, alias="expiresAt")
    last_used_at: datetime | None = Field(
        default=None, alias="lastUsedAt", description="To the minute: use is recorded at most once a minute"
    )
    revoked_at: datetime | None = Field(default=None, alias="revokedAt")
    rotated_to: str | None = Field(default=None, alias="rotatedTo", description="The prefix of its replacement")

    @classmethod
    def of(cls, row: dict[str, Any], now: datetime) -> KeyOut:
        return cls.model_validate({**_key_fields(row), "status": _status(row, now)})


class KeyCreated(KeyOut):
    key: str = Field(description="`iep_<prefix>_<secret>`: shown once, here; only its hash is stored")

    @classmethod
    def of_new(cls, row: dict[str, Any], full: str, now: datetime) -> KeyCreated:
        return cls.model_validate({**_key_fields(row), "status": _status(row, now), "key": full})


class KeyRotated(KeyCreated):
    previous: KeyOut = Field(description="The old key: it works until its `expiresAt`")


class KeyList(_Out):
    data: list[KeyOut]


def _key_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "prefix": row["key_prefix"],
        "name": row["name"],
        "scopes": row["scopes"],
        "createdAt": row["created_at"],
        "expiresAt": row["expires_at"],
        "lastUsedAt": row.get("last_used_at"),
        "revokedAt": row.get("revoked_at"),
        "rotatedTo": row.get("rotated_to"),
    }


def _status(row: dict[str, Any], now: datetime) -> str:
    if not row["active"]:
        return "revoked"
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return "expired"
    return "active"


class TenantCreate(_Body):
    name: str = Field(min_length=1, max_length=255)
    slug: str | None = Field(default=None, max_length=100)
    settings: dict[str, Any] = Field(default_factory=dict)
    sender_domains: list[str] = Field(default_factory=list, alias="senderDomains", max_length=100)


class TenantUpdate(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    settings: dict[str, Any] | None = Field(
        default=None,
        description="Merged into the stored settings at the top level; a key set to null is removed",
    )


class TenantOut(_Out):
    id: uuid.UUID
    name: str
    slug: str
    settings: dict[str, Any]
    active: bool
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    requeued: int | None = Field(
        default=None, description="On activation: messages held during the suspension, handed back to the queue"
    )

    @classmethod
    def of(cls, row: dict[str, Any]) -> TenantOut:
        return cls.model_validate(
            {
                "id": row["id"],
                "name": row["name"],
                "slug": row["slug"],
                "settings": row["settings"] or {},
                "active": row["active"],
                "createdAt": row["created_at"],
                "updatedAt": row["updated_at"],
                "requeued": row.get("requeued"),
            }
        )


class TenantList(_Out):
    data: list[TenantOut]
