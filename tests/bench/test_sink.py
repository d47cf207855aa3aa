"""The bench sink offers PIPELINING, as real relays do, and takes pipelined messages: the drain bench uses it."""

from __future__ import annotations

from pathlib import Path

import aiosmtplib

from bench import ceilings, procs
from iep.providers.smtp_pipelining import sendmail


async def test_the_sink_takes_pipelined_messages_on_one_connection(tmp_path: Path) -> None:
    record = tmp_path / "sink.txt"
    sink, port = await ceilings.start_sink(tmp_path, record)
    writes: list[bytes] = []
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=10)
        await client.connect()
        await client.ehlo()
        assert client.supports_extension("pipelining")
        assert client.protocol is not None
        protocol_write = client.protocol.write

        def counted(data: bytes) -> None:
            writes.append(data)
            protocol_write(data)

        client.protocol.write = counted  # type: ignore[method-assign]
        for n in range(3):
            message = f"Subject: {n}\r\nX-IEP-Message-Id: pipelined-{n}\r\n\r\n.a dot line\r\n".encode()
            refused, _ = await sendmail(client, "orders@bench.example", ["a@example.com", "b@example.com"], message)
            assert refused == {}
        await client.quit()
    finally:
        procs.stop(sink)

    # Per message one write for MAIL + both RCPTs + DATA and one for the content; then QUIT.
    assert len(writes) == 3 * 2 + 1
    assert writes[0].startswith(b"MAIL FROM:<orders@bench.example>")
    assert writes[0].endswith(b"RCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
    assert writes[1] == b"Subject: 0\r\nX-IEP-Message-Id: pipelined-0\r\n\r\n..a dot line\r\n.\r\n"
    assert [line.split()[0] for line in record.read_text().splitlines()] == [f"pipelined-{n}" for n in range(3)]
