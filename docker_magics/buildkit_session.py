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
OK, NOT_FOUND, UNIMPLEMENTED = 0, 5, 12


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

        api = self.api
        headers = {
            "Connection": "Upgrade",
            "Upgrade": "h2c",
            "X-Docker-Expose-Session-Uuid": self.id,
            "X-Docker-Expose-Session-Name": "docker-magics",
            "X-Docker-Expose-Session-Sharedkey": self.id,
            "X-Docker-Expose-Session-Grpc-Method": ", ".join((HEALTH, SECRETS, CREDENTIALS)),
        }
        response = api._post(api._url("/session"), headers=headers, stream=True)
        sock = api._get_raw_response_socket(response)  # raises the HTTP error, if any
        self._response = response
        # Read through urllib3's buffer (it may hold the first bytes after the 101), write
        # to the socket itself.
        self._reader = response.raw._fp.fp
        self._send = sock.sendall if hasattr(sock, "sendall") else sock._sock.sendall
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self._h2 = h2.connection.H2Connection(config=config)
        self._h2.initiate_connection()
        self._send(self._h2.data_to_send())
        self._thread = threading.Thread(target=self._serve, daemon=True, name="buildkit-session")
        self._thread.start()

    def close(self) -> None:
        if self._response is not None:
            self._response.close()  # the engine ends the session when the connection goes
            self._response = None
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    # -- serving ---------------------------------------------------------------------------

    def _serve(self) -> None:
        import h2.events

        requests: dict[int, list] = {}  # stream -> [path, body]
        self._pending: dict[int, list] = {}  # stream -> [data still to send, trailers]
        try:
            while data := self._reader.read1(65536):
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
                            self._answer(event.stream_id, path, body)
                    elif isinstance(event, h2.events.StreamReset):
                        requests.pop(event.stream_id, None)
                        self._pending.pop(event.stream_id, None)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                self._flush()
        except Exception:  # noqa: BLE001 - the connection closed under us: the session is over
            return

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
