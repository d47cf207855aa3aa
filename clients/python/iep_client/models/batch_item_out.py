from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Generator, TextIO, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.batch_item_out_problem_type_0 import BatchItemOutProblemType0


T = TypeVar("T", bound="BatchItemOut")


@_attrs_define
class BatchItemOut:
    """One item's outcome: `queued`/`scheduled` with its messageId, or `rejected` with an RFC 9457 problem.

    Attributes:
        index (int):
        status (str):
        message_id (None | Unset | UUID):
        problem (BatchItemOutProblemType0 | None | Unset):
        replayed (bool | None | Unset):
        suppressed_recipients (list[str] | None | Unset):
    """

    index: int
    status: str
    message_id: None | Unset | UUID = UNSET
    problem: BatchItemOutProblemType0 | None | Unset = UNSET
    replayed: bool | None | Unset = UNSET
    suppressed_recipients: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.batch_item_out_problem_type_0 import BatchItemOutProblemType0  # noqa: PLC0415

        index = self.index

        status = self.status

        message_id: None | str | Unset
        if isinstance(self.message_id, Unset):
            message_id = UNSET
        elif isinstance(self.message_id, UUID):
            message_id = str(self.message_id)
        else:
            message_id = self.message_id

        problem: dict[str, Any] | None | Unset
        if isinstance(self.problem, Unset):
            problem = UNSET
        elif isinstance(self.problem, BatchItemOutProblemType0):
            problem = self.problem.to_dict()
        else:
            problem = self.problem

        replayed: bool | None | Unset
        if isinstance(self.replayed, Unset):
            replayed = UNSET
        else:
            replayed = self.replayed

        suppressed_recipients: list[str] | None | Unset
        if isinstance(self.suppressed_recipients, Unset):
            suppressed_recipients = UNSET
        elif isinstance(self.suppressed_recipients, list):
            suppressed_recipients = self.suppressed_recipients

        else:
            suppressed_recipients = self.suppressed_recipients

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "index": index,
                "status": status,
            }
        )
        if message_id is not UNSET:
            field_dict["messageId"] = message_id
        if problem is not UNSET:
            field_dict["problem"] = problem
        if replayed is not UNSET:
            field_dict["replayed"] = replayed
        if suppressed_recipients is not UNSET:
            field_dict["suppressedRecipients"] = suppressed_recipients

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_item_out_problem_type_0 import BatchItemOutProblemType0  # noqa: PLC0415

        d = dict(src_dict)
        index = d.pop("index")

        status = d.pop("status")

        def _parse_message_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                message_id_type_0 = UUID(data)

                return message_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        message_id = _parse_message_id(d.pop("messageId", UNSET))

        def _parse_problem(data: object) -> BatchItemOutProblemType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                problem_type_0 = BatchItemOutProblemType0.from_dict(data)

                return problem_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(BatchItemOutProblemType0 | None | Unset, data)

        problem = _parse_problem(d.pop("problem", UNSET))

        def _parse_replayed(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        replayed = _parse_replayed(d.pop("replayed", UNSET))

        def _parse_suppressed_recipients(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                suppressed_recipients_type_0 = cast(list[str], data)

                return suppressed_recipients_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        suppressed_recipients = _parse_suppressed_recipients(d.pop("suppressedRecipients", UNSET))

        batch_item_out = cls(
            index=index,
            status=status,
            message_id=message_id,
            problem=problem,
            replayed=replayed,
            suppressed_recipients=suppressed_recipients,
        )

        batch_item_out.additional_properties = d
        return batch_item_out

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
