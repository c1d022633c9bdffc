"""A BuildKit session: the services the engine calls back during a BuildKit build, served
as ``docker buildx`` serves them, over a hijacked ``POST /session`` connection on which the
engine speaks gRPC (HTTP/2) and we answer:

- ``moby.filesync.v1.FileSync/DiffCopy``: the build context and the Dockerfile
  (:mod:`filesync`), a stream each way;
- ``moby.buildkit.secrets.v1.Secrets/GetSecret``: build secrets (``RUN --mount=type=secret``),
  which reach the ``RUN`` step only, never a layer or the image's history;
- ``moby.filesync.v1.Auth/Credentials``: registry credentials for the build's own pulls;
- ``grpc.health.v1.Health/Check``: the engine's liveness probe.

Any other method answers UNIMPLEMENTED, which BuildKit handles (token auth falls back to
credentials, for example). The messages are a few small strings, written and read with
:mod:`wire` instead of a generated gRPC stack. HTTP/2 framing comes from the pure-Python
``h2`` package.

One thread owns the connection: it does every read and write (so a TLS socket is never used
from two threads at once), answers the small calls, and drives the file transfers, which are
generators (:func:`filesync.transfer`) it pulls a message from only while less than
``OUT_LIMIT`` bytes of that transfer wait for HTTP/2 flow control: files are read as fast as
the engine takes them, in bounded memory, with no hand-off between threads. It pulls at most
``ROUND`` messages before it looks for what the engine said (without waiting, while a
transfer can go on): a long walk never keeps the engine's health checks (10 s on Docker 20.10,
or it ends the session) or its requests for files waiting.
"""

from __future__ import annotations

import os
import selectors
import threading
import uuid
from collections import deque
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

from docker_magics.builds.buildkit.filesync import (
    ERR,
    EngineAborted,
    Packet,
    Sent,
    encode_packet,
    transfer,
)
from docker_magics.builds.buildkit.wire import bytes_field, string
from docker_magics.builds.walk import ContextChanged
from docker_magics.errors import DockerMagicsError

if TYPE_CHECKING:
    import requests

SECRETS = "/moby.buildkit.secrets.v1.Secrets/GetSecret"
CREDENTIALS = "/moby.filesync.v1.Auth/Credentials"
HEALTH = "/grpc.health.v1.Health/Check"
DIFFCOPY = "/moby.filesync.v1.FileSync/DiffCopy"
MAX_SECRET = 500 * 1024  # BuildKit refuses larger secrets
OUT_LIMIT = 512 * 1024  # bytes a transfer may have queued before it is paused
ROUND = 256  # messages pulled from a transfer before the connection is looked at again

# gRPC status codes
OK, UNKNOWN, NOT_FOUND, UNIMPLEMENTED, INTERNAL = 0, 2, 5, 12, 13


def _trailers(status: int, message: str) -> list[tuple[str, str]]:
    out = [("grpc-status", str(status))]
    if message:  # gRPC percent-encodes the message (spaces and printable ASCII stay)
        out.append(("grpc-message", quote(message, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")))
    return out


class _Call:
    """One gRPC call: what came in (not yet whole messages), what waits to go out; for a
    file transfer, its generator and the engine's packets for it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.body = bytearray()
        self.out: deque[memoryview] = deque()
        self.queued = 0
        self.trailers: list[tuple[str, str]] | None = None
        self.transfer: Generator[bytes | bytearray | None, None, None] | None = None
        self.inbox: deque[Packet | None] | None = None
        self.waiting = False  # the transfer waits for the engine's next packet


class BuildSession:
    """Open with :meth:`open` (or ``with``), pass :attr:`id` as the build's ``session``
    parameter, close when the build is over. ``credentials(host)`` returns
    ``(username, secret)`` or None; ``secrets`` maps ids to values; ``sources`` (a
    :class:`localsource.Sources`) are the files the build may ask for. ``shared_key`` names
    the client side of those files for the engine, which keeps its copy of them under that
    name and, next time, asks only for the files that changed (the CLI's key for a folder)."""

    def __init__(
        self,
        api,
        *,
        secrets: Mapping[str, bytes] | None = None,
        credentials: Callable[[str], tuple[str, str] | None] = lambda host: None,
        sources=None,
        shared_key: str | None = None,
    ) -> None:
        self.api = api
        self.secrets = dict(secrets or {})
        self.credentials = credentials
        self.sources = sources
        self.id = uuid.uuid4().hex
        self.shared_key = shared_key or self.id
        self.calls: list[str] = []  # the methods the engine called, for the curious
        self.error: BaseException | None = None  # why the session ended early, if it did
        self.context_error: DockerMagicsError | None = None  # a file that could not be sent
        self._sent: list[Sent] = []  # what each transfer of the build context sent
        self.dockerfile_sent: Sent | None = None  # what the Dockerfile's transfer sent
        self._closing = threading.Event()  # set by close(), from another thread
        self._response: requests.Response | None = None
        self._thread: threading.Thread | None = None
        self._calls: dict[int, _Call] = {}
        self._wire: list[bytes | memoryview] = []  # what to write next, in order

    def __enter__(self) -> BuildSession:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def sent(self) -> Sent:
        """What the build context's transfers sent: the entries of the largest (BuildKit
        also asks for just .dockerignore first), the bytes of all."""
        return Sent(
            max((s.entries for s in self._sent), default=0), sum(s.bytes for s in self._sent)
        )

    @property
    def methods(self) -> list[str]:
        return [HEALTH, SECRETS, CREDENTIALS] + ([DIFFCOPY] if self.sources else [])

    def open(self) -> None:
        """Raises what docker-py raises (e.g. 404 from an engine without sessions)."""
        import h2.config
        import h2.connection
        import requests
        from urllib3 import HTTPHeaderDict

        api = self.api
        request = requests.Request(
            "POST",
            api._url("/session"),
            headers={
                "Connection": "Upgrade",
                "Upgrade": "h2c",
                "X-Docker-Expose-Session-Uuid": self.id,
                "X-Docker-Expose-Session-Name": "docker-magics",
                "X-Docker-Expose-Session-Sharedkey": self.shared_key,
            },
        )
        prepared = api.prepare_request(request)  # with the connection's own headers
        # One header line per method, as buildx sends them (requests would join them).
        headers = HTTPHeaderDict(prepared.headers)
        for method in self.methods:
            headers.add("X-Docker-Expose-Session-Grpc-Method", method)
        prepared.headers = headers
        response = api.send(prepared, stream=True, timeout=api.timeout)
        try:
            sock = api._get_raw_response_socket(response)  # raises the HTTP error, if any
            api._disable_socket_timeout(sock)  # quiet for minutes during a long build is fine
            self._io = _Transport(response, sock)
            config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
            self._h2 = h2.connection.H2Connection(config=config)
            self._h2.initiate_connection()
            self._io.write(self._h2.data_to_send())
        except BaseException:
            response.close()
            raise
        self._response = response
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="buildkit-session")
        self._thread.start()

    def close(self) -> None:
        """Ends the session at once: a transfer under way stops and closes its file."""
        if self._response is None:
            return
        self._closing.set()
        try:
            os.write(self._wake_w, b"x")  # the thread's wait returns
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(2)
            if self._thread.is_alive():  # stuck in a read or a write to the engine
                try:
                    self._io.shutdown()
                except OSError:
                    pass
                self._thread.join(2)
            self._thread = None
        self._response.close()  # the engine ends the session when the connection goes
        self._response = None
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- the connection's thread -----------------------------------------------------------

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        busy = False  # a transfer can go on without hearing from the engine: do not wait
        try:
            selector.register(self._io.fileno, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._closing.is_set():
                if self._io.pending() or any(
                    key.fd != self._wake_r for key, _ in selector.select(0 if busy else None)
                ):
                    if self._closing.is_set():
                        return
                    data = self._io.read()
                    if not data or self._receive(data):
                        return
                busy = self._pump()
                self._send()
        except Exception as exc:  # noqa: BLE001 - the connection went: the session is over
            if not self._closing.is_set():
                self.error = exc  # kept for the curious; the build reports what it missed
        finally:
            selector.close()
            for call in self._calls.values():
                if call.transfer is not None:
                    call.transfer.close()  # closes the file it was sending
            self._calls.clear()

    def _receive(self, data: bytes) -> bool:
        """Feeds the engine's bytes to h2; True when the connection ends."""
        import h2.events

        received: dict[int, int] = {}  # acknowledged once per read, not per frame
        for event in self._h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self._start(event.stream_id, event.headers)
            elif isinstance(event, h2.events.DataReceived):
                stream = event.stream_id
                received[stream] = received.get(stream, 0) + event.flow_controlled_length
                call = self._calls.get(stream)
                if call is not None:
                    call.body += event.data
                    if call.inbox is not None:
                        self._messages(call.body, call.inbox)
                        call.waiting = call.waiting and not call.inbox
            elif isinstance(event, h2.events.StreamEnded):
                call = self._calls.get(event.stream_id)
                if call is not None and call.inbox is not None:
                    call.inbox.append(None)  # the engine will send nothing more
                    call.waiting = False
                elif call is not None and call.trailers is None:  # (not answered already)
                    self._answer_or_fail(event.stream_id, call)
            elif isinstance(event, h2.events.StreamReset):
                call = self._calls.pop(event.stream_id, None)
                if call is not None and call.transfer is not None:
                    call.transfer.close()  # e.g. the build was cancelled
            elif isinstance(event, h2.events.ConnectionTerminated):
                return True
        for stream, size in received.items():
            self._h2.acknowledge_received_data(size, stream)
        return False

    def _start(self, stream_id: int, headers) -> None:
        path = dict(headers).get(":path", "")
        self.calls.append(path)
        call = self._calls[stream_id] = _Call(path)
        if path == DIFFCOPY and self.sources is not None:
            metadata: dict[str, list[str]] = {}
            for name, value in headers:
                if not name.startswith(":"):
                    metadata.setdefault(name, []).append(value)
            self._h2.send_headers(
                stream_id, [(":status", "200"), ("content-type", "application/grpc")]
            )
            name = (metadata.get("dir-name") or [""])[0]
            source = self.sources.get(name)
            if source is None:
                call.trailers = _trailers(NOT_FOUND, f"no access allowed to dir {name!r}")
                return
            call.inbox = deque()
            sent = Sent()
            if name == "context":
                self._sent.append(sent)
            else:
                self.dockerfile_sent = sent
            call.transfer = transfer(source, metadata, call.inbox, sent)

    def _messages(self, body: bytearray, inbox: deque[Packet | None]) -> None:
        """Whole gRPC messages (a flag byte, a 4-byte length, the protobuf) of a transfer's
        ``body`` so far to its ``inbox``."""
        while len(body) >= 5:
            size = int.from_bytes(body[1:5], "big")
            if len(body) < 5 + size:
                return
            message = bytes(body[5 : 5 + size])
            del body[: 5 + size]
            try:
                inbox.append(Packet.decode(message))
            except (ValueError, IndexError):
                inbox.append(None)  # garbage: the transfer ends

    def _answer_or_fail(self, stream_id: int, call: _Call) -> None:
        body = bytes(call.body)
        try:
            status, message, reply = self._answer(call.path, body)
        except Exception:  # noqa: BLE001 - a malformed request fails alone, not the session
            status, message, reply = INTERNAL, "", b""
        self._h2.send_headers(stream_id, [(":status", "200"), ("content-type", "application/grpc")])
        if status == OK:
            self._queue(call, reply)
        call.trailers = _trailers(status, message)

    def _answer(self, path: str, body: bytes) -> tuple[int, str, bytes]:
        # One gRPC message: a flag byte, a 4-byte length, the protobuf.
        request = body[5 : 5 + int.from_bytes(body[1:5], "big")] if len(body) >= 5 else b""
        if path == HEALTH:
            return OK, "", b"\x08\x01"  # HealthCheckResponse{status: SERVING}
        if path == SECRETS:
            secret_id = string(request, 1)
            if secret_id in self.secrets:
                return OK, "", bytes_field(1, self.secrets[secret_id])
            return NOT_FOUND, f"secret {secret_id} not found", b""
        if path == CREDENTIALS:
            try:
                found = self.credentials(string(request, 1))
            except Exception:  # noqa: BLE001 - e.g. a broken credential helper: anonymous
                found = None
            return OK, "", (bytes_field(1, found[0]) + bytes_field(2, found[1])) if found else b""
        return UNIMPLEMENTED, f"{path} is not served by docker_magics", b""

    def _queue(self, call: _Call, message: bytes | bytearray) -> None:
        """One gRPC message (a flag byte, a 4-byte length, the protobuf) to send, uncopied."""
        call.out.append(memoryview(b"\x00" + len(message).to_bytes(4, "big")))
        call.out.append(memoryview(message))
        call.queued += 5 + len(message)

    def _pump(self) -> bool:
        """Sends what flow control allows, pulling up to ``ROUND`` more messages from each
        transfer while little of it is queued; a finished call gets its trailers.
        True when a transfer could go on at once (the round ended, not the room)."""
        more = False
        for stream_id, call in list(self._calls.items()):
            pulled = 0
            while call.transfer is not None and not call.waiting and call.queued < OUT_LIMIT:
                if pulled == ROUND:
                    more = True
                    break
                message = self._next(call)
                if message is None:
                    break
                pulled += 1
                self._queue(call, message)
            self._flush(stream_id, call)
            if call.transfer is not None and not call.waiting and call.queued < OUT_LIMIT:
                more = True  # all it had queued went out: it can give more now
        return more

    def _next(self, call: _Call) -> bytes | bytearray | None:
        """The transfer's next message; None while it waits for the engine (``waiting``),
        or when it ended (then with its trailers set)."""
        if call.transfer is None:
            return None
        try:
            message = next(call.transfer)
        except StopIteration:
            status, why = OK, ""
        except EngineAborted as exc:
            status, why = UNKNOWN, str(exc)
        except Exception as exc:  # noqa: BLE001 - a file we cannot send fails the build
            if isinstance(exc, DockerMagicsError):
                error = exc
            else:
                error = ContextChanged(f"Cannot send the build context ({exc})", "")
            if self.context_error is None:
                self.context_error = error
            status, why = UNKNOWN, str(error)
            # As fsutil's sender does: the engine's receiver fails with our words.
            packet = encode_packet(ERR, data=why.encode())
            self._queue(call, packet)
        else:
            if message is None:  # filesync.WAIT
                call.waiting = not call.inbox
            return message
        call.transfer = None
        call.trailers = _trailers(status, why)
        return None

    def _flush(self, stream_id: int, call: _Call) -> None:
        """What flow control allows of the call's messages, as DATA frames of our own making
        (h2 would copy every byte three times and cost some 30 us a frame, and frames are at
        most 16 KiB: 20,000 of them for a 300 MB context); h2 keeps the windows' count and
        writes everything else. Small messages share a frame."""
        import h2.exceptions

        h2c = self._h2
        try:
            window = h2c.local_flow_control_window(stream_id)
            most = h2c.max_outbound_frame_size
            sent = 0
            while call.out and window > 0:
                room = min(window, most)
                pieces, size = [], 0
                while call.out and size < room:
                    chunk = call.out[0]
                    if len(chunk) > room - size:
                        call.out[0] = chunk[room - size :]
                        chunk = chunk[: room - size]
                    else:
                        call.out.popleft()
                    pieces.append(chunk)
                    size += len(chunk)
                if not sent:  # after what h2 has to send first (this stream's headers)
                    self._wire.append(h2c.data_to_send())
                # A DATA frame: length, type 0, no flags, the stream.
                self._wire.append(size.to_bytes(3, "big") + b"\0\0" + stream_id.to_bytes(4, "big"))
                self._wire += pieces
                window -= size
                sent += size
            if sent:
                call.queued -= sent
                h2c.outbound_flow_control_window -= sent
                h2c.streams[stream_id].outbound_flow_control_window -= sent
            if call.trailers is not None and not call.out:
                h2c.send_headers(stream_id, call.trailers, end_stream=True)
                del self._calls[stream_id]
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
            # The engine reset it meanwhile.
            if call.transfer is not None:
                call.transfer.close()
            self._calls.pop(stream_id, None)

    def _send(self) -> None:
        """Writes our frames and h2's, in order, in one go."""
        self._wire.append(self._h2.data_to_send())
        out = b"".join(self._wire)
        self._wire.clear()
        if out:
            self._io.write(out)


class _Transport:
    """The upgraded connection, whatever carries it: a unix or TCP socket, TLS, or SSH
    (paramiko's channel, or the ``ssh`` program). ``read`` goes through what the HTTP client
    already buffered (the engine may speak right after its 101); ``fileno`` is what to wait
    on for more; ``shutdown`` makes a blocked read return."""

    # Each carrier has its own: set in __init__.
    read: Callable[[], bytes]
    write: Callable[[bytes], object]
    fileno: int
    pending: Callable[[], bool]  # bytes to read without waiting on ``fileno``
    shutdown: Callable[[], object]

    def __init__(self, response, sock) -> None:
        import socket
        import ssl

        fp = response.raw._fp.fp
        self._first = True  # what the HTTP client buffered is read before waiting
        if not hasattr(fp, "read1"):  # paramiko's ChannelFile
            channel = fp.channel
            buffered = [bytes(fp._rbuffer)] if fp._rbuffer else []
            fp._rbuffer = b""
            self.read = lambda: buffered.pop() if buffered else channel.recv(65536)
            self.write = channel.sendall
            self.fileno = channel.fileno()
            self.pending = lambda: bool(buffered) or channel.recv_ready()
            self.shutdown = lambda: channel.shutdown(2)
            return
        # A BufferedReader: read1 returns what it holds, or does one read of the socket (it
        # never keeps bytes back), so waiting on the file descriptor is right afterwards.
        self._read1 = fp.read1
        self.read, self.pending = self._read_buffered, self._buffered_pending
        if hasattr(sock, "proc"):  # docker-py's SSHSocket: the ssh program's pipes
            self.fileno = fp.fileno()
            self.write = sock.sendall
            self.shutdown = sock.close
            self._ssl = None
            return
        raw = sock if isinstance(sock, socket.socket) else sock._sock
        self.fileno = raw.fileno()
        self.write = raw.sendall
        self._ssl = raw if isinstance(raw, ssl.SSLSocket) else None
        # The plain socket's shutdown: on a TLS socket the ssl module's would drop the TLS
        # state under the reading thread.
        self.shutdown = lambda: socket.socket.shutdown(raw, socket.SHUT_RDWR)

    def _read_buffered(self) -> bytes:
        self._first = False
        return self._read1(65536)

    def _buffered_pending(self) -> bool:
        """Whether bytes are there to read without waiting on the descriptor (buffered by
        the HTTP client, or decrypted already by TLS)."""
        return self._first or (self._ssl is not None and self._ssl.pending() > 0)
