"""An aiosmtpd sink in its own process: accepts every message and writes `<X-IEP-Message-Id> <unix time>` per line.

Run: python -m bench.sink PORT OUTFILE. It stops on SIGTERM. The same sink serves the SMTP ceiling and the
end-to-end runs, so the two figures are comparable.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import IO, Any

from aiosmtpd.smtp import SMTP

HEADER = b"\nX-IEP-Message-Id: "


class Recorder:
    def __init__(self, out: IO[str]) -> None:
        self._out = out

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # this hook takes over from aiosmtpd, which otherwise records it
        # Real relays (Postfix, SES, SendGrid) offer PIPELINING; aiosmtpd reads commands line by line, so it copes.
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.time()
        content: bytes = envelope.content
        start = content.find(HEADER)
        ident = "-"
        if start >= 0:
            start += len(HEADER)
            ident = content[start : content.find(b"\r\n", start)].decode("ascii", "replace").strip()
        self._out.write(f"{ident} {arrived:.6f}\n")
        return "250 2.0.0 OK queued"


async def serve(port: int, out: IO[str]) -> None:
    handler = Recorder(out)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="bench-sink", data_size_limit=None), "127.0.0.1", port
    )
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("sink_ready", flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    # Line-buffered: a reader sees every accepted message as soon as it is accepted.
    with open(sys.argv[2], "a", buffering=1) as record:
        asyncio.run(serve(int(sys.argv[1]), record))
