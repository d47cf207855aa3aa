from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.check_out import CheckOut
    from ..models.record_out import RecordOut


T = TypeVar("T", bound="DomainOut")


@_attrs_define
class DomainOut:
    """
    Attributes:
        checked_at (datetime.datetime | None):
        created_at (datetime.datetime):
        domain (str): lower-case, IDNA A-labels, no trailing dot
        id (UUID):
        last_check (list[CheckOut] | None): the last verification, per record
        records (list[RecordOut]):
        verified (bool):
        verified_at (datetime.datetime | None):
    """

    checked_at: datetime.datetime | None
    created_at: datetime.datetime
    domain: str
    id: UUID
    last_check: list[CheckOut] | None
    records: list[RecordOut]
    verified: bool
    verified_at: datetime.datetime | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.check_out import CheckOut  # noqa: PLC0415
        from ..models.record_out import RecordOut  # noqa: PLC0415

        checked_at: None | str
        if isinstance(self.checked_at, datetime.datetime):
            checked_at = self.checked_at.isoformat()
        else:
            checked_at = self.checked_at

        created_at = self.created_at.isoformat()

        domain = self.domain

        id = str(self.id)

        last_check: list[dict[str, Any]] | None
        if isinstance(self.last_check, list):
            last_check = []
            for last_check_type_0_item_data in self.last_check:
                last_check_type_0_item = last_check_type_0_item_data.to_dict()
                last_check.append(last_check_type_0_item)

        else:
            last_check = self.last_check

        records = []
        for records_item_data in self.records:
            records_item = records_item_data.to_dict()
            records.append(records_item)

        verified = self.verified

        verified_at: None | str
        if isinstance(self.verified_at, datetime.datetime):
            verified_at = self.verified_at.isoformat()
        else:
            verified_at = self.verified_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checkedAt": checked_at,
                "createdAt": created_at,
                "domain": domain,
                "id": id,
                "lastCheck": last_check,
                "records": records,
                "verified": verified,
                "verifiedAt": verified_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.check_out import CheckOut  # noqa: PLC0415
        from ..models.record_out import RecordOut  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_checked_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                checked_at_type_0 = datetime.datetime.fromisoformat(data)

                return checked_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        checked_at = _parse_checked_at(d.pop("checkedAt"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        domain = d.pop("domain")

        id = UUID(d.pop("id"))

        def _parse_last_check(data: object) -> list[CheckOut] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                last_check_type_0 = []
                _last_check_type_0 = data
                for last_check_type_0_item_data in _last_check_type_0:
                    last_check_type_0_item = CheckOut.from_dict(last_check_type_0_item_data)

                    last_check_type_0.append(last_check_type_0_item)

                return last_check_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[CheckOut] | None, data)

        last_check = _parse_last_check(d.pop("lastCheck"))

        records = []
        _records = d.pop("records")
        for records_item_data in _records:
            records_item = RecordOut.from_dict(records_item_data)

            records.append(records_item)

        verified = d.pop("verified")

        def _parse_verified_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                verified_at_type_0 = datetime.datetime.fromisoformat(data)

                return verified_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        verified_at = _parse_verified_at(d.pop("verifiedAt"))

        domain_out = cls(
            checked_at=checked_at,
            created_at=created_at,
            domain=domain,
            id=id,
            last_check=last_check,
            records=records,
            verified=verified,
            verified_at=verified_at,
        )

        domain_out.additional_properties = d
        return domain_out

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
