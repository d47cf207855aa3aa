from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.tag import Tag


T = TypeVar("T", bound="EmailOut")


@_attrs_define
class EmailOut:
    """`GET /emails/{id}`.

    Attributes:
        bcc (list[str]):
        cc (list[str]):
        created_at (datetime.datetime):
        from_ (str):
        html (None | str):
        id (str):
        last_event (str):
        reply_to (list[str] | None):
        scheduled_at (datetime.datetime | None):
        subject (str):
        tags (list[Tag]):
        text (None | str):
        to (list[str]):
        object_ (str | Unset):  Default: 'email'.
    """

    bcc: list[str]
    cc: list[str]
    created_at: datetime.datetime
    from_: str
    html: None | str
    id: str
    last_event: str
    reply_to: list[str] | None
    scheduled_at: datetime.datetime | None
    subject: str
    tags: list[Tag]
    text: None | str
    to: list[str]
    object_: str | Unset = "email"
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.tag import Tag  # noqa: PLC0415

        bcc = self.bcc

        cc = self.cc

        created_at = self.created_at.isoformat()

        from_ = self.from_

        html: None | str
        html = self.html

        id = self.id

        last_event = self.last_event

        reply_to: list[str] | None
        if isinstance(self.reply_to, list):
            reply_to = self.reply_to

        else:
            reply_to = self.reply_to

        scheduled_at: None | str
        if isinstance(self.scheduled_at, datetime.datetime):
            scheduled_at = self.scheduled_at.isoformat()
        else:
            scheduled_at = self.scheduled_at

        subject = self.subject

        tags = []
        for tags_item_data in self.tags:
            tags_item = tags_item_data.to_dict()
            tags.append(tags_item)

        text: None | str
        text = self.text

        to = self.to

        object_ = self.object_

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bcc": bcc,
                "cc": cc,
                "created_at": created_at,
                "from": from_,
                "html": html,
                "id": id,
                "last_event": last_event,
                "reply_to": reply_to,
                "scheduled_at": scheduled_at,
                "subject": subject,
                "tags": tags,
                "text": text,
                "to": to,
            }
        )
        if object_ is not UNSET:
            field_dict["object"] = object_

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tag import Tag  # noqa: PLC0415

        d = dict(src_dict)
        bcc = cast(list[str], d.pop("bcc"))

        cc = cast(list[str], d.pop("cc"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        from_ = d.pop("from")

        def _parse_html(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        html = _parse_html(d.pop("html"))

        id = d.pop("id")

        last_event = d.pop("last_event")

        def _parse_reply_to(data: object) -> list[str] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                reply_to_type_0 = cast(list[str], data)

                return reply_to_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None, data)

        reply_to = _parse_reply_to(d.pop("reply_to"))

        def _parse_scheduled_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                scheduled_at_type_0 = datetime.datetime.fromisoformat(data)

                return scheduled_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        scheduled_at = _parse_scheduled_at(d.pop("scheduled_at"))

        subject = d.pop("subject")

        tags = []
        _tags = d.pop("tags")
        for tags_item_data in _tags:
            tags_item = Tag.from_dict(tags_item_data)

            tags.append(tags_item)

        def _parse_text(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        text = _parse_text(d.pop("text"))

        to = cast(list[str], d.pop("to"))

        object_ = d.pop("object", UNSET)

        email_out = cls(
            bcc=bcc,
            cc=cc,
            created_at=created_at,
            from_=from_,
            html=html,
            id=id,
            last_event=last_event,
            reply_to=reply_to,
            scheduled_at=scheduled_at,
            subject=subject,
            tags=tags,
            text=text,
            to=to,
            object_=object_,
        )

        email_out.additional_properties = d
        return email_out

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
