from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="UserUpdate")


@_attrs_define
class UserUpdate:
    """`PUT /v1/users/{id}`: a new `primary` moves the old one to the secondaries; `secondaries` listed are added.

    An address stays with its user for good (never handed to anyone else), so none is ever removed.

        Attributes:
            name (None | str | Unset):
            primary (None | str | Unset):
            secondaries (list[str] | Unset):
    """

    name: None | str | Unset = UNSET
    primary: None | str | Unset = UNSET
    secondaries: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        primary: None | str | Unset
        if isinstance(self.primary, Unset):
            primary = UNSET
        else:
            primary = self.primary

        secondaries: list[str] | Unset = UNSET
        if not isinstance(self.secondaries, Unset):
            secondaries = self.secondaries

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if primary is not UNSET:
            field_dict["primary"] = primary
        if secondaries is not UNSET:
            field_dict["secondaries"] = secondaries

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_primary(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        primary = _parse_primary(d.pop("primary", UNSET))

        secondaries = cast(list[str], d.pop("secondaries", UNSET))

        user_update = cls(
            name=name,
            primary=primary,
            secondaries=secondaries,
        )

        return user_update
