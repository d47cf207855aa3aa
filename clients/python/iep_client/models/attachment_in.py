from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="AttachmentIn")


@_attrs_define
class AttachmentIn:
    """One file, base64 in the request (D-4); decoded and checked here so a 422 names the exact field.

    Attributes:
        content (str):
        content_type (str):
        filename (str):
        content_id (None | str | Unset):
    """

    content: str
    content_type: str
    filename: str
    content_id: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        content = self.content

        content_type = self.content_type

        filename = self.filename

        content_id: None | str | Unset
        if isinstance(self.content_id, Unset):
            content_id = UNSET
        else:
            content_id = self.content_id

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "content": content,
                "contentType": content_type,
                "filename": filename,
            }
        )
        if content_id is not UNSET:
            field_dict["contentId"] = content_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        content = d.pop("content")

        content_type = d.pop("contentType")

        filename = d.pop("filename")

        def _parse_content_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        content_id = _parse_content_id(d.pop("contentId", UNSET))

        attachment_in = cls(
            content=content,
            content_type=content_type,
            filename=filename,
            content_id=content_id,
        )

        return attachment_in
