"""An engine's log stream (``GET .../logs``: frames of stdout and stderr), read whole, or
followed by a thread for as long as it takes, and stopped at once when asked (even while a
read waits). Knows HTTP and the engine's framing, not what the logs are of."""

from __future__ import annotations

import queue
import socket
import struct
import threading
from collections.abc import Iterator


def frames(response) -> Iterator[tuple[str, bytes]]:
    """The multiplexed frames of a non-TTY logs response: (stream, bytes)."""
    raw = response.raw
    while header := raw.read(8):
        if len(header) < 8:
            return  # the log ended mid-frame
        stream_id, length = struct.unpack(">BxxxL", header)
        data = raw.read(length) if length else b""
        yield ("stderr" if stream_id == 2 else "stdout"), data


class Follower:
    """Reads a streaming logs response in a thread: ``drain()`` what came, ``stop()``."""

    def __init__(self, api, response) -> None:
        self.response = response
        # What it follows may be silent for hours: no read timeout on this stream.
        self.sock = api._get_raw_response_socket(response)
        api._disable_socket_timeout(self.sock)
        self.came: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._read, daemon=True, name="docker-magics-logs")
        self.thread.start()

    def _read(self) -> None:
        try:
            for item in frames(self.response):
                self.came.put(item)
        except Exception:  # noqa: BLE001 - stopped, or the engine went away
            pass

    def drain(self) -> list[tuple[str, bytes]]:
        out = []
        while True:
            try:
                out.append(self.came.get_nowait())
            except queue.Empty:
                return out

    def stop(self) -> None:
        """The reader thread is blocked in a read, which only a shutdown of the socket ends
        (closing the response would wait for that read)."""
        for sock in (self.sock, getattr(self.sock, "_sock", None)):  # SocketIO wraps one
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
                break
            except Exception:  # noqa: BLE001 - not a socket (ssh): it ends with the stream
                continue
        self.thread.join(2)
        if not self.thread.is_alive():
            self.response.close()
