from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.record_out_purpose import RecordOutPurpose
from ..models.record_out_type import RecordOutType
from ..types import UNSET, Unset

T = TypeVar("T", bound="RecordOut")


@_attrs_define
class RecordOut:
    """A record to publish: `type` at `name` with `value`.

    Attributes:
        name (str):
        purpose (RecordOutPurpose):
        required (bool): needed for the domain to be verified (DMARC is advised, not required)
        type_ (RecordOutType):
        value (None | str): null only when the domain has no DKIM key on file
    """

    name: str
    purpose: RecordOutPurpose
    required: bool
    type_: RecordOutType
    value: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        purpose = self.purpose.value

        required = self.required

        type_ = self.type_.value

        value: None | str
        value = self.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "purpose": purpose,
                "required": required,
                "type": type_,
                "value": value,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        purpose = RecordOutPurpose(d.pop("purpose"))

        required = d.pop("required")

        type_ = RecordOutType(d.pop("type"))

        def _parse_value(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        value = _parse_value(d.pop("value"))

        record_out = cls(
            name=name,
            purpose=purpose,
            required=required,
            type_=type_,
            value=value,
        )

        record_out.additional_properties = d
        return record_out

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
