"""The wire shapes of `/v1/users` (SPEC R1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from iep.directory.addresses import normalize

Address = Annotated[str, AfterValidator(normalize)]
# No control characters: a name ends up in logs and in mail headers, and PostgreSQL text refuses NUL.
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f]+$")
]
MAX_SECONDARIES = 20


class UserIn(BaseModel):
    """`POST /v1/users`: a taken `primary` is given the first free numeric suffix; a taken secondary is refused."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    primary: Address
    secondaries: list[Address] = Field(default_factory=list, max_length=MAX_SECONDARIES)


class UserUpdate(BaseModel):
    """`PUT /v1/users/{id}`: a new `primary` moves the old one to the secondaries; `secondaries` listed are added.

    An address stays with its user for good (never handed to anyone else), so none is ever removed.
    """

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    primary: Address | None = None
    secondaries: list[Address] = Field(default_factory=list, max_length=MAX_SECONDARIES)


class UserOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: uuid.UUID
    name: str
    primary: str
    secondaries: list[str]
    # The sequence number of the user's last event.
    version: int
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class UserPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    data: list[UserOut]
    next_cursor: str | None = Field(alias="nextCursor")
    limit: int
