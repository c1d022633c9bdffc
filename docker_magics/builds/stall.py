"""A BuildKit build waiting on the registry of a base image that takes the connection and
never answers: BuildKit's resolver has no timeout of its own, so the build would wait
forever. The watch stops it once the build has been silent, resolving a base image, for the
connection's timeout, and says which registry hung."""

from __future__ import annotations

import socket
import threading
import time

from docker_magics.errors import EngineError

RESOLVING = "[internal] load metadata for "  # BuildKit's step for a base image's manifest


class BaseImageWatch:
    """Watches a BuildKit build's recorder from a thread; ``attach`` it to the build's HTTP
    response (shutting its socket down is what stops the build on the engine)."""

    def __init__(self, recorder, timeout: float) -> None:
        self.recorder, self.timeout = recorder, timeout
        self.hung: str | None = None  # the base image whose registry never answered
        self._stop = threading.Event()

    def attach(self, api, response) -> None:
        try:
            sock = api._get_raw_response_socket(response)
        except Exception:  # noqa: BLE001 - no socket to stop: no watch
            return
        sock = getattr(sock, "_sock", sock)  # unix sockets come wrapped in a SocketIO
        if not hasattr(sock, "shutdown"):
            return
        threading.Thread(target=self._watch, args=(sock,), daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self, sock) -> None:
        seen, since = self.recorder.version, time.monotonic()
        while not self._stop.wait(min(1.0, self.timeout / 4)):
            if self.recorder.version != seen:  # something happened: not hung
                seen, since = self.recorder.version, time.monotonic()
                continue
            waiting = [
                s.name[len(RESOLVING) :]
                for s in list(self.recorder.steps.values())
                if s.status == "running" and s.name.startswith(RESOLVING)
            ]
            if waiting and time.monotonic() - since >= self.timeout:
                self.hung = waiting[0]
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # the read in the build's loop ends
                except OSError:
                    pass
                return

    def error(self) -> EngineError:
        from docker_magics.builds.failures import _registry_of

        image = self.hung or "the base image"
        registry = _registry_of(image) or "of the base image"
        return EngineError(
            f"The registry {registry} has not answered for {self.timeout:g}s about the base "
            f"image {image}: it may be hung. The build was stopped",
            "Check that the registry runs and answers, or allow more time with %config "
            "DockerMagics.timeout",
        )
