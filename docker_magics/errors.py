"""The project's exceptions: each carries one line saying what happened and what to do.

The magics turn any of them into IPython's ``UsageError`` (one line, no traceback); the
Python API lets them propagate so callers can catch them by type.
"""

from __future__ import annotations


class OneLine(BaseException):
    """A one-line message made of what happened and what to do (``str(err)``): the base of
    the expected failures (an ``Exception``) and of ``Interrupted`` (not one)."""

    # The work's result so far (a build's steps and log, a run's output...), for the
    # failures that come with one: ``docker_magics.last_build()`` and the like return it.
    result: object | None = None

    def __init__(self, what: str, hint: str = "") -> None:
        self.what = what.rstrip(". ")
        self.hint = hint.strip()
        super().__init__(self.line)

    @property
    def line(self) -> str:
        line = self.what + "."
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


def _shorten(word: str, width: int = 120) -> str:
    return word if len(word) <= width else f"{word[: width // 2]}…({len(word)} characters)"


class BadArgument(DockerMagicsError):
    """The user passed an option or value that cannot work (caught before any request)."""


class MaybeSecretArgument(BadArgument):
    """An argument that may be a password typed in the wrong place: not repeated, and the
    cell is taken out of IPython's history."""


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
