from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.send_alias_priority import SendAliasPriority
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.attachment_in import AttachmentIn
    from ..models.send_alias_headers import SendAliasHeaders
    from ..models.send_alias_metadata_type_0 import SendAliasMetadataType0
    from ..models.send_alias_props_type_0 import SendAliasPropsType0
    from ..models.send_alias_template_data_type_0 import SendAliasTemplateDataType0
    from ..models.sender import Sender


T = TypeVar("T", bound="SendAlias")


@_attrs_define
class SendAlias:
    """Seeds 000-002's `POST /v1/send`: `props` names the variables.

    Attributes:
        from_ (Sender):
        to (list[str]):
        attachments (list[AttachmentIn] | Unset):
        bcc (list[str] | Unset):
        cc (list[str] | Unset):
        headers (SendAliasHeaders | Unset):
        html_body (None | str | Unset):
        idempotency_key (None | str | Unset):
        metadata (None | SendAliasMetadataType0 | Unset):
        priority (SendAliasPriority | Unset):  Default: SendAliasPriority.NORMAL.
        props (None | SendAliasPropsType0 | Unset):
        reply_to (None | str | Unset):
        scheduled_at (datetime.datetime | None | Unset):
        subject (None | str | Unset):
        tags (list[str] | Unset):
        template (None | str | Unset):
        template_data (None | SendAliasTemplateDataType0 | Unset):
        text_body (None | str | Unset):
    """

    from_: Sender
    to: list[str]
    attachments: list[AttachmentIn] | Unset = UNSET
    bcc: list[str] | Unset = UNSET
    cc: list[str] | Unset = UNSET
    headers: SendAliasHeaders | Unset = UNSET
    html_body: None | str | Unset = UNSET
    idempotency_key: None | str | Unset = UNSET
    metadata: None | SendAliasMetadataType0 | Unset = UNSET
    priority: SendAliasPriority | Unset = SendAliasPriority.NORMAL
    props: None | SendAliasPropsType0 | Unset = UNSET
    reply_to: None | str | Unset = UNSET
    scheduled_at: datetime.datetime | None | Unset = UNSET
    subject: None | str | Unset = UNSET
    tags: list[str] | Unset = UNSET
    template: None | str | Unset = UNSET
    template_data: None | SendAliasTemplateDataType0 | Unset = UNSET
    text_body: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.attachment_in import AttachmentIn  # noqa: PLC0415
        from ..models.send_alias_headers import SendAliasHeaders  # noqa: PLC0415
        from ..models.send_alias_metadata_type_0 import SendAliasMetadataType0  # noqa: PLC0415
        from ..models.send_alias_props_type_0 import SendAliasPropsType0  # noqa: PLC0415
        from ..models.send_alias_template_data_type_0 import SendAliasTemplateDataType0  # noqa: PLC0415
        from ..models.sender import Sender  # noqa: PLC0415

        from_ = self.from_.to_dict()

        to = self.to

        attachments: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.attachments, Unset):
            attachments = []
            for attachments_item_data in self.attachments:
                attachments_item = attachments_item_data.to_dict()
                attachments.append(attachments_item)

        bcc: list[str] | Unset = UNSET
        if not isinstance(self.bcc, Unset):
            bcc = self.bcc

        cc: list[str] | Unset = UNSET
        if not isinstance(self.cc, Unset):
            cc = self.cc

        headers: dict[str, Any] | Unset = UNSET
        if not isinstance(self.headers, Unset):
            headers = self.headers.to_dict()

        html_body: None | str | Unset
        if isinstance(self.html_body, Unset):
            html_body = UNSET
        else:
            html_body = self.html_body

        idempotency_key: None | str | Unset
        if isinstance(self.idempotency_key, Unset):
            idempotency_key = UNSET
        else:
            idempotency_key = self.idempotency_key

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, SendAliasMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        priority: str | Unset = UNSET
        if not isinstance(self.priority, Unset):
            priority = self.priority.value

        props: dict[str, Any] | None | Unset
        if isinstance(self.props, Unset):
            props = UNSET
        elif isinstance(self.props, SendAliasPropsType0):
            props = self.props.to_dict()
        else:
            props = self.props

        reply_to: None | str | Unset
        if isinstance(self.reply_to, Unset):
            reply_to = UNSET
        else:
            reply_to = self.reply_to

        scheduled_at: None | str | Unset
        if isinstance(self.scheduled_at, Unset):
            scheduled_at = UNSET
        elif isinstance(self.scheduled_at, datetime.datetime):
            scheduled_at = self.scheduled_at.isoformat()
        else:
            scheduled_at = self.scheduled_at

        subject: None | str | Unset
        if isinstance(self.subject, Unset):
            subject = UNSET
        else:
            subject = self.subject

        tags: list[str] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags

        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template

        template_data: dict[str, Any] | None | Unset
        if isinstance(self.template_data, Unset):
            template_data = UNSET
        elif isinstance(self.template_data, SendAliasTemplateDataType0):
            template_data = self.template_data.to_dict()
        else:
            template_data = self.template_data

        text_body: None | str | Unset
        if isinstance(self.text_body, Unset):
            text_body = UNSET
        else:
            text_body = self.text_body

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "from": from_,
                "to": to,
            }
        )
        if attachments is not UNSET:
            field_dict["attachments"] = attachments
        if bcc is not UNSET:
            field_dict["bcc"] = bcc
        if cc is not UNSET:
            field_dict["cc"] = cc
        if headers is not UNSET:
            field_dict["headers"] = headers
        if html_body is not UNSET:
            field_dict["htmlBody"] = html_body
        if idempotency_key is not UNSET:
            field_dict["idempotencyKey"] = idempotency_key
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if priority is not UNSET:
            field_dict["priority"] = priority
        if props is not UNSET:
            field_dict["props"] = props
        if reply_to is not UNSET:
            field_dict["replyTo"] = reply_to
        if scheduled_at is not UNSET:
            field_dict["scheduledAt"] = scheduled_at
        if subject is not UNSET:
            field_dict["subject"] = subject
        if tags is not UNSET:
            field_dict["tags"] = tags
        if template is not UNSET:
            field_dict["template"] = template
        if template_data is not UNSET:
            field_dict["templateData"] = template_data
        if text_body is not UNSET:
            field_dict["textBody"] = text_body

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.attachment_in import AttachmentIn  # noqa: PLC0415
        from ..models.send_alias_headers import SendAliasHeaders  # noqa: PLC0415
        from ..models.send_alias_metadata_type_0 import SendAliasMetadataType0  # noqa: PLC0415
        from ..models.send_alias_props_type_0 import SendAliasPropsType0  # noqa: PLC0415
        from ..models.send_alias_template_data_type_0 import SendAliasTemplateDataType0  # noqa: PLC0415
        from ..models.sender import Sender  # noqa: PLC0415

        d = dict(src_dict)
        from_ = Sender.from_dict(d.pop("from"))

        to = cast(list[str], d.pop("to"))

        _attachments = d.pop("attachments", UNSET)
        attachments: list[AttachmentIn] | Unset = UNSET
        if _attachments is not UNSET:
            attachments = []
            for attachments_item_data in _attachments:
                attachments_item = AttachmentIn.from_dict(attachments_item_data)

                attachments.append(attachments_item)

        bcc = cast(list[str], d.pop("bcc", UNSET))

        cc = cast(list[str], d.pop("cc", UNSET))

        _headers = d.pop("headers", UNSET)
        headers: SendAliasHeaders | Unset
        if isinstance(_headers, Unset):
            headers = UNSET
        else:
            headers = SendAliasHeaders.from_dict(_headers)

        def _parse_html_body(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        html_body = _parse_html_body(d.pop("htmlBody", UNSET))

        def _parse_idempotency_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        idempotency_key = _parse_idempotency_key(d.pop("idempotencyKey", UNSET))

        def _parse_metadata(data: object) -> None | SendAliasMetadataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = SendAliasMetadataType0.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendAliasMetadataType0 | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))

        _priority = d.pop("priority", UNSET)
        priority: SendAliasPriority | Unset
        if isinstance(_priority, Unset):
            priority = UNSET
        else:
            priority = SendAliasPriority(_priority)

        def _parse_props(data: object) -> None | SendAliasPropsType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                props_type_0 = SendAliasPropsType0.from_dict(data)

                return props_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendAliasPropsType0 | Unset, data)

        props = _parse_props(d.pop("props", UNSET))

        def _parse_reply_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reply_to = _parse_reply_to(d.pop("replyTo", UNSET))

        def _parse_scheduled_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                scheduled_at_type_0 = datetime.datetime.fromisoformat(data)

                return scheduled_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        scheduled_at = _parse_scheduled_at(d.pop("scheduledAt", UNSET))

        def _parse_subject(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        subject = _parse_subject(d.pop("subject", UNSET))

        tags = cast(list[str], d.pop("tags", UNSET))

        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))

        def _parse_template_data(data: object) -> None | SendAliasTemplateDataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                template_data_type_0 = SendAliasTemplateDataType0.from_dict(data)

                return template_data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendAliasTemplateDataType0 | Unset, data)

        template_data = _parse_template_data(d.pop("templateData", UNSET))

        def _parse_text_body(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        text_body = _parse_text_body(d.pop("textBody", UNSET))

        send_alias = cls(
            from_=from_,
            to=to,
            attachments=attachments,
            bcc=bcc,
            cc=cc,
            headers=headers,
            html_body=html_body,
            idempotency_key=idempotency_key,
            metadata=metadata,
            priority=priority,
            props=props,
            reply_to=reply_to,
            scheduled_at=scheduled_at,
            subject=subject,
            tags=tags,
            template=template,
            template_data=template_data,
            text_body=text_body,
        )

        return send_alias
