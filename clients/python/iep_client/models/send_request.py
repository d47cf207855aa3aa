from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.send_request_priority import SendRequestPriority
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.attachment_in import AttachmentIn
    from ..models.send_request_headers import SendRequestHeaders
    from ..models.send_request_metadata_type_0 import SendRequestMetadataType0
    from ..models.send_request_template_data_type_0 import SendRequestTemplateDataType0
    from ..models.send_request_variables_type_0 import SendRequestVariablesType0
    from ..models.sender import Sender


T = TypeVar("T", bound="SendRequest")


@_attrs_define
class SendRequest:
    """`POST /v1/messages`. Validation context: `senders` (a SenderPolicy) and `max_recipients` (int).

    Attributes:
        from_ (Sender):
        to (list[str]):
        attachments (list[AttachmentIn] | Unset):
        bcc (list[str] | Unset):
        cc (list[str] | Unset):
        headers (SendRequestHeaders | Unset):
        html_body (None | str | Unset):
        idempotency_key (None | str | Unset):
        metadata (None | SendRequestMetadataType0 | Unset):
        priority (SendRequestPriority | Unset):  Default: SendRequestPriority.NORMAL.
        reply_to (None | str | Unset):
        scheduled_at (datetime.datetime | None | Unset):
        subject (None | str | Unset):
        tags (list[str] | Unset):
        template (None | str | Unset):
        template_data (None | SendRequestTemplateDataType0 | Unset):
        text_body (None | str | Unset):
        variables (None | SendRequestVariablesType0 | Unset):
    """

    from_: Sender
    to: list[str]
    attachments: list[AttachmentIn] | Unset = UNSET
    bcc: list[str] | Unset = UNSET
    cc: list[str] | Unset = UNSET
    headers: SendRequestHeaders | Unset = UNSET
    html_body: None | str | Unset = UNSET
    idempotency_key: None | str | Unset = UNSET
    metadata: None | SendRequestMetadataType0 | Unset = UNSET
    priority: SendRequestPriority | Unset = SendRequestPriority.NORMAL
    reply_to: None | str | Unset = UNSET
    scheduled_at: datetime.datetime | None | Unset = UNSET
    subject: None | str | Unset = UNSET
    tags: list[str] | Unset = UNSET
    template: None | str | Unset = UNSET
    template_data: None | SendRequestTemplateDataType0 | Unset = UNSET
    text_body: None | str | Unset = UNSET
    variables: None | SendRequestVariablesType0 | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.attachment_in import AttachmentIn  # noqa: PLC0415
        from ..models.send_request_headers import SendRequestHeaders  # noqa: PLC0415
        from ..models.send_request_metadata_type_0 import SendRequestMetadataType0  # noqa: PLC0415
        from ..models.send_request_template_data_type_0 import (
            SendRequestTemplateDataType0,  # noqa: PLC0415
        )
        from ..models.send_request_variables_type_0 import SendRequestVariablesType0  # noqa: PLC0415
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
        elif isinstance(self.metadata, SendRequestMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        priority: str | Unset = UNSET
        if not isinstance(self.priority, Unset):
            priority = self.priority.value

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
        elif isinstance(self.template_data, SendRequestTemplateDataType0):
            template_data = self.template_data.to_dict()
        else:
            template_data = self.template_data

        text_body: None | str | Unset
        if isinstance(self.text_body, Unset):
            text_body = UNSET
        else:
            text_body = self.text_body

        variables: dict[str, Any] | None | Unset
        if isinstance(self.variables, Unset):
            variables = UNSET
        elif isinstance(self.variables, SendRequestVariablesType0):
            variables = self.variables.to_dict()
        else:
            variables = self.variables

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
        if variables is not UNSET:
            field_dict["variables"] = variables

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.attachment_in import AttachmentIn  # noqa: PLC0415
        from ..models.send_request_headers import SendRequestHeaders  # noqa: PLC0415
        from ..models.send_request_metadata_type_0 import SendRequestMetadataType0  # noqa: PLC0415
        from ..models.send_request_template_data_type_0 import (
            SendRequestTemplateDataType0,  # noqa: PLC0415
        )
        from ..models.send_request_variables_type_0 import SendRequestVariablesType0  # noqa: PLC0415
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
        headers: SendRequestHeaders | Unset
        if isinstance(_headers, Unset):
            headers = UNSET
        else:
            headers = SendRequestHeaders.from_dict(_headers)

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

        def _parse_metadata(data: object) -> None | SendRequestMetadataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = SendRequestMetadataType0.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendRequestMetadataType0 | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))

        _priority = d.pop("priority", UNSET)
        priority: SendRequestPriority | Unset
        if isinstance(_priority, Unset):
            priority = UNSET
        else:
            priority = SendRequestPriority(_priority)

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

        def _parse_template_data(data: object) -> None | SendRequestTemplateDataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                template_data_type_0 = SendRequestTemplateDataType0.from_dict(data)

                return template_data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendRequestTemplateDataType0 | Unset, data)

        template_data = _parse_template_data(d.pop("templateData", UNSET))

        def _parse_text_body(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        text_body = _parse_text_body(d.pop("textBody", UNSET))

        def _parse_variables(data: object) -> None | SendRequestVariablesType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                variables_type_0 = SendRequestVariablesType0.from_dict(data)

                return variables_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendRequestVariablesType0 | Unset, data)

        variables = _parse_variables(d.pop("variables", UNSET))

        send_request = cls(
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
            reply_to=reply_to,
            scheduled_at=scheduled_at,
            subject=subject,
            tags=tags,
            template=template,
            template_data=template_data,
            text_body=text_body,
            variables=variables,
        )

        return send_request
