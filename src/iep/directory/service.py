"""Directory rules (SPEC R1-R4): create with a free address, update moving the old primary, soft delete.

Each function runs in the caller's transaction and never commits; the request is the boundary. Every change
writes its event (the outbox row, also the audit intent) in that same transaction, with the user's next
sequence number, so a change and its event commit together or not at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.directory import addresses, repository
from iep.directory.events import EventType, document
from iep.directory.problems import AddressTaken
from iep.directory.schemas import UserIn, UserUpdate
from iep.kit.ids import uuid7

# Suffixes asked of the registry in one call; a create whose first few are all taken asks again.
CANDIDATES_PER_CHECK = 8
# A create that lost a race on the primary key (another writer took the address first) looks again.
MAX_RACES = 20


class AddressChecker(Protocol):
    async def taken(self, candidates: list[str]) -> set[str]:
        """Which of the addresses the registry knows as taken; raises RegistryUnavailable when it cannot say."""


@dataclass(frozen=True)
class UserView:
    user: dict[str, Any]
    secondaries: list[str]
    event: dict[str, Any] | None = None


async def create_user(
    conn: AsyncConnection,
    *,
    tenant_id: uuid.UUID,
    body: UserIn,
    checker: AddressChecker,
    correlation_id: str,
    now: datetime,
) -> UserView:
    secondaries = _unique([a for a in body.secondaries if a != body.primary])
    if await repository.owners(conn, secondaries):
        raise AddressTaken("a secondary address belongs to another user", field="secondaries")
    if secondaries and await checker.taken(secondaries):
        raise AddressTaken("the registry holds a secondary address for another user", field="secondaries")
    await repository.lock_address(conn, body.primary)
    for _ in range(MAX_RACES):
        primary = await _free_primary(conn, body.primary, checker)
        user_id = uuid7()
        try:
            async with conn.begin_nested():
                user = await repository.insert_user(
                    conn,
                    {
                        "id": user_id,
                        "tenant_id": tenant_id,
                        "name": body.name,
                        "primary_address": primary,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                rows = [_address(tenant_id, user_id, primary, "primary", 0)]
                rows += [_address(tenant_id, user_id, a, "secondary", i + 1) for i, a in enumerate(secondaries)]
                await repository.insert_addresses(conn, rows)
        except IntegrityError as exc:
            if secondaries and any(a in str(exc.orig) for a in secondaries):
                raise AddressTaken("a secondary address was just taken by another user", field="secondaries") from None
            continue  # the primary was taken between our look and our insert: look again
        event = await _record(conn, EventType.CREATED, user, secondaries, correlation_id, now)
        return UserView(user, secondaries, event)
    raise AddressTaken("no free form of this address could be reserved; try again")


async def _free_primary(conn: AsyncConnection, wanted: str, checker: AddressChecker) -> str:
    """The address, or its first suffixed form that neither this database nor the registry knows as taken."""
    taken = addresses.suffixes_taken(wanted, await repository.addresses_like(conn, addresses.like_pattern(wanted)))
    forms = addresses.candidates(wanted, taken)
    while True:
        batch = list(islice(forms, CANDIDATES_PER_CHECK))
        remote = await checker.taken(batch)
        for candidate in batch:
            if candidate not in remote:
                return candidate


async def update_user(
    conn: AsyncConnection,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    body: UserUpdate,
    checker: AddressChecker,
    correlation_id: str,
    now: datetime,
) -> UserView | None:
    user = await repository.get_user(conn, tenant_id, user_id, for_update=True)
    if user is None:
        return None
    secondaries = (await repository.secondaries_of(conn, tenant_id, [user_id]))[user_id]
    held = {user["primary_address"], *secondaries}
    primary = body.primary or user["primary_address"]
    new = _unique([a for a in [primary, *body.secondaries] if a not in held])
    name = body.name if body.name is not None else user["name"]
    if not new and primary == user["primary_address"] and name == user["name"]:
        return UserView(user, secondaries)  # nothing changes: no event, no new sequence number
    if new:
        if await repository.owners(conn, new):
            raise AddressTaken("the address belongs to another user")
        if await checker.taken(new):
            raise AddressTaken("the registry holds the address for another user")
    position = await repository.next_position(conn, tenant_id, user_id)
    try:
        async with conn.begin_nested():
            await repository.insert_addresses(
                conn,
                [
                    _address(tenant_id, user_id, a, "primary" if a == primary else "secondary", position + i)
                    for i, a in enumerate(new)
                ],
            )
    except IntegrityError:
        raise AddressTaken("the address was just taken by another user") from None
    if primary != user["primary_address"]:
        # SPEC R3: the old primary joins the secondaries; a former secondary promoted leaves them.
        await repository.set_kind(conn, tenant_id, user_id, user["primary_address"], "secondary", position + len(new))
        if primary in held:
            await repository.set_kind(conn, tenant_id, user_id, primary, "primary", 0)
    user = await repository.bump_user(
        conn, tenant_id, user_id, {"name": name, "primary_address": primary, "updated_at": now}
    )
    secondaries = (await repository.secondaries_of(conn, tenant_id, [user_id]))[user_id]
    event = await _record(conn, EventType.UPDATED, user, secondaries, correlation_id, now)
    return UserView(user, secondaries, event)


async def delete_user(
    conn: AsyncConnection, *, tenant_id: uuid.UUID, user_id: uuid.UUID, correlation_id: str, now: datetime
) -> dict[str, Any] | None:
    """A soft delete: the user and its addresses stay (never handed to anyone else); the registry is told.

    The event, or None when there is no such user."""
    if await repository.get_user(conn, tenant_id, user_id, for_update=True) is None:
        return None
    user = await repository.bump_user(conn, tenant_id, user_id, {"deleted_at": now, "updated_at": now})
    secondaries = (await repository.secondaries_of(conn, tenant_id, [user_id]))[user_id]
    return await _record(conn, EventType.DELETED, user, secondaries, correlation_id, now)


async def get_user(conn: AsyncConnection, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> UserView | None:
    user = await repository.get_user(conn, tenant_id, user_id)
    if user is None:
        return None
    return UserView(user, (await repository.secondaries_of(conn, tenant_id, [user_id]))[user_id])


async def list_users(
    conn: AsyncConnection, *, tenant_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> tuple[list[UserView], uuid.UUID | None]:
    rows = await repository.page(conn, tenant_id, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    secondaries = await repository.secondaries_of(conn, tenant_id, [r["id"] for r in rows])
    views = [UserView(r, secondaries[r["id"]]) for r in rows]
    return views, (rows[-1]["id"] if more and rows else None)


async def _record(
    conn: AsyncConnection,
    event_type: EventType,
    user: dict[str, Any],
    secondaries: list[str],
    correlation_id: str,
    now: datetime,
) -> dict[str, Any]:
    doc = document(event_type, user=user, secondaries=secondaries, correlation_id=correlation_id, now=now)
    await repository.insert_event(
        conn,
        {
            "id": uuid.UUID(doc["eventId"]),
            "tenant_id": user["tenant_id"],
            "user_id": user["id"],
            "sequence": doc["sequence"],
            "event_type": doc["type"],
            "schema_version": doc["schemaVersion"],
            "correlation_id": correlation_id,
            "payload": doc,
            "created_at": now,
        },
    )
    return doc


def _address(tenant_id: uuid.UUID, user_id: uuid.UUID, address: str, kind: str, position: int) -> dict[str, Any]:
    return {"address": address, "tenant_id": tenant_id, "user_id": user_id, "kind": kind, "position": position}


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
