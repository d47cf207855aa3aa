"""The whole OpenAPI document of the in-process app, fuzzed by schemathesis against a real database
(docs/security.md): no server error, no schema-violating request accepted, no undocumented status code.

Short by default (deterministic, derandomized); `IEP_FUZZ_EXAMPLES=200 make fuzz` runs the long version. The app
runs in an event loop of its own thread (its engine, pools and caches stay on that loop); each generated request
is sent to it through httpx's ASGI transport: no network.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from iep import bootstrap
from iep.config import load_settings
from iep.entrypoints.api import create_app
from iep.kit.clock import FakeClock
from iep.tenancy import service as tenancy
from tests.conftest import TABLES

T = TypeVar("T")
EXAMPLES = int(os.environ.get("IEP_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    negative_data_rejection,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
# Operations whose answer depends on the outside and not on the request: metrics scrape the queue, provider
# events need a provider's signature (tested against each provider's own scheme in tests/provider_events).
EXCLUDED = ("/metrics",)
# Batches answer item by item (A7): a batch with one invalid item is accepted for its valid ones, so a request
# that breaks an item's schema is answered 200 with that item `rejected`, not with a 4xx.
PER_ITEM = ("/v1/messages/batch", "/emails/batch")


def _checks(case: Any) -> list[Any]:
    return [c for c in CHECKS if c is not negative_data_rejection] if case.path in PER_ITEM else CHECKS


class InProcessApi:
    """The app on its own event loop in a thread; requests are sent to it from the test's thread."""

    def __init__(self, database_url: str, tmp: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="iep-fuzz-app", daemon=True)
        self._thread.start()
        self._database_url = database_url
        self._tmp = tmp
        self.key = ""
        self.admin_key = ""
        self.app: Any = None
        self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=120)

    async def _start(self) -> None:
        config = load_settings(database_url=self._database_url, default_provider="devinbox", state_dir=self._tmp,
                               attachments_dir=f"{self._tmp}/attachments")  # fmt: skip
        self.container = bootstrap.build(config, self._database_url, clock=FakeClock(), pool_size=5)
        async with self.container.engine.begin() as conn:
            await conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
            await tenancy.create_tenant(conn, name="Fuzz", slug="fuzz")
            _, self.key = await tenancy.create_key(conn, tenant_slug="fuzz", scopes=["send", "read", "admin"])
        self.app = create_app(self.container)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, raise_app_exceptions=False), base_url="http://iep.test"
        )

    def send(self, kwargs: dict[str, Any]) -> httpx.Response:
        request = dict(kwargs)
        method, url = request.pop("method"), request.pop("url")
        body = request.pop("data", None)
        extra = {k: request[k] for k in ("headers", "params", "json") if request.get(k) is not None}
        if body is not None:
            extra["content"] = body.encode() if isinstance(body, str) else body
        return self.run(self.client.request(method, url, **extra))

    def close(self) -> None:
        async def stop() -> None:
            await self.client.aclose()
            await self.container.close()

        self.run(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def iep_api(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApi]:
    api = InProcessApi(database_url, str(tmp_path_factory.mktemp("fuzz")))
    yield api
    api.close()


@pytest.fixture(scope="module")
def api_schema(iep_api: InProcessApi) -> Any:
    schema = schemathesis.openapi.from_dict(iep_api.app.openapi())
    schema.config.generation.update(modes=["positive", "negative"], max_examples=EXAMPLES, deterministic=True)
    return schema.exclude(path=list(EXCLUDED))


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy schema renames the test through `node._nodeid`, which pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _call(iep_api: InProcessApi, case: Any) -> Response:
    auth = {"Authorization": f"Bearer {iep_api.key}"}
    kwargs = case.as_transport_kwargs(base_url="http://iep.test", headers=auth)
    return Response.from_any(iep_api.send(kwargs))


@schema.parametrize()
@SETTINGS
def test_every_operation(case: Any, iep_api: InProcessApi) -> None:
    case.validate_response(_call(iep_api, case), checks=_checks(case))


def test_stateful(api_schema: Any, iep_api: InProcessApi) -> None:
    steps: list[str] = []

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def call(self, case: Any, **kwargs: Any) -> Response:
            steps.append(f"{case.method} {case.path}")
            return _call(iep_api, case)

        def validate_response(self, response: Response, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=_checks(case))

    Workflow.run(settings=settings(SETTINGS, max_examples=max(5, EXAMPLES // 5), stateful_step_count=6))
    # Links were found and followed: sends chained to reads, retries and cancels of the message they made.
    assert len(set(steps)) > 1, steps
