"""A BuildKit session: the services the engine calls back during a BuildKit build, served
as ``docker buildx`` serves them, over a hijacked ``POST /session`` connection on which the
engine speaks gRPC (HTTP/2) and we answer:

- ``moby.buildkit.secrets.v1.Secrets/GetSecret``: build secrets (``RUN --mount=type=secret``),
  which reach the ``RUN`` step only, never a layer or the image's history;
- ``moby.filesync.v1.Auth/Credentials``: registry credentials for the build's own pulls;
- ``grpc.health.v1.Health/Check``: the engine's liveness probe.

Any other method answers UNIMPLEMENTED, which BuildKit handles (token auth falls back to
credentials, for example). The messages are a few small strings: a few lines of protobuf
wire format (and :func:`buildkit.fields` to read) instead of a generated gRPC stack. HTTP/2
framing comes from the pure-Python ``h2`` package.
"""

from __future__ import annotations

import struct
import threading
import uuid
from collections.abc import Callable, Mapping

from .buildkit import fields

SECRETS = "/moby.buildkit.secrets.v1.Secrets/GetSecret"
CREDENTIALS = "/moby.filesync.v1.Auth/Credentials"
HEALTH = "/grpc.health.v1.Health/Check"
MAX_SECRET = 500 * 1024  # BuildKit refuses larger secrets

# gRPC status codes
OK, NOT_FOUND, UNIMPLEMENTED, INTERNAL = 0, 5, 12, 13


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: bytes | str) -> bytes:
    """A length-delimited protobuf field (strings and bytes); empty ones are left out."""
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data if data else b""


def _string(message: bytes, number: int) -> str:
    return next((v.decode() for n, v in fields(message) if n == number), "")


class BuildSession:
    """Open with :meth:`open` (or ``with``), pass :attr:`id` as the build's ``session``
    parameter, close when the build is over. ``credentials(host)`` returns
    ``(username, secret)`` or None; ``secrets`` maps ids to values."""

    def __init__(
        self,
        api,
        *,
        secrets: Mapping[str, bytes] | None = None,
        credentials: Callable[[str], tuple[str, str] | None] = lambda host: None,
    ) -> None:
        self.api = api
        self.secrets = dict(secrets or {})
        self.credentials = credentials
        self.id = uuid.uuid4().hex
        self.calls: list[str] = []  # the methods the engine called, for the curious
        self.error: BaseException | None = None  # why the session ended early, if it did
        self._closing = False
        self._response = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BuildSession:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
                "X-Docker-Expose-Session-Sharedkey": self.id,
            },
        )
        prepared = api.prepare_request(request)  # with the connection's own headers
        # One header line per method, as buildx sends them (requests would join them).
        headers = HTTPHeaderDict(prepared.headers)
        for method in (HEALTH, SECRETS, CREDENTIALS):
            headers.add("X-Docker-Expose-Session-Grpc-Method", method)
        prepared.headers = headers
        response = api.send(prepared, stream=True, timeout=api.timeout)
        try:
            sock = api._get_raw_response_socket(response)  # raises the HTTP error, if any
            api._disable_socket_timeout(sock)  # quiet for minutes during a long build is fine
            self._read, self._send, self._wake = _transport(response, sock)
        except BaseException:
            response.close()
            raise
        self._response = response
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self._h2 = h2.connection.H2Connection(config=config)
        self._h2.initiate_connection()
        self._send(self._h2.data_to_send())
        self._thread = threading.Thread(target=self._serve, daemon=True, name="buildkit-session")
        self._thread.start()

    def close(self) -> None:
        if self._response is None:
            return
        self._closing = True
        try:
            self._wake()  # the serving thread's read returns: nothing waits on the engine
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        self._response.close()  # the engine ends the session when the connection goes
        self._response = None

    # -- serving ---------------------------------------------------------------------------

    def _serve(self) -> None:
        import h2.events

        requests: dict[int, list] = {}  # stream -> [path, body]
        self._pending: dict[int, list] = {}  # stream -> [data still to send, trailers]
        try:
            while data := self._read():
                for event in self._h2.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        requests[event.stream_id] = [dict(event.headers).get(":path"), b""]
                    elif isinstance(event, h2.events.DataReceived):
                        if event.stream_id in requests:
                            requests[event.stream_id][1] += event.data
                        self._h2.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        if event.stream_id in requests:
                            path, body = requests.pop(event.stream_id)
                            self._answer_or_fail(event.stream_id, path, body)
                    elif isinstance(event, h2.events.StreamReset):
                        requests.pop(event.stream_id, None)
                        self._pending.pop(event.stream_id, None)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                self._flush()
        except Exception as exc:  # noqa: BLE001 - the connection went: the session is over
            if not self._closing:
                self.error = exc  # kept for the curious; the build reports what it missed
            return

    def _answer_or_fail(self, stream_id: int, path: str, body: bytes) -> None:
        try:
            self._answer(stream_id, path, body)
        except Exception:  # noqa: BLE001 - a malformed request fails alone, not the session
            self._h2.send_headers(
                stream_id,
                [(":status", "200"), ("content-type", "application/grpc")],
            )
            self._pending[stream_id] = [b"", [("grpc-status", str(INTERNAL))]]

    def _answer(self, stream_id: int, path: str, body: bytes) -> None:
        self.calls.append(path)
        # One gRPC message: a flag byte, a 4-byte length, the protobuf.
        request = body[5 : 5 + int.from_bytes(body[1:5], "big")] if len(body) >= 5 else b""
        status, message, reply = OK, "", b""
        if path == HEALTH:
            reply = b"\x08\x01"  # HealthCheckResponse{status: SERVING}
        elif path == SECRETS:
            secret_id = _string(request, 1)
            if secret_id in self.secrets:
                reply = _field(1, self.secrets[secret_id])
            else:
                status, message = NOT_FOUND, f"secret {secret_id} not found"
        elif path == CREDENTIALS:
            try:
                found = self.credentials(_string(request, 1))
            except Exception:  # noqa: BLE001 - e.g. a broken credential helper: anonymous
                found = None
            if found:
                reply = _field(1, found[0]) + _field(2, found[1])
        else:
            status, message = UNIMPLEMENTED, f"{path} is not served by docker_magics"
        self._h2.send_headers(stream_id, [(":status", "200"), ("content-type", "application/grpc")])
        data = b"" if status != OK else b"\x00" + struct.pack(">I", len(reply)) + reply
        trailers = [("grpc-status", str(status))] + ([("grpc-message", message)] if message else [])
        self._pending[stream_id] = [data, trailers]

    def _flush(self) -> None:
        """Send what flow control allows (a secret may be bigger than the window)."""
        for stream_id, item in list(self._pending.items()):
            data, trailers = item
            while data:
                room = min(
                    self._h2.local_flow_control_window(stream_id),
                    self._h2.max_outbound_frame_size,
                )
                if room <= 0:
                    break
                self._h2.send_data(stream_id, data[:room])
                data = data[room:]
            item[0] = data
            if not data:
                self._h2.send_headers(stream_id, trailers, end_stream=True)
                del self._pending[stream_id]
        if out := self._h2.data_to_send():
            self._send(out)


def _transport(response, sock):
    """``(read, send, wake)`` for the upgraded connection, whatever carries it: a unix or TCP
    socket, TLS, or SSH (paramiko's channel, or the ``ssh`` program). Reads go through what
    the HTTP client already buffered (the engine may speak right after its 101); ``wake``
    makes a blocked read return, so that closing never waits for the engine."""
    import socket

    fp = response.raw._fp.fp
    if not hasattr(fp, "read1"):  # paramiko's ChannelFile
        channel = fp.channel
        buffered = [bytes(fp._rbuffer)]
        fp._rbuffer = b""

        def read() -> bytes:
            return buffered.pop() if buffered and buffered[0] else channel.recv(65536)

        return read, channel.sendall, lambda: channel.shutdown(2)
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "_sock", None)
    if raw is not None:  # unix and TCP sockets (a SocketIO around them), TLS sockets
        # The plain socket's shutdown: on a TLS socket the ssl module's would drop the
        # TLS state under the reading thread.
        return (
            lambda: fp.read1(65536),
            raw.sendall,
            lambda: socket.socket.shutdown(raw, socket.SHUT_RDWR),
        )
    return lambda: fp.read1(65536), sock.sendall, sock.close  # docker-py's SSHSocket (ssh)
