from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.burst_usage import BurstUsage
    from ..models.window_usage import WindowUsage


T = TypeVar("T", bound="Usage")


@_attrs_define
class Usage:
    """
    Attributes:
        burst (BurstUsage): The token bucket: `available` messages may be sent at once now; it refills at
            `refillPerSecond`.
        day (WindowUsage): Messages accepted in the current calendar window (UTC) beside its limit; `limit` null =
            unlimited.
        hour (WindowUsage): Messages accepted in the current calendar window (UTC) beside its limit; `limit` null =
            unlimited.
        minute (WindowUsage): Messages accepted in the current calendar window (UTC) beside its limit; `limit` null =
            unlimited.
        month (WindowUsage): Messages accepted in the current calendar window (UTC) beside its limit; `limit` null =
            unlimited.
        tenant (str):
    """

    burst: BurstUsage
    day: WindowUsage
    hour: WindowUsage
    minute: WindowUsage
    month: WindowUsage
    tenant: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.burst_usage import BurstUsage  # noqa: PLC0415
        from ..models.window_usage import WindowUsage  # noqa: PLC0415

        burst = self.burst.to_dict()

        day = self.day.to_dict()

        hour = self.hour.to_dict()

        minute = self.minute.to_dict()

        month = self.month.to_dict()

        tenant = self.tenant

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "burst": burst,
                "day": day,
                "hour": hour,
                "minute": minute,
                "month": month,
                "tenant": tenant,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.burst_usage import BurstUsage  # noqa: PLC0415
        from ..models.window_usage import WindowUsage  # noqa: PLC0415

        d = dict(src_dict)
        burst = BurstUsage.from_dict(d.pop("burst"))

        day = WindowUsage.from_dict(d.pop("day"))

        hour = WindowUsage.from_dict(d.pop("hour"))

        minute = WindowUsage.from_dict(d.pop("minute"))

        month = WindowUsage.from_dict(d.pop("month"))

        tenant = d.pop("tenant")

        usage = cls(
            burst=burst,
            day=day,
            hour=hour,
            minute=minute,
            month=month,
            tenant=tenant,
        )

        usage.additional_properties = d
        return usage

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
