"""The one loop every operation runs: events from the engine -> redacted -> the recorder (the
state) and the renderer (what the user sees), with one way to end.

An :class:`Operation` says what is particular to it (how its events start, what an interrupt
or a transport failure means, what to clean up, what its result is); :func:`drive` does the
rest, the same way for builds, pushes, pulls, runs, logs and jobs:

- the renderer is started, and always finished, with the error line or the summary (and a
  result whose summary the renderer showed is not shown again as the cell's result:
  :mod:`~docker_magics.display.once`);
- every event is redacted before anyone sees it;
- Ctrl-C closes the event stream (which cancels the work on the engine) and ends in the
  operation's one-line ``Interrupted`` (a ``KeyboardInterrupt``);
- our own errors pass as they are; anything else is explained by the operation in one line;
- ``cleanup`` runs on every path, before the result or the error is made.

Never imports a feature package: operations come to it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Generic, TypeVar

from docker_magics.display.once import said
from docker_magics.errors import DockerMagicsError, Interrupted
from docker_magics.redaction import redact_event

R = TypeVar("R")
Failure = DockerMagicsError | Interrupted


class Operation(Generic[R]):
    """What one kind of work on the engine needs to say; see :func:`drive`.

    Subclasses set ``recorder`` and ``renderer`` and define :meth:`events` and
    :meth:`conclude`; the other hooks have defaults."""

    recorder: Any
    renderer: Any

    def events(self) -> Generator[Any, None, None]:
        """Start the work and yield its events. Closing the iterator must stop the work on
        the engine (a generator's ``finally``)."""
        raise NotImplementedError

    def interrupted(self) -> Interrupted | None:
        """The line for Ctrl-C, once the stream is closed; None when stopping is a normal
        end (following logs)."""
        return Interrupted("Interrupted; the work was stopped on the engine")

    def explain(self, exc: Exception) -> DockerMagicsError:
        """One line for an exception that is not ours (transport errors, a lost engine)."""
        raise NotImplementedError

    def cleanup(self, error: Failure | None) -> None:
        """Whatever must go, on every path (a session, a container)."""

    def conclude(self, error: Failure | None) -> tuple[R, str]:
        """The result and its summary line; raise the error (``error``, or one found in
        the recorder) instead when the work failed."""
        if error is not None:
            raise error
        raise NotImplementedError


def drive(op: Operation[R]) -> R:
    """Run ``op`` to its end: see the module's docstring."""
    renderer = op.renderer
    try:
        renderer.start()
    except BaseException:
        op.cleanup(None)
        raise
    error = _follow(op)
    try:
        op.cleanup(error)
        result, summary = op.conclude(error)
    except (DockerMagicsError, Interrupted) as failed:
        renderer.interrupted = isinstance(failed, Interrupted)
        renderer.finish(str(failed))
        raise
    except BaseException as unexpected:
        renderer.interrupted = isinstance(unexpected, KeyboardInterrupt)
        renderer.finish(f"{type(unexpected).__name__}: {unexpected}")
        raise
    renderer.finish(None, summary)
    if summary and getattr(renderer, "shows", False):
        said(result)  # the view showed its summary: the cell's result need not repeat it
    return result


def _follow(op: Operation) -> Failure | None:
    """Feed the events to the recorder and the renderer; the failure, if any."""
    stream = None
    try:
        stream = op.events()
        for event in stream:
            event = redact_event(event)  # e.g. a RUN step that prints a secret build argument
            op.recorder.handle(event)
            op.renderer.handle(event)
    except KeyboardInterrupt:
        if stream is not None:
            stream.close()  # cancels the work on the engine if it is still running
        return op.interrupted()
    except DockerMagicsError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - every transport failure becomes one line
        return op.explain(exc)
    finally:
        if stream is not None:
            stream.close()
    return None
