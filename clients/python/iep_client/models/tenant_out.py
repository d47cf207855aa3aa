from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.tenant_out_settings import TenantOutSettings


T = TypeVar("T", bound="TenantOut")


@_attrs_define
class TenantOut:
    """
    Attributes:
        active (bool):
        created_at (datetime.datetime):
        id (UUID):
        name (str):
        settings (TenantOutSettings):
        slug (str):
        updated_at (datetime.datetime):
        requeued (int | None | Unset): On activation: messages held during the suspension, handed back to the queue
    """

    active: bool
    created_at: datetime.datetime
    id: UUID
    name: str
    settings: TenantOutSettings
    slug: str
    updated_at: datetime.datetime
    requeued: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.tenant_out_settings import TenantOutSettings  # noqa: PLC0415

        active = self.active

        created_at = self.created_at.isoformat()

        id = str(self.id)

        name = self.name

        settings = self.settings.to_dict()

        slug = self.slug

        updated_at = self.updated_at.isoformat()

        requeued: int | None | Unset
        if isinstance(self.requeued, Unset):
            requeued = UNSET
        else:
            requeued = self.requeued

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "active": active,
                "createdAt": created_at,
                "id": id,
                "name": name,
                "settings": settings,
                "slug": slug,
                "updatedAt": updated_at,
            }
        )
        if requeued is not UNSET:
            field_dict["requeued"] = requeued

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tenant_out_settings import TenantOutSettings  # noqa: PLC0415

        d = dict(src_dict)
        active = d.pop("active")

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        id = UUID(d.pop("id"))

        name = d.pop("name")

        settings = TenantOutSettings.from_dict(d.pop("settings"))

        slug = d.pop("slug")

        updated_at = datetime.datetime.fromisoformat(d.pop("updatedAt"))

        def _parse_requeued(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        requeued = _parse_requeued(d.pop("requeued", UNSET))

        tenant_out = cls(
            active=active,
            created_at=created_at,
            id=id,
            name=name,
            settings=settings,
            slug=slug,
            updated_at=updated_at,
            requeued=requeued,
        )

        tenant_out.additional_properties = d
        return tenant_out

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
