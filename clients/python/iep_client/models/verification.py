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


T = TypeVar("T", bound="Verification")


@_attrs_define
class Verification:
    """
    Attributes:
        checked_at (datetime.datetime):
        domain (str):
        id (UUID):
        records (list[CheckOut]):
        verified (bool):
    """

    checked_at: datetime.datetime
    domain: str
    id: UUID
    records: list[CheckOut]
    verified: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.check_out import CheckOut  # noqa: PLC0415

        checked_at = self.checked_at.isoformat()

        domain = self.domain

        id = str(self.id)

        records = []
        for records_item_data in self.records:
            records_item = records_item_data.to_dict()
            records.append(records_item)

        verified = self.verified

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checkedAt": checked_at,
                "domain": domain,
                "id": id,
                "records": records,
                "verified": verified,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.check_out import CheckOut  # noqa: PLC0415

        d = dict(src_dict)
        checked_at = datetime.datetime.fromisoformat(d.pop("checkedAt"))

        domain = d.pop("domain")

        id = UUID(d.pop("id"))

        records = []
        _records = d.pop("records")
        for records_item_data in _records:
            records_item = CheckOut.from_dict(records_item_data)

            records.append(records_item)

        verified = d.pop("verified")

        verification = cls(
            checked_at=checked_at,
            domain=domain,
            id=id,
            records=records,
            verified=verified,
        )

        verification.additional_properties = d
        return verification

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
