from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="DeliveryOut")


@_attrs_define
class DeliveryOut:
    """
    Attributes:
        attempt (int):
        created_at (datetime.datetime):
        error (None | str):
        event (str):
        event_id (UUID):
        id (UUID):
        latency_ms (int):
        message_id (UUID):
        replay (bool):
        response_body (None | str): the first 1 KB of the answer
        status_code (int | None):
        success (bool):
        webhook_id (str): the `webhook-id` header, the same on every attempt
    """

    attempt: int
    created_at: datetime.datetime
    error: None | str
    event: str
    event_id: UUID
    id: UUID
    latency_ms: int
    message_id: UUID
    replay: bool
    response_body: None | str
    status_code: int | None
    success: bool
    webhook_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        created_at = self.created_at.isoformat()

        error: None | str
        error = self.error

        event = self.event

        event_id = str(self.event_id)

        id = str(self.id)

        latency_ms = self.latency_ms

        message_id = str(self.message_id)

        replay = self.replay

        response_body: None | str
        response_body = self.response_body

        status_code: int | None
        status_code = self.status_code

        success = self.success

        webhook_id = self.webhook_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempt": attempt,
                "createdAt": created_at,
                "error": error,
                "event": event,
                "eventId": event_id,
                "id": id,
                "latencyMs": latency_ms,
                "messageId": message_id,
                "replay": replay,
                "responseBody": response_body,
                "statusCode": status_code,
                "success": success,
                "webhookId": webhook_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attempt = d.pop("attempt")

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        def _parse_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error = _parse_error(d.pop("error"))

        event = d.pop("event")

        event_id = UUID(d.pop("eventId"))

        id = UUID(d.pop("id"))

        latency_ms = d.pop("latencyMs")

        message_id = UUID(d.pop("messageId"))

        replay = d.pop("replay")

        def _parse_response_body(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        response_body = _parse_response_body(d.pop("responseBody"))

        def _parse_status_code(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        status_code = _parse_status_code(d.pop("statusCode"))

        success = d.pop("success")

        webhook_id = d.pop("webhookId")

        delivery_out = cls(
            attempt=attempt,
            created_at=created_at,
            error=error,
            event=event,
            event_id=event_id,
            id=id,
            latency_ms=latency_ms,
            message_id=message_id,
            replay=replay,
            response_body=response_body,
            status_code=status_code,
            success=success,
            webhook_id=webhook_id,
        )

        delivery_out.additional_properties = d
        return delivery_out

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
