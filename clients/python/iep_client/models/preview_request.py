from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.preview_request_template_data_type_0 import (
        PreviewRequestTemplateDataType0,
    )


T = TypeVar("T", bound="PreviewRequest")


@_attrs_define
class PreviewRequest:
    """
    Attributes:
        template_data (None | PreviewRequestTemplateDataType0 | Unset):
    """

    template_data: None | PreviewRequestTemplateDataType0 | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.preview_request_template_data_type_0 import (
            PreviewRequestTemplateDataType0,  # noqa: PLC0415
        )

        template_data: dict[str, Any] | None | Unset
        if isinstance(self.template_data, Unset):
            template_data = UNSET
        elif isinstance(self.template_data, PreviewRequestTemplateDataType0):
            template_data = self.template_data.to_dict()
        else:
            template_data = self.template_data

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if template_data is not UNSET:
            field_dict["templateData"] = template_data

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.preview_request_template_data_type_0 import (
            PreviewRequestTemplateDataType0,  # noqa: PLC0415
        )

        d = dict(src_dict)

        def _parse_template_data(data: object) -> None | PreviewRequestTemplateDataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                template_data_type_0 = PreviewRequestTemplateDataType0.from_dict(data)

                return template_data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PreviewRequestTemplateDataType0 | Unset, data)

        template_data = _parse_template_data(d.pop("templateData", UNSET))

        preview_request = cls(
            template_data=template_data,
        )

        return preview_request
