"""A tiny TCP -> unix-socket forwarder, used by the tests to put a real engine behind another
address (a network namespace's IP, or a port that records request headers).

Standalone on purpose (standard library only): it runs under ``ip netns exec`` too.

    python forwarder.py LISTEN_HOST LISTEN_PORT UNIX_SOCKET [HEADER_LOG]

With HEADER_LOG, the head of every request (request line and headers) is appended to it.
"""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader, writer, log_path=None):
    first = True
    try:
        while data := await reader.read(65536):
            if first and log_path:
                head = data.split(b"\r\n\r\n", 1)[0]
                with open(log_path, "ab") as f:
                    f.write(head + b"\n\n")
            first = log_path is not None and data.endswith(b"\r\n\r\n")
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(host: str, port: int, socket_path: str, log_path: str | None) -> None:
    async def handle(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(socket_path)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pipe(client_reader, up_writer, log_path), _pipe(up_reader, client_writer)
        )

    server = await asyncio.start_server(handle, host, port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], (sys.argv[4:] or [None])[0]))
