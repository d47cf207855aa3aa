"""A small asyncio TCP fault proxy on loopback (no toxiproxy server can run here; SPEC §4).

Put it between IEP and a real broker, then switch its mode while traffic flows:
- `pass`: bytes flow both ways (optionally after `latency` seconds per chunk);
- `blackhole`: connections stay open, bytes are swallowed, nothing answers;
- `reset`: every open connection is aborted (RST), new ones are accepted and aborted at once;
- `slow_close`: new connections are accepted, then closed after `latency` seconds without a byte passed;
- `stall_answer`: bytes flow both ways, but the server's answer to a client chunk that ends with `marker` (SMTP's
  end of DATA by default) is held `latency` seconds: a send that takes that long on a connection that stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import Literal

Mode = Literal["pass", "blackhole", "reset", "slow_close", "stall_answer"]
END_OF_DATA = b"\r\n.\r\n"


@dataclass
class _Link:
    """One proxied connection's state for `stall_answer`: the client's last bytes, and whether an answer is owed."""

    tail: bytes = b""
    owed: bool = False


class FaultProxy:
    def __init__(self, upstream_port: int, *, upstream_host: str = "127.0.0.1") -> None:
        assert upstream_host in ("127.0.0.1", "::1", "localhost"), "fault tests talk to loopback only"
        self._upstream = (upstream_host, upstream_port)
        self.mode: Mode = "pass"
        self.latency = 0.0
        self.marker = END_OF_DATA
        self.connections = 0
        # In `stall_answer`: client chunks that ended with the marker, answers held so far, answers held right now.
        self.marked = 0
        self.stalled = 0
        self.holding = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        sock: socket.socket = self._server.sockets[0]
        port: int = sock.getsockname()[1]
        return port

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        self.reset_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def set(self, mode: Mode, *, latency: float = 0.0, marker: bytes = END_OF_DATA) -> None:
        self.mode = mode
        self.latency = latency
        self.marker = marker
        if mode == "reset":
            self.reset_all()

    def reset_all(self) -> None:
        for writer in list(self._writers):
            _abort(writer)
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "reset":
            _abort(writer)
            return
        if self.mode == "slow_close":
            await asyncio.sleep(self.latency)
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            _abort(writer)
            return
        self._writers.update((writer, up_writer))
        link = _Link()
        await asyncio.gather(
            self._pipe(reader, up_writer, link, upstream=True),
            self._pipe(up_reader, writer, link, upstream=False),
            return_exceptions=True,
        )
        for w in (writer, up_writer):
            self._writers.discard(w)
            _abort(w)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link, *, upstream: bool
    ) -> None:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            if self.mode == "blackhole":
                continue
            if self.mode == "stall_answer":
                if upstream:
                    # Marked before the chunk goes on, so the answer cannot overtake the mark.
                    seen = link.tail + chunk
                    if seen.endswith(self.marker):
                        link.owed = True
                        self.marked += 1
                    link.tail = seen[-len(self.marker) :]
                elif link.owed:
                    link.owed = False
                    self.stalled += 1
                    self.holding += 1
                    try:
                        await asyncio.sleep(self.latency)
                    finally:
                        self.holding -= 1
            elif self.latency:
                await asyncio.sleep(self.latency)
            writer.write(chunk)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()


def _abort(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if not transport.is_closing():
        transport.abort()
