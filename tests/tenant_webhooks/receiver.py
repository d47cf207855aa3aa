"""A tenant's webhook receiver on 127.0.0.1 that verifies every delivery as a tenant would: with the
`standardwebhooks` library and with seed 003's `x-iep-signature` HMAC, both keyed by the secret as shown."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    standard_ok: bool
    iep_ok: bool

    def json(self) -> Any:
        return json.loads(self.body)


# (status, body) for a request; the default accepts everything.
Answer = Callable[[Received], tuple[int, bytes, dict[str, str]]]


class Receiver:
    def __init__(self, answer: Answer | None = None, *, hold_seconds: float = 0.0) -> None:
        self.secret: str | None = None
        self.answer: Answer = answer or (lambda _: (200, b"ok", {}))
        self.hold_seconds = hold_seconds
        self.received: list[Received] = []
        self.in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/iep"

    def _verify(self, headers: dict[str, str], body: bytes) -> tuple[bool, bool]:
        assert self.secret is not None, "set receiver.secret to the secret the API returned"
        try:
            Webhook(self.secret).verify(body, headers)
            standard = True
        except WebhookVerificationError:
            standard = False
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return standard, hmac.compare_digest(expected, headers.get("x-iep-signature", ""))

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                got = Received(headers, body, *receiver._verify(headers, body))
                with receiver._lock:
                    receiver.received.append(got)
                    receiver.in_flight += 1
                try:
                    if receiver.hold_seconds:
                        time.sleep(receiver.hold_seconds)
                    status, payload, extra = receiver.answer(got)
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender went away (killed, or gave up at its timeout)
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until `start()` again (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def bodies(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.received]
