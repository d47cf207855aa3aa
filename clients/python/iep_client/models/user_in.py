from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="UserIn")


@_attrs_define
class UserIn:
    """`POST /v1/users`: a taken `primary` is given the first free numeric suffix; a taken secondary is refused.

    Attributes:
        name (str):
        primary (str):
        secondaries (list[str] | Unset):
    """

    name: str
    primary: str
    secondaries: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        primary = self.primary

        secondaries: list[str] | Unset = UNSET
        if not isinstance(self.secondaries, Unset):
            secondaries = self.secondaries

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "primary": primary,
            }
        )
        if secondaries is not UNSET:
            field_dict["secondaries"] = secondaries

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        primary = d.pop("primary")

        secondaries = cast(list[str], d.pop("secondaries", UNSET))

        user_in = cls(
            name=name,
            primary=primary,
            secondaries=secondaries,
        )

        return user_in
