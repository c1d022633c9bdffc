"""The private parts of docker-py's ``APIClient`` that the package calls, typed in one place.

docker-py has no public call for a request of our own (a build that streams our progress,
the BuildKit session's hijacked connection, a service created with this session's registry
credentials), so a few modules use its request helpers, as docker-py's own API mixins do.
Its type stubs leave them out: :class:`Internals` lists them, and tests/unit/test_types.py
checks that docker-py still has each of them, with these parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    import requests
    from docker import APIClient


class Internals(Protocol):
    def _url(self, pathfmt: str, *args: str, versioned_api: bool = True) -> str: ...

    def _get(self, url: str, **kwargs: Any) -> requests.Response: ...

    def _post(self, url: str, **kwargs: Any) -> requests.Response: ...

    def _post_json(self, url: str, data: Any, **kwargs: Any) -> requests.Response: ...

    def _raise_for_status(self, response: requests.Response) -> None: ...

    def _result(
        self, response: requests.Response, json: bool = False, binary: bool = False
    ) -> Any: ...

    def _stream_helper(
        self, response: requests.Response, decode: bool = False
    ) -> Iterator[Any]: ...

    def _get_raw_response_socket(self, response: requests.Response) -> Any: ...

    def _disable_socket_timeout(self, socket: Any) -> None: ...


def internals(api: APIClient) -> Internals:
    """``api`` itself, seen with its private request helpers."""
    return cast(Internals, api)
