from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.key_rotated_status import KeyRotatedStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.key_out import KeyOut


T = TypeVar("T", bound="KeyRotated")


@_attrs_define
class KeyRotated:
    """
    Attributes:
        created_at (datetime.datetime):
        key (str): `iep_<prefix>_<secret>`: shown once, here; only its hash is stored
        prefix (str):
        previous (KeyOut):
        scopes (list[str]):
        status (KeyRotatedStatus):
        expires_at (datetime.datetime | None | Unset):
        last_used_at (datetime.datetime | None | Unset): To the minute: use is recorded at most once a minute
        name (None | str | Unset):
        revoked_at (datetime.datetime | None | Unset):
        rotated_to (None | str | Unset): The prefix of its replacement
    """

    created_at: datetime.datetime
    key: str
    prefix: str
    previous: KeyOut
    scopes: list[str]
    status: KeyRotatedStatus
    expires_at: datetime.datetime | None | Unset = UNSET
    last_used_at: datetime.datetime | None | Unset = UNSET
    name: None | str | Unset = UNSET
    revoked_at: datetime.datetime | None | Unset = UNSET
    rotated_to: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.key_out import KeyOut  # noqa: PLC0415

        created_at = self.created_at.isoformat()

        key = self.key

        prefix = self.prefix

        previous = self.previous.to_dict()

        scopes = self.scopes

        status = self.status.value

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        last_used_at: None | str | Unset
        if isinstance(self.last_used_at, Unset):
            last_used_at = UNSET
        elif isinstance(self.last_used_at, datetime.datetime):
            last_used_at = self.last_used_at.isoformat()
        else:
            last_used_at = self.last_used_at

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        revoked_at: None | str | Unset
        if isinstance(self.revoked_at, Unset):
            revoked_at = UNSET
        elif isinstance(self.revoked_at, datetime.datetime):
            revoked_at = self.revoked_at.isoformat()
        else:
            revoked_at = self.revoked_at

        rotated_to: None | str | Unset
        if isinstance(self.rotated_to, Unset):
            rotated_to = UNSET
        else:
            rotated_to = self.rotated_to

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "createdAt": created_at,
                "key": key,
                "prefix": prefix,
                "previous": previous,
                "scopes": scopes,
                "status": status,
            }
        )
        if expires_at is not UNSET:
            field_dict["expiresAt"] = expires_at
        if last_used_at is not UNSET:
            field_dict["lastUsedAt"] = last_used_at
        if name is not UNSET:
            field_dict["name"] = name
        if revoked_at is not UNSET:
            field_dict["revokedAt"] = revoked_at
        if rotated_to is not UNSET:
            field_dict["rotatedTo"] = rotated_to

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.key_out import KeyOut  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        key = d.pop("key")

        prefix = d.pop("prefix")

        previous = KeyOut.from_dict(d.pop("previous"))

        scopes = cast(list[str], d.pop("scopes"))

        status = KeyRotatedStatus(d.pop("status"))

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

        def _parse_last_used_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_used_at_type_0 = datetime.datetime.fromisoformat(data)

                return last_used_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        last_used_at = _parse_last_used_at(d.pop("lastUsedAt", UNSET))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_revoked_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                revoked_at_type_0 = datetime.datetime.fromisoformat(data)

                return revoked_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        revoked_at = _parse_revoked_at(d.pop("revokedAt", UNSET))

        def _parse_rotated_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        rotated_to = _parse_rotated_to(d.pop("rotatedTo", UNSET))

        key_rotated = cls(
            created_at=created_at,
            key=key,
            prefix=prefix,
            previous=previous,
            scopes=scopes,
            status=status,
            expires_at=expires_at,
            last_used_at=last_used_at,
            name=name,
            revoked_at=revoked_at,
            rotated_to=rotated_to,
        )

        key_rotated.additional_properties = d
        return key_rotated

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
