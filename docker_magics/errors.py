"""The project's exceptions: each carries one line saying what happened and what to do.

The magics turn any of them into IPython's ``UsageError`` (one line, no traceback); the
Python API lets them propagate so callers can catch them by type.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator


class Quoting(str):
    """A message that ends with output quoted as it was written (a command's last line,
    ``make: *** [all] Error 2``): no full stop is added after it (it would read as part of
    the output, or take the output's own away), so it carries no hint either."""


class OneLine(BaseException):
    """A one-line message made of what happened and what to do (``str(err)``): the base of
    the expected failures (an ``Exception``) and of ``Interrupted`` (not one)."""

    # The work's result so far (a build's steps and log, a run's output...), for the
    # failures that come with one: ``docker_magics.last_build()`` and the like return it.
    result: object | None = None

    def __init__(self, what: str, hint: str = "") -> None:
        self.quoting = isinstance(what, Quoting)
        self.what = str(what).rstrip() if self.quoting else what.rstrip(". ")
        self.hint = "" if self.quoting else hint.strip()
        super().__init__(self.line)

    @property
    def line(self) -> str:
        line = self.what + ("" if self.quoting else ".")
        if self.hint:
            line += " " + self.hint.rstrip(".")
            line += "" if line.endswith(("?", "!")) else "."
        # Never let a multi-line daemon message break the one-line promise, nor an enormous
        # argument (a pasted file, binary garbage) drown it; never show a known secret (an
        # engine error may quote a request URL with build arguments in it).
        from docker_magics.redaction import redact

        return redact(" ".join(_shorten(word) for word in line.split()))

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the Python API's expected failures end
        # in one line in a notebook too (`%tb` or `traceback` still give the full story).
        return [f"{type(self).__name__}: {self}"]


class DockerMagicsError(OneLine, Exception):
    """Base class of the expected failures. ``str(err)`` is the one line shown to the user."""


_IN_MAGIC: contextvars.ContextVar[bool] = contextvars.ContextVar("in_magic", default=False)


def how(magic: str, python: str) -> str:
    """What to do, in the words of whoever asked: ``magic`` while a magic runs (``--file
    PATH``, ``%docker_images lists them``), ``python`` for the Python API (``file=PATH``,
    ``docker_magics.images() lists them``)."""
    return magic if _IN_MAGIC.get() else python


# The Python API's name of a magic's option, where it is not the option's own name.
_PARAMETERS = {
    "--tag": "tags", "-t": "tags", "--secret": "secrets", "--build-arg": "build_args",
    "--secret-build-arg": "secret_build_args", "--label": "labels", "--filter": "filters",
    "--env-file": "env_files", "--header": "headers", "-v": "volumes", "-p": "ports",
    "-e": "env", "--rm": "remove", "-d": "detach", "-a": "all_tags", "-f": "file",
    "-w": "workdir", "--constraint": "constraints",
}  # fmt: skip


def option(flag: str) -> str:
    """An option by the caller's name for it: ``--secret`` in a magic, ``secrets`` in
    Python."""
    if _IN_MAGIC.get():
        return flag
    return _PARAMETERS.get(flag) or flag.lstrip("-").replace("-", "_")


def usage(flag: str, value: str | None = None) -> str:
    """How to give an option, in the caller's words: ``--file PATH`` or ``file='PATH'``;
    a switch (no value): ``--tlsverify`` or ``tlsverify=True``."""
    if _IN_MAGIC.get():
        return flag if value is None else f"{flag} {value}"
    return f"{option(flag)}={True if value is None else repr(value)}"


@contextlib.contextmanager
def in_magic() -> Iterator[None]:
    """Messages made inside speak a magic's words (see :func:`how`)."""
    token = _IN_MAGIC.set(True)
    try:
        yield
    finally:
        _IN_MAGIC.reset(token)


def _shorten(word: str, width: int = 120) -> str:
    return word if len(word) <= width else f"{word[: width // 2]}…({len(word)} characters)"


class BadArgument(DockerMagicsError):
    """The user passed an option or value that cannot work (caught before any request)."""


class MaybeSecretArgument(BadArgument):
    """An argument that may be a password typed in the wrong place: not repeated, and the
    cell is taken out of IPython's history."""

    # What the user must do: a kernel cannot change the notebook's copy of a cell.
    DELETE = (
        "If you typed a password in this line, delete it from the cell: the notebook keeps "
        "the cell as you typed it (IPython's history no longer has it)"
    )


class ConnectFailed(DockerMagicsError):
    """The engine could not be reached, or refused the connection."""


class TLSFailed(ConnectFailed):
    """The TLS handshake with the engine failed (certificates, CA, hostname, TLS vs plain)."""


class EngineError(DockerMagicsError):
    """The engine answered, but with an error."""


class WorkFailed(EngineError):
    """Work on the engine failed after it started; ``result`` keeps what it did so far."""

    def __init__(self, what: str, hint: str = "", *, result=None) -> None:
        super().__init__(what, hint)
        self.result = result


class BuildFailed(WorkFailed):
    """The build failed; ``result`` holds the steps and the full log so far."""


class RunFailed(WorkFailed):
    """The container exited with a non-zero code; ``result`` has its output."""


class NotebookFailed(WorkFailed):
    """A notebook run in a container failed (a cell raised, timed out, or its kernel died);
    ``result`` has each cell's status and the path of the executed copy, which is kept."""


class JobFailed(WorkFailed):
    """Tasks of a job failed, or it could not go on; ``result`` has every task's outcome."""


class FetchFailed(DockerMagicsError):
    """Packages could not be fetched from the package index (``%docker_freeze``)."""


class Interrupted(OneLine, KeyboardInterrupt):
    """The user interrupted the work; it was stopped on the engine.

    A ``KeyboardInterrupt`` (not an ``Exception``): a loop of API calls guarded by
    ``except Exception`` still stops on Ctrl-C. The magics show it as one line too."""


class UnencryptedEngineWarning(UserWarning):
    """A plain-HTTP connection to an engine that is not on this machine."""


class CredentialHelperWarning(UserWarning):
    """The Docker config names a credential helper that could not be asked."""
