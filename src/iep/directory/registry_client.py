"""The directory's side of the uniqueness lookup (SPEC R2): one HTTP call to the registry at REGISTRY_URL.

Bounded by REGISTRY_TIMEOUT_SECONDS; any failure (refused, timed out, a 5xx, an answer we cannot read) is
RegistryUnavailable, which the API answers as 503 with nothing written (docs/adr/0007).
"""

from __future__ import annotations

import time

import httpx
import structlog

from iep.directory.problems import RegistryUnavailable
from iep.observability.metrics import DirectoryMetrics

log = structlog.get_logger("iep.directory")
LOOKUP_PATH = "/v1/lookup"


class RegistryClient:
    def __init__(self, base_url: str, *, timeout: float, metrics: DirectoryMetrics) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, trust_env=False)
        self._metrics = metrics

    async def taken(self, candidates: list[str]) -> set[str]:
        started = time.perf_counter()
        try:
            answer = await self._http.post(LOOKUP_PATH, json={"addresses": candidates})
            answer.raise_for_status()
            taken = answer.json()["taken"]
            if not isinstance(taken, list):
                raise TypeError("`taken` is not a list")
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("registry_lookup_failed", error=str(exc)[:200] or type(exc).__name__)
            raise RegistryUnavailable() from None
        finally:
            self._metrics.smtp_check_duration.observe(time.perf_counter() - started)
        return {str(a) for a in taken}

    async def close(self) -> None:
        await self._http.aclose()
