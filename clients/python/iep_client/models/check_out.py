from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.check_out_purpose import CheckOutPurpose
from ..models.check_out_type import CheckOutType
from ..types import UNSET, Unset

T = TypeVar("T", bound="CheckOut")


@_attrs_define
class CheckOut:
    """One record as DNS showed it at verification.

    Attributes:
        detail (None | str): why the record is not right yet, or a warning
        error (None | str): NXDOMAIN, timeout, no answer, CNAME loop, SERVFAIL, …; null if DNS answered
        expected (None | str):
        found (list[str]): the matching records, or the CNAME targets followed
        name (str):
        ok (bool):
        purpose (CheckOutPurpose):
        required (bool):
        type_ (CheckOutType):
        policy (None | str | Unset): DMARC: the published p= policy
    """

    detail: None | str
    error: None | str
    expected: None | str
    found: list[str]
    name: str
    ok: bool
    purpose: CheckOutPurpose
    required: bool
    type_: CheckOutType
    policy: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        detail: None | str
        detail = self.detail

        error: None | str
        error = self.error

        expected: None | str
        expected = self.expected

        found = self.found

        name = self.name

        ok = self.ok

        purpose = self.purpose.value

        required = self.required

        type_ = self.type_.value

        policy: None | str | Unset
        if isinstance(self.policy, Unset):
            policy = UNSET
        else:
            policy = self.policy

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "detail": detail,
                "error": error,
                "expected": expected,
                "found": found,
                "name": name,
                "ok": ok,
                "purpose": purpose,
                "required": required,
                "type": type_,
            }
        )
        if policy is not UNSET:
            field_dict["policy"] = policy

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_detail(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        detail = _parse_detail(d.pop("detail"))

        def _parse_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error = _parse_error(d.pop("error"))

        def _parse_expected(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        expected = _parse_expected(d.pop("expected"))

        found = cast(list[str], d.pop("found"))

        name = d.pop("name")

        ok = d.pop("ok")

        purpose = CheckOutPurpose(d.pop("purpose"))

        required = d.pop("required")

        type_ = CheckOutType(d.pop("type"))

        def _parse_policy(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        policy = _parse_policy(d.pop("policy", UNSET))

        check_out = cls(
            detail=detail,
            error=error,
            expected=expected,
            found=found,
            name=name,
            ok=ok,
            purpose=purpose,
            required=required,
            type_=type_,
            policy=policy,
        )

        check_out.additional_properties = d
        return check_out

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
