from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    BinaryIO,
    Generator,
    Literal,
    TextIO,
    TypeVar,
    cast,
)

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="SuppressionIn")


@_attrs_define
class SuppressionIn:
    """`POST /v1/suppressions`. Validation context: `now` (datetime), for the expiry.

    Attributes:
        email (str):
        expires_at (datetime.datetime | None | Unset):
        reason (Literal['manual'] | Unset):  Default: 'manual'.
    """

    email: str
    expires_at: datetime.datetime | None | Unset = UNSET
    reason: Literal["manual"] | Unset = "manual"

    def to_dict(self) -> dict[str, Any]:
        email = self.email

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "email": email,
            }
        )
        if expires_at is not UNSET:
            field_dict["expiresAt"] = expires_at
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        email = d.pop("email")

        def _parse_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        expires_at = _parse_expires_at(d.pop("expiresAt", UNSET))

        reason = cast(Literal["manual"] | Unset, d.pop("reason", UNSET))
        if reason != "manual" and not isinstance(reason, Unset):
            raise ValueError(f"reason must match const 'manual', got '{reason}'")

        suppression_in = cls(
            email=email,
            expires_at=expires_at,
            reason=reason,
        )

        return suppression_in
