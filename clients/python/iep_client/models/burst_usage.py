from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="BurstUsage")


@_attrs_define
class BurstUsage:
    """The token bucket: `available` messages may be sent at once now; it refills at `refillPerSecond`.

    Attributes:
        available (float | None):
        limit (int | None):
        refill_per_second (float | None):
    """

    available: float | None
    limit: int | None
    refill_per_second: float | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        available: float | None
        available = self.available

        limit: int | None
        limit = self.limit

        refill_per_second: float | None
        refill_per_second = self.refill_per_second

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "available": available,
                "limit": limit,
                "refillPerSecond": refill_per_second,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_available(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        available = _parse_available(d.pop("available"))

        def _parse_limit(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        limit = _parse_limit(d.pop("limit"))

        def _parse_refill_per_second(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        refill_per_second = _parse_refill_per_second(d.pop("refillPerSecond"))

        burst_usage = cls(
            available=available,
            limit=limit,
            refill_per_second=refill_per_second,
        )

        burst_usage.additional_properties = d
        return burst_usage

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
