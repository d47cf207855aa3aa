from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.attachment_out import AttachmentOut
    from ..models.event_out import EventOut
    from ..models.message_out_headers_type_0 import MessageOutHeadersType0
    from ..models.message_out_metadata_type_0 import MessageOutMetadataType0
    from ..models.sender import Sender


T = TypeVar("T", bound="MessageOut")


@_attrs_define
class MessageOut:
    """
    Attributes:
        attempts (int):
        bcc (list[str]):
        cc (list[str]):
        created_at (datetime.datetime):
        from_ (Sender):
        idempotency_key (None | str):
        last_error (None | str):
        max_attempts (int):
        message_id (UUID):
        metadata (MessageOutMetadataType0 | None):
        priority (str):
        provider (None | str):
        provider_message_id (None | str):
        reply_to (None | str):
        scheduled_at (datetime.datetime | None):
        sent_at (datetime.datetime | None):
        status (str):
        subject (str):
        tags (list[str]):
        to (list[str]):
        updated_at (datetime.datetime):
        attachments (list[AttachmentOut] | None | Unset):
        events (list[EventOut] | None | Unset):
        headers (MessageOutHeadersType0 | None | Unset):
        template (None | str | Unset):
        trace_id (None | str | Unset):
    """

    attempts: int
    bcc: list[str]
    cc: list[str]
    created_at: datetime.datetime
    from_: Sender
    idempotency_key: None | str
    last_error: None | str
    max_attempts: int
    message_id: UUID
    metadata: MessageOutMetadataType0 | None
    priority: str
    provider: None | str
    provider_message_id: None | str
    reply_to: None | str
    scheduled_at: datetime.datetime | None
    sent_at: datetime.datetime | None
    status: str
    subject: str
    tags: list[str]
    to: list[str]
    updated_at: datetime.datetime
    attachments: list[AttachmentOut] | None | Unset = UNSET
    events: list[EventOut] | None | Unset = UNSET
    headers: MessageOutHeadersType0 | None | Unset = UNSET
    template: None | str | Unset = UNSET
    trace_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.attachment_out import AttachmentOut  # noqa: PLC0415
        from ..models.event_out import EventOut  # noqa: PLC0415
        from ..models.message_out_headers_type_0 import MessageOutHeadersType0  # noqa: PLC0415
        from ..models.message_out_metadata_type_0 import MessageOutMetadataType0  # noqa: PLC0415
        from ..models.sender import Sender  # noqa: PLC0415

        attempts = self.attempts

        bcc = self.bcc

        cc = self.cc

        created_at = self.created_at.isoformat()

        from_ = self.from_.to_dict()

        idempotency_key: None | str
        idempotency_key = self.idempotency_key

        last_error: None | str
        last_error = self.last_error

        max_attempts = self.max_attempts

        message_id = str(self.message_id)

        metadata: dict[str, Any] | None
        if isinstance(self.metadata, MessageOutMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        priority = self.priority

        provider: None | str
        provider = self.provider

        provider_message_id: None | str
        provider_message_id = self.provider_message_id

        reply_to: None | str
        reply_to = self.reply_to

        scheduled_at: None | str
        if isinstance(self.scheduled_at, datetime.datetime):
            scheduled_at = self.scheduled_at.isoformat()
        else:
            scheduled_at = self.scheduled_at

        sent_at: None | str
        if isinstance(self.sent_at, datetime.datetime):
            sent_at = self.sent_at.isoformat()
        else:
            sent_at = self.sent_at

        status = self.status

        subject = self.subject

        tags = self.tags

        to = self.to

        updated_at = self.updated_at.isoformat()

        attachments: list[dict[str, Any]] | None | Unset
        if isinstance(self.attachments, Unset):
            attachments = UNSET
        elif isinstance(self.attachments, list):
            attachments = []
            for attachments_type_0_item_data in self.attachments:
                attachments_type_0_item = attachments_type_0_item_data.to_dict()
                attachments.append(attachments_type_0_item)

        else:
            attachments = self.attachments

        events: list[dict[str, Any]] | None | Unset
        if isinstance(self.events, Unset):
            events = UNSET
        elif isinstance(self.events, list):
            events = []
            for events_type_0_item_data in self.events:
                events_type_0_item = events_type_0_item_data.to_dict()
                events.append(events_type_0_item)

        else:
            events = self.events

        headers: dict[str, Any] | None | Unset
        if isinstance(self.headers, Unset):
            headers = UNSET
        elif isinstance(self.headers, MessageOutHeadersType0):
            headers = self.headers.to_dict()
        else:
            headers = self.headers

        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template

        trace_id: None | str | Unset
        if isinstance(self.trace_id, Unset):
            trace_id = UNSET
        else:
            trace_id = self.trace_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "bcc": bcc,
                "cc": cc,
                "createdAt": created_at,
                "from": from_,
                "idempotencyKey": idempotency_key,
                "lastError": last_error,
                "maxAttempts": max_attempts,
                "messageId": message_id,
                "metadata": metadata,
                "priority": priority,
                "provider": provider,
                "providerMessageId": provider_message_id,
                "replyTo": reply_to,
                "scheduledAt": scheduled_at,
                "sentAt": sent_at,
                "status": status,
                "subject": subject,
                "tags": tags,
                "to": to,
                "updatedAt": updated_at,
            }
        )
        if attachments is not UNSET:
            field_dict["attachments"] = attachments
        if events is not UNSET:
            field_dict["events"] = events
        if headers is not UNSET:
            field_dict["headers"] = headers
        if template is not UNSET:
            field_dict["template"] = template
        if trace_id is not UNSET:
            field_dict["traceId"] = trace_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.attachment_out import AttachmentOut  # noqa: PLC0415
        from ..models.event_out import EventOut  # noqa: PLC0415
        from ..models.message_out_headers_type_0 import MessageOutHeadersType0  # noqa: PLC0415
        from ..models.message_out_metadata_type_0 import MessageOutMetadataType0  # noqa: PLC0415
        from ..models.sender import Sender  # noqa: PLC0415

        d = dict(src_dict)
        attempts = d.pop("attempts")

        bcc = cast(list[str], d.pop("bcc"))

        cc = cast(list[str], d.pop("cc"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        from_ = Sender.from_dict(d.pop("from"))

        def _parse_idempotency_key(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        idempotency_key = _parse_idempotency_key(d.pop("idempotencyKey"))

        def _parse_last_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        last_error = _parse_last_error(d.pop("lastError"))

        max_attempts = d.pop("maxAttempts")

        message_id = UUID(d.pop("messageId"))

        def _parse_metadata(data: object) -> MessageOutMetadataType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = MessageOutMetadataType0.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(MessageOutMetadataType0 | None, data)

        metadata = _parse_metadata(d.pop("metadata"))

        priority = d.pop("priority")

        def _parse_provider(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        provider = _parse_provider(d.pop("provider"))

        def _parse_provider_message_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        provider_message_id = _parse_provider_message_id(d.pop("providerMessageId"))

        def _parse_reply_to(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        reply_to = _parse_reply_to(d.pop("replyTo"))

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

        scheduled_at = _parse_scheduled_at(d.pop("scheduledAt"))

        def _parse_sent_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                sent_at_type_0 = datetime.datetime.fromisoformat(data)

                return sent_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        sent_at = _parse_sent_at(d.pop("sentAt"))

        status = d.pop("status")

        subject = d.pop("subject")

        tags = cast(list[str], d.pop("tags"))

        to = cast(list[str], d.pop("to"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updatedAt"))

        def _parse_attachments(data: object) -> list[AttachmentOut] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                attachments_type_0 = []
                _attachments_type_0 = data
                for attachments_type_0_item_data in _attachments_type_0:
                    attachments_type_0_item = AttachmentOut.from_dict(attachments_type_0_item_data)

                    attachments_type_0.append(attachments_type_0_item)

                return attachments_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[AttachmentOut] | None | Unset, data)

        attachments = _parse_attachments(d.pop("attachments", UNSET))

        def _parse_events(data: object) -> list[EventOut] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                events_type_0 = []
                _events_type_0 = data
                for events_type_0_item_data in _events_type_0:
                    events_type_0_item = EventOut.from_dict(events_type_0_item_data)

                    events_type_0.append(events_type_0_item)

                return events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[EventOut] | None | Unset, data)

        events = _parse_events(d.pop("events", UNSET))

        def _parse_headers(data: object) -> MessageOutHeadersType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                headers_type_0 = MessageOutHeadersType0.from_dict(data)

                return headers_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(MessageOutHeadersType0 | None | Unset, data)

        headers = _parse_headers(d.pop("headers", UNSET))

        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))

        def _parse_trace_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        trace_id = _parse_trace_id(d.pop("traceId", UNSET))

        message_out = cls(
            attempts=attempts,
            bcc=bcc,
            cc=cc,
            created_at=created_at,
            from_=from_,
            idempotency_key=idempotency_key,
            last_error=last_error,
            max_attempts=max_attempts,
            message_id=message_id,
            metadata=metadata,
            priority=priority,
            provider=provider,
            provider_message_id=provider_message_id,
            reply_to=reply_to,
            scheduled_at=scheduled_at,
            sent_at=sent_at,
            status=status,
            subject=subject,
            tags=tags,
            to=to,
            updated_at=updated_at,
            attachments=attachments,
            events=events,
            headers=headers,
            template=template,
            trace_id=trace_id,
        )

        message_out.additional_properties = d
        return message_out

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
