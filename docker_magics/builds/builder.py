"""A build from start to end: check the inputs, pack the context, stream the engine's events
into the recorder and a renderer, and return a ``BuildResult`` or raise one clear error.

Shared by ``%%docker_build`` and ``docker_magics.build()``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from docker_magics.builds import context as ctx
from docker_magics.builds import dockerfile
from docker_magics.builds.failures import build_failure, dockerfile_rejected
from docker_magics.builds.options import BuildOptions
from docker_magics.builds.progress import build_renderer
from docker_magics.builds.result import BuildRecorder, BuildResult, Step
from docker_magics.builds.stall import BaseImageWatch
from docker_magics.display.progress import NullRenderer, cut
from docker_magics.display.tables import human_size
from docker_magics.engine import events as ev
from docker_magics.engine import streams
from docker_magics.engine.diagnose import explain
from docker_magics.engine.drive import Operation, drive
from docker_magics.engine.session import Connection
from docker_magics.errors import (
    BadArgument,
    BuildFailed,
    ConnectFailed,
    DockerMagicsError,
    EngineError,
    Interrupted,
)
from docker_magics.registry.credentials import CREDENTIALS
from docker_magics.registry.references import older_engine_refusal, parse_reference


def prepare_context(
    text: str | None, *, file: str | None, context_dir: str | None, adds: Iterable[str]
) -> tuple[ctx.BuildContext, list[dockerfile.Instruction]]:
    """Check the Dockerfile (cell text or --file) and make the context to send."""
    add_specs = [ctx.AddSpec.parse(a) for a in adds]
    if file is not None:
        if text is not None and text.strip():
            raise BadArgument(
                "Both a Dockerfile in the cell and --file were given", "Use one or the other"
            )
        path = Path(os.path.expanduser(file))
        if not path.is_file():
            raise BadArgument(f"--file {file}: no such file", "Give the path of a Dockerfile")
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise BadArgument(f"--file {file}: cannot read it ({exc.strerror})") from None
    if text is None or not text.strip():
        raise BadArgument(
            "The cell is empty: there is no Dockerfile to build",
            "Write a Dockerfile in the cell (FROM ...), or pass --file PATH",
        )
    instructions = dockerfile.parse(text)
    if context_dir is not None:
        built = ctx.from_directory(
            context_dir,
            dockerfile_text=None if file else text,
            dockerfile_path=file,
            adds=add_specs,
        )
    else:
        built = ctx.from_cell(text, add_specs)
    built.local = _local_sources(text, file, context_dir, add_specs)
    return built, instructions


def _local_sources(text: str, file: str | None, context_dir: str | None, adds):
    """The same files for a BuildKit build, which gets them over its session."""
    from docker_magics.builds.buildkit import localsource

    try:
        raw = Path(os.path.expanduser(file)).read_bytes() if file else text.encode()
    except OSError as exc:
        raise BadArgument(f"--file {file}: cannot read it ({exc.strerror})") from None
    return localsource.sources(raw, directory=context_dir, dockerfile_path=file, adds=adds)


BUILDERS = ("classic", "buildkit", "auto")


def choose_builder(conn: Connection, choice: str) -> str:
    """``auto``: BuildKit when the engine offers it over its API (Linux, API >= 1.39)."""
    if choice not in BUILDERS:
        raise BadArgument(f"Unknown builder {choice!r}", "Use classic, buildkit or auto")
    api = tuple(int(p) for p in conn.api_version.split("."))
    supported = api >= (1, 39) and conn.version.get("Os", "linux") == "linux"
    if choice == "buildkit" and not supported:
        raise BadArgument(
            f"The engine at {conn.endpoint.url} cannot build with BuildKit over its API "
            f"(API {conn.api_version}, {conn.platform})",
            "Use --builder classic",
        )
    if choice == "auto":
        return "buildkit" if supported else "classic"
    return choice


def run_build(
    conn: Connection,
    context: ctx.BuildContext,
    options: BuildOptions,
    *,
    total_steps: int | None = None,
    progress: str = "auto",
    builder: str = "classic",
    secrets: dict[str, bytes] | None = None,
    instructions: list[dockerfile.Instruction] = (),
) -> BuildResult:
    """Send the build and follow it to the end. ``total_steps``: what the classic builder
    will number (``dockerfile.classic_steps``); ``instructions`` help explain failures."""
    for tag in options.tags:
        parse_reference(tag, what="tag", allow_digest=False)
    requested = builder
    builder = choose_builder(conn, "buildkit" if secrets and builder == "auto" else builder)
    if secrets and builder != "buildkit":
        raise BadArgument(
            "--secret needs BuildKit: the classic builder has no build secrets",
            "Add --builder buildkit (or use --secret-build-arg, which masks a build argument)",
        )
    session = None
    if builder == "buildkit":
        session = _open_session(conn, secrets, context.local, fallback=requested == "auto")
        if session is None:  # auto, and the engine has no session for the files: classic
            builder = "classic"
    try:
        # BuildKit's steps (vertexes) are not the Dockerfile's instructions: no total up front.
        total = total_steps if builder == "classic" else None
        build = _Build(conn, context, options, builder, session, instructions, total)
        build.renderer = build_renderer(progress, build.recorder)
    except BaseException:
        if session is not None:
            session.close()
        raise
    return drive(build)


class _Build(Operation[BuildResult]):
    """A build on the engine, followed by :func:`~docker_magics.engine.drive.drive`."""

    def __init__(self, conn, context, options, builder, session, instructions, total) -> None:
        self.conn, self.context, self.options = conn, context, options
        self.builder, self.session, self.instructions = builder, session, instructions
        self.synced = session is not None and session.sources is not None
        title = options.tags[0] if options.tags else "an untagged image"
        self.recorder = BuildRecorder(
            title, total=total, context=context.description, builder=builder
        )
        self.recorder.engine, self.recorder.network = conn.endpoint.url, options.network
        folder = context.description.startswith("the folder")
        context.watch = _SendingNotes(self._show, always=folder)
        # BuildKit waits forever on a base image's registry that never answers: stop it.
        timeout = conn.client.api.timeout
        self.stall = BaseImageWatch(self.recorder, timeout) if builder == "buildkit" else None

    def _show(self, event: ev.Event) -> None:
        self.recorder.handle(event)
        self.renderer.handle(event)

    def events(self):
        watch = self.stall.attach if self.stall is not None else None
        stream = _stream(self.conn, self.context, self.options, self.builder, self.session, watch)
        # What the local reading has to say first (a # syntax= frontend that reads the file).
        notes = [ev.Notice(text) for text in dockerfile.notices(self.instructions, self.builder)]
        return _after(notes, stream) if notes else stream

    def interrupted(self) -> Interrupted:
        return _interrupted(self.conn, self.recorder)

    def explain(self, exc: Exception) -> DockerMagicsError:
        if self.stall is not None and self.stall.hung:
            return self.stall.error()
        said = str(getattr(exc, "explanation", "") or "")
        rejected = dockerfile_rejected(said, self.instructions)
        version = self.conn.version.get("Version", "?")
        older = older_engine_refusal(said, self.options.tags, version)  # a -t name it refuses
        error = BadArgument(rejected) if rejected else explain(exc, self.conn.endpoint)
        error = EngineError(older) if older and not rejected else error
        if isinstance(error, ConnectFailed) and self.recorder.steps:
            what = error.what[:1].lower() + error.what[1:]
            error = ConnectFailed(f"Lost the engine during the build: {what}", error.hint)
            self.conn.orphans.update(self.recorder.containers)  # removed when it is back
        return error

    def cleanup(self, error) -> None:
        if self.stall is not None:
            self.stall.stop()
        if self.session is not None:
            self.session.close()

    def conclude(self, error):
        recorder, session = self.recorder, self.session
        if self.stall is not None and self.stall.hung and not isinstance(error, Interrupted):
            error = self.stall.error()  # (the stream may have ended without an error)
        if self.synced:
            files, size = session.sent.entries, session.sent.bytes
            if session.context_error is not None and not isinstance(error, Interrupted):
                error = session.context_error  # what the engine reports as "error from sender"
        else:
            files, size = self.context.files, self.context.size
        recorder.context = f"{self.context.description}: {files:,} entries, {human_size(size)} sent"
        if error is None and recorder.failure is not None:
            error = self._failed()
        if error is None and recorder.image_id is None:
            error = EngineError("The engine ended the build without producing an image")
        if error is not None:
            recorder.fail_current()
            error.result = recorder.result(error=str(error))  # the log so far, for last_build()
            raise error
        result = recorder.result(size=_image_size(self.conn, recorder.image_id))
        return result, result.summary()

    def _failed(self) -> BuildFailed:
        failure = self.recorder.failure
        step = self.recorder.failed_step or self.recorder.current
        line = build_failure(
            failure.message,
            failure.code,
            step,
            instructions=self.instructions,
            pull=self.options.pull,
            on_engine=lambda image: _has_image(self.conn, image),
        )
        if type(self.renderer) is NullRenderer and step is not None:
            _print_tail(step)  # as `docker build -q` does: the error line points at it
        return BuildFailed(line)


def _after(notes: list[ev.Event], stream):
    """``notes``, then the engine's events (the stream is closed with this generator)."""
    try:
        yield from notes
        yield from stream
    finally:
        stream.close()


def _stream(conn: Connection, context, options, builder: str, session, on_response=None):
    """The build's events. With a session that serves the files, the engine reads the
    context and the Dockerfile from it, as the CLI's does (``remote=client-session``), and
    no tar is sent."""
    from docker_magics.builds.buildkit.trace import BuildKitParser

    synced = session is not None and session.sources is not None
    dockerfile = session.sources.dockerfile_name if synced else context.dockerfile
    params = options.params(dockerfile, builder)
    params += [("session", session.id)] if session else []
    params += [("remote", "client-session")] if synced else []
    parser = BuildKitParser() if builder == "buildkit" else ev.ClassicBuildParser()
    body = None if synced else context.chunks()
    config = CREDENTIALS.config_header()
    return streams.build(conn.client, params, body, parser, config, on_response)


def _open_session(conn: Connection, secrets: dict[str, bytes] | None, sources, *, fallback: bool):
    """A BuildKit session serving the build's context and Dockerfile (``sources``), secrets
    and registry credentials. When the engine refuses it, ``fallback`` (``--builder auto``
    without secrets) returns None: the build goes to the classic builder."""
    from docker_magics.builds.buildkit.session import BuildSession
    from docker_magics.registry.credentials import for_buildkit

    session = BuildSession(
        conn.client.api,
        secrets=secrets,
        credentials=for_buildkit,
        sources=sources,
        shared_key=sources.shared_key if sources is not None else None,
    )
    try:
        session.open()
    except Exception as exc:  # noqa: BLE001 - e.g. an engine without /session
        session.close()
        if fallback and not secrets:
            return None
        error = explain(exc, conn.endpoint)
        what = error.what[:1].lower() + error.what[1:]
        carries = "the build context and secrets" if secrets else "the build context"
        raise EngineError(
            f"The engine did not open the BuildKit session that carries {carries}: {what}",
            error.hint or "Use --builder classic",
        ) from None
    return session


def _interrupted(conn: Connection, recorder: BuildRecorder) -> Interrupted:
    step = recorder.current
    where = f" at step {step.label}" if step is not None else " while sending the context"
    try:
        streams.remove_containers(conn.client.api, recorder.containers)
        left = ""
    except Exception:  # noqa: BLE001 - the engine itself may be gone
        left = " (its containers could not be checked: see `docker ps -a`)"
    return Interrupted(f"Build interrupted{where}; it was stopped on the engine{left}")


class _SendingNotes:
    """``ContextSent`` events while the context goes out: the first once sending has taken
    ``FIRST`` seconds, then one every ``EVERY`` seconds, and one at the end (if any was shown
    before, or ``always``: a folder, as the CLI always says how much it sent)."""

    FIRST, EVERY = 0.5, 2.0

    def __init__(self, show: Callable[[ev.Event], None], *, always: bool) -> None:
        self.show = show
        self.always = always
        self.started: float | None = None
        self.last: float | None = None

    def __call__(self, context: ctx.BuildContext, done: bool) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        elapsed = now - self.started
        if done:
            if self.always or self.last is not None:
                self.show(ev.ContextSent(context.regular_files, context.size, elapsed, True))
            return
        if elapsed >= self.FIRST and (self.last is None or now - self.last >= self.EVERY):
            self.last = now
            self.show(ev.ContextSent(context.regular_files, context.size, elapsed))


def _print_tail(step: Step) -> None:
    if step.tail:
        print(f"--- the last {len(step.tail)} lines of step {step.label} ---", file=sys.stderr)
        for _stream, text in step.tail:
            print(cut(text), file=sys.stderr)


def _has_image(conn: Connection, image: str) -> bool:
    try:
        conn.client.api.inspect_image(image)
        return True
    except Exception:  # noqa: BLE001 - not there, or cannot tell: the plain message then
        return False


def _image_size(conn: Connection, image_id: str) -> int | None:
    try:
        return conn.client.api.inspect_image(image_id).get("Size")
    except Exception:  # noqa: BLE001 - the size is a nicety, the build succeeded
        return None
