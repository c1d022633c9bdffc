"""Operations on the engine as generators of typed events. No IPython, no widgets.

A generator's ``finally`` is where the engine gets cleaned up: when the consumer stops early
(an error, or ``KeyboardInterrupt`` raised anywhere in the loop), closing the response makes
the engine cancel the work, and any container it had started for it is removed.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from docker_magics.engine import events as ev

if TYPE_CHECKING:
    import requests

CLEANUP_WAIT = 10.0  # seconds to wait for the engine to drop a cancelled build's containers


def build(
    client,
    params: list[tuple[str, str]],
    body: Generator[bytes, None, None] | None,
    parser,
    registry_config: str | None = None,
    on_response=None,
) -> Iterator[ev.Event]:
    """``POST /build`` with ``params``, sending ``body`` (the context's tar chunks; None when
    a BuildKit session serves the files), and yield what ``parser`` (the classic builder's or
    BuildKit's) makes of the engine's messages as they arrive. ``registry_config``: the
    credentials header for pulling base images from private registries. ``on_response(api,
    response)``: called once the engine has answered (a watch may shut its socket down).

    Raises what docker-py/requests raise for transport errors (the caller explains them);
    failures the engine reports in the stream come out as ``EngineFailure`` events.
    """
    api = client.api
    headers = {"Content-Type": "application/x-tar"}
    if registry_config:
        headers["X-Registry-Config"] = registry_config
    containers: set[str] = set()
    response = None
    finished = False
    try:
        response = api._post(
            api._url("/build"),
            params=params,
            data=body,
            headers=headers,
            stream=True,
            timeout=None,  # a silent RUN step may take as long as it takes
        )
        api._raise_for_status(response)
        if on_response is not None:
            on_response(api, response)
        for message in api._stream_helper(response, decode=True):
            for event in parser.feed(message):
                if isinstance(event, ev.StepContainer):
                    containers.add(event.container_id)
                yield event
        yield from parser.close()
        finished = True
    finally:
        if body is not None:
            # Stopped while it was sent: an interrupt's traceback would keep it (and the
            # file it reads, or tar) alive. Closing a finished one does nothing.
            body.close()
        if response is not None:
            response.close()  # on an early exit this is what cancels the build
        if not finished and containers:
            remove_containers(api, containers)


def remove_containers(api, ids: set[str], wait: float = CLEANUP_WAIT) -> None:
    """Make sure the containers are gone: the engine removes a cancelled build's container
    itself; if it has not after a moment, force it."""
    from docker.errors import APIError, NotFound

    deadline = time.monotonic() + wait
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for cid in list(pending):
            try:
                api.inspect_container(cid)
            except NotFound:
                pending.discard(cid)
        if pending:
            time.sleep(0.25)
            if time.monotonic() > deadline - wait / 2:
                for cid in list(pending):
                    try:
                        api.remove_container(cid, force=True)
                    except NotFound:
                        pending.discard(cid)
                    except APIError:
                        pass  # removal already in progress


def _stream(api, response, parser) -> Iterator[ev.Event]:
    try:
        api._raise_for_status(response)
        for message in api._stream_helper(response, decode=True):
            yield from parser.feed(message)
    finally:
        response.close()  # on an early exit this is what cancels the transfer


def push(client, repository: str, tag: str | None, auth_header: str) -> Iterator[ev.Event]:
    """Push ``repository`` (one tag, or all its tags when ``tag`` is None)."""
    api = client.api
    response = api._post(
        api._url("/images/{0}/push", repository),
        params={"tag": tag} if tag else {},
        headers={"X-Registry-Auth": auth_header},
        stream=True,
        # The engine reports progress all along: silence this long means a hung registry.
        timeout=api.timeout,
    )
    yield from _stream(api, response, ev.TransferParser())


def pull(
    client, repository: str, tag: str | None, auth_header: str, platform: str | None = None
) -> Iterator[ev.Event]:
    """Pull ``repository:tag`` (a digest goes in ``tag`` too; None means all tags)."""
    api = client.api
    params = {"fromImage": repository, "tag": tag or ""}
    if platform:
        params["platform"] = platform
    response = api._post(
        api._url("/images/create"),
        params=params,
        headers={"X-Registry-Auth": auth_header},
        stream=True,
        timeout=api.timeout,  # silence this long means a hung registry
    )
    yield from _stream(api, response, ev.TransferParser())


def login(client, registry: str, username: str, password: str) -> dict:
    """Ask the engine to check credentials with the registry (``POST /auth``)."""
    api = client.api
    body = {"username": username, "password": password, "serveraddress": registry}
    response = api._post_json(api._url("/auth"), data=body)
    return api._result(response, json=True)


def attach(api, container_id: str) -> tuple[requests.Response, Iterator[ev.Event]]:
    """Attach to a container's stdout and stderr (before starting it, so nothing is missed).
    Returns the HTTP response (close it to detach) and the output events."""
    response = api._post(
        api._url("/containers/{0}/attach", container_id),
        # No "logs": attached before the start, nothing is missed; with logs=1 the engine may
        # replay a line it also streams (output written while it sets the attach up).
        params={"logs": 0, "stdout": 1, "stderr": 1, "stream": 1},
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        stream=True,
        timeout=None,
    )
    return response, _output(api, response)


def wait(api, container_id: str, *, removed: bool = False):
    """``POST /containers/{id}/wait``, sent before the container starts: the engine answers
    the headers at once and the exit code when it ends (``removed``: once it has removed it,
    for AutoRemove containers). Returns the response, for :func:`exit_code`; close it on
    every path."""
    response = api._post(
        api._url("/containers/{0}/wait", container_id),
        params={"condition": "removed" if removed else "next-exit"},
        stream=True,
        timeout=None,  # a container may run for hours
    )
    try:
        api._raise_for_status(response)
    except BaseException:
        response.close()
        raise
    return response


def exit_code(response) -> int:
    """The exit code a :func:`wait` response brings (it blocks until the container ends)."""
    import json

    answer = json.loads(response.raw.read() or b"{}")
    return int(answer.get("StatusCode", -1))


def logs(
    api, container_id: str, *, tty: bool, follow: bool, tail: int | None, timestamps: bool
) -> tuple[requests.Response, Iterator[ev.Event]]:
    """A container's logs, stdout and stderr kept apart (a TTY container has one stream);
    ``follow`` until it stops."""
    params = {
        "stdout": 1,
        "stderr": 1,
        "follow": int(follow),
        "timestamps": int(timestamps),
        "tail": "all" if tail is None else tail,
    }
    response = api._get(
        api._url("/containers/{0}/logs", container_id), params=params, stream=True, timeout=None
    )
    api._raise_for_status(response)

    def output() -> Iterator[ev.Event]:
        # Unlike attach, the connection is not hijacked: the output comes in an HTTP body,
        # multiplexed in frames unless the container has a TTY.
        api._disable_socket_timeout(api._get_raw_response_socket(response))
        splitter = ev.OutputSplitter(keep_raw=True)
        if tty:
            for data in response.iter_content(chunk_size=None):
                yield from splitter.feed("stdout", data)
        else:
            while header := response.raw.read(8):
                if len(header) < 8:
                    break  # the container's log ended mid-frame
                stream_id, length = struct.unpack(">BxxxL", header)
                data = response.raw.read(length) if length else b""
                yield from splitter.feed("stderr" if stream_id == 2 else "stdout", data)
        yield from splitter.close()

    return response, output()


def _output(api, response) -> Iterator[ev.Event]:
    """The multiplexed frames of a non-TTY container stream, as output events."""
    from docker.utils.socket import frames_iter

    sock = api._get_raw_response_socket(response)  # raises the HTTP error, if any
    api._disable_socket_timeout(sock)  # a silent container may run for hours
    splitter = ev.OutputSplitter(keep_raw=True)
    for stream_id, data in frames_iter(sock, tty=False):
        yield from splitter.feed("stderr" if stream_id == 2 else "stdout", data)
    yield from splitter.close()


def archive(api, container_id: str, path: str) -> tuple[Any, Iterator[bytes]]:
    """``GET /containers/{id}/archive``: a tar of ``path`` in the container. Returns the HTTP
    response, which the caller must close on every path (while it is open the engine holds
    the container: inspecting or removing it waits), and its chunks. Raises docker-py's
    ``NotFound``/``APIError`` as ``get_archive`` does."""
    response = api._get(
        api._url("/containers/{0}/archive", container_id),
        params={"path": path},
        stream=True,
        headers={"Accept-Encoding": "identity"},
    )
    try:
        api._raise_for_status(response)
        api._disable_socket_timeout(api._get_raw_response_socket(response))
    except BaseException:
        response.close()
        raise
    return response, response.iter_content(64 * 1024, False)


def remove_container(api, container_id: str) -> None:
    """Kill and remove, whatever state it is in."""
    from docker.errors import NotFound

    try:
        api.remove_container(container_id, force=True, v=True)
    except NotFound:
        pass
