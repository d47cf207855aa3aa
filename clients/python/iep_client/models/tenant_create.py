from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.tenant_create_settings import TenantCreateSettings


T = TypeVar("T", bound="TenantCreate")


@_attrs_define
class TenantCreate:
    """
    Attributes:
        name (str):
        sender_domains (list[str] | Unset):
        settings (TenantCreateSettings | Unset):
        slug (None | str | Unset):
    """

    name: str
    sender_domains: list[str] | Unset = UNSET
    settings: TenantCreateSettings | Unset = UNSET
    slug: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.tenant_create_settings import TenantCreateSettings  # noqa: PLC0415

        name = self.name

        sender_domains: list[str] | Unset = UNSET
        if not isinstance(self.sender_domains, Unset):
            sender_domains = self.sender_domains

        settings: dict[str, Any] | Unset = UNSET
        if not isinstance(self.settings, Unset):
            settings = self.settings.to_dict()

        slug: None | str | Unset
        if isinstance(self.slug, Unset):
            slug = UNSET
        else:
            slug = self.slug

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if sender_domains is not UNSET:
            field_dict["senderDomains"] = sender_domains
        if settings is not UNSET:
            field_dict["settings"] = settings
        if slug is not UNSET:
            field_dict["slug"] = slug

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tenant_create_settings import TenantCreateSettings  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        sender_domains = cast(list[str], d.pop("senderDomains", UNSET))

        _settings = d.pop("settings", UNSET)
        settings: TenantCreateSettings | Unset
        if isinstance(_settings, Unset):
            settings = UNSET
        else:
            settings = TenantCreateSettings.from_dict(_settings)

        def _parse_slug(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        slug = _parse_slug(d.pop("slug", UNSET))

        tenant_create = cls(
            name=name,
            sender_domains=sender_domains,
            settings=settings,
            slug=slug,
        )

        return tenant_create
