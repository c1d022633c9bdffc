"""A build from start to end: check the inputs, pack the context, stream the engine's events
into the recorder and a renderer, and return a ``BuildResult`` or raise one clear error.

Shared by ``%%docker_build`` and ``docker_magics.build()``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from docker_magics.builds import context as ctx
from docker_magics.builds import dockerfile, stages
from docker_magics.builds import plan as planning
from docker_magics.builds.failures import build_failure, dockerfile_rejected
from docker_magics.builds.options import BuildOptions
from docker_magics.builds.progress import build_renderer
from docker_magics.builds.result import BuildRecorder, BuildResult, Step
from docker_magics.builds.stall import BaseImageWatch
from docker_magics.display.progress import NullRenderer, cut
from docker_magics.display.tables import counted, human_size
from docker_magics.engine import events as ev
from docker_magics.engine import streams
from docker_magics.engine.diagnose import explain, short
from docker_magics.engine.drive import Operation, drive
from docker_magics.engine.session import Connection
from docker_magics.errors import (
    BadArgument,
    BuildFailed,
    ConnectFailed,
    DockerMagicsError,
    EngineError,
    Interrupted,
    how,
    option,
    usage,
)
from docker_magics.registry.credentials import CREDENTIALS
from docker_magics.registry.references import familiar, older_engine_refusal, parse_reference


def prepare_context(
    text: str | None, *, file: str | None, context_dir: str | None, adds: Iterable[str]
) -> tuple[ctx.BuildContext, list[dockerfile.Instruction]]:
    """Check the Dockerfile (cell text or --file) and plan what the build sends: the tar
    for the classic builder, with the same plan's files for BuildKit in its ``local``."""
    from docker_magics.builds.buildkit import localsource

    add_specs = [planning.AddSpec.parse(a) for a in adds]
    raw = None
    if file is not None:
        if text is not None and text.strip():
            raise BadArgument(
                how(
                    "Both a Dockerfile in the cell and --file were given",
                    "Both a Dockerfile and file= were given",
                ),
                "Use one or the other",
            )
        path = Path(os.path.expanduser(file))
        if not path.is_file():
            raise BadArgument(
                f"{usage('--file', file)}: no such file", "Give the path of a Dockerfile"
            )
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise BadArgument(f"{usage('--file', file)}: cannot read it ({exc.strerror})") from None
        text = planning.as_text(raw)
    if text is None or not text.strip():
        raise BadArgument(
            how("The cell is empty: there is no Dockerfile to build", "The Dockerfile is empty"),
            how("Write a Dockerfile in the cell (FROM ...), or pass --file PATH",
                "Pass its text (FROM ...), or file='PATH'"),
        )  # fmt: skip
    instructions = dockerfile.parse(text)
    plan = planning.make(
        raw if raw is not None else text.encode(), file=file, folder=context_dir, adds=add_specs
    )
    built = ctx.pack(plan)
    built.local = localsource.from_plan(plan)
    return built, instructions


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
            f"Use {usage('--builder', 'classic')}",
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
    instructions: Sequence[dockerfile.Instruction] = (),
) -> BuildResult:
    """Send the build and follow it to the end. ``total_steps``: what the classic builder
    will number (``dockerfile.classic_steps``); ``instructions`` help explain failures."""
    for tag in options.tags:
        parse_reference(tag, what="tag", allow_digest=False)
    if context.plan is not None and (context.plan.root is not None or context.plan.adds):
        context.avoid(planning.engine_data_root(conn))
    builder, session = _builder_and_session(conn, builder, secrets, context)
    if builder == "classic":
        _refuse_heredocs(instructions)
    try:
        # BuildKit's steps (vertexes) are not the Dockerfile's instructions: no total up front.
        total = total_steps if builder == "classic" else None
        build = _Build(conn, context, options, builder, session, instructions, total)
        if total:  # its steps, to show those a failure leaves unrun
            build.recorder.planned = _planned_steps(instructions, options, total)
        build.renderer = build_renderer(progress, build.recorder)
    except BaseException:
        if session is not None:
            session.close()
        raise
    return drive(build)


def _builder_and_session(conn: Connection, requested: str, secrets, context: ctx.BuildContext):
    """The builder that runs the build, and BuildKit's session (None for the classic one).
    Secrets make ``auto`` BuildKit; ``auto`` falls back to classic when the engine opens no
    session."""
    builder = choose_builder(conn, "buildkit" if secrets and requested == "auto" else requested)
    if secrets and builder != "buildkit":
        raise BadArgument(
            f"{how('--secret needs', 'secrets need')} BuildKit: the classic builder has no build "
            "secrets",
            f"Add {usage('--builder', 'buildkit')} (or use {option('--secret-build-arg')}, which "
            "masks a build argument)",
        )
    if builder != "buildkit":
        return builder, None
    session = _open_session(conn, secrets, context.local, fallback=requested == "auto")
    return ("classic", None) if session is None else (builder, session)


def _planned_steps(instructions, options: BuildOptions, total: int) -> list[str]:
    """The classic builder's steps in order (its LABEL steps for ``--label`` last), or none
    when they do not add up to the ``total`` it will number."""
    plan = [str(ins) for ins in dockerfile.classic_plan(instructions, options.target) or []]
    plan += [f"LABEL {name}={value}" for name, value in options.labels.items()]
    return plan if len(plan) == total else []


def _refuse_heredocs(instructions: Iterable[dockerfile.Instruction]) -> None:
    """The classic builder never runs heredocs: Docker 20.10 fails on their first line, and
    engines whose parser reads them (23 and later) drop their body without a word, running
    ``RUN <<EOF`` as an empty command. Either way the user wants BuildKit."""
    heredoc = next((ins for ins in instructions if ins.heredoc), None)
    if heredoc is not None:
        raise BadArgument(
            f"Dockerfile line {heredoc.line}: {short(str(heredoc), 40)} has a heredoc, which the "
            "classic builder does not run (newer engines silently leave its lines out)",
            f"Build with {usage('--builder', 'buildkit')}, or put the commands on the RUN line "
            "(RUN a && b)",
        )


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
            recorder.context = f"{self.context.description}: {_session_sent(session)}"
            if session.context_error is not None and not isinstance(error, Interrupted):
                error = session.context_error  # what the engine reports as "error from sender"
        else:
            files, size = self.context.files, self.context.size
            sent = f"{counted(files, 'entry', 'entries')}, {human_size(size)} sent"
            recorder.context = f"{self.context.description}: {sent}"
        if self.builder == "buildkit":
            names = [step.name for step in recorder.steps.values()]
            recorder.dockerfile_steps = stages.instructions_run(
                self.instructions, names, self.options.target
            )
        if error is None and recorder.failure is not None:
            error = self._failed()
        if error is None and recorder.image_id is None:
            error = EngineError("The engine ended the build without producing an image")
        if error is not None:
            stopped = isinstance(error, Interrupted)
            recorder.fail_current(interrupted=stopped)
            # The log so far, for last_build().
            error.result = recorder.result(error=str(error), interrupted=stopped)
            raise error
        inspected = _inspect(self.conn, recorder.image_id)
        recorder.tags = _tags(recorder.tags, self.options.tags, inspected)
        result = recorder.result(size=inspected.get("Size"))
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


def _after(notes: Sequence[ev.Event], stream):
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
            error.hint or f"Use {usage('--builder', 'classic')}",
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
    """How the step ended, as ``docker build -q`` shows it; not when its one line is what
    the error line quotes."""
    written = [text.strip() for _, text in step.tail if text.strip()]
    if written and written != [step.tail.cause()]:
        print(
            f"--- the last {counted(len(step.tail), 'line')} of step {step.label} ---",
            file=sys.stderr,
        )
        for _stream, text in step.tail:
            print(cut(text), file=sys.stderr)


def _has_image(conn: Connection, image: str) -> bool:
    try:
        conn.client.api.inspect_image(image)
        return True
    except Exception:  # noqa: BLE001 - not there, or cannot tell: the plain message then
        return False


def _inspect(conn: Connection, image_id: str) -> dict:
    try:
        return conn.client.api.inspect_image(image_id)
    except Exception:  # noqa: BLE001 - its size and tags are niceties, the build succeeded
        return {}


def _tags(named: list[str], requested: list[str], inspected: dict) -> list[str]:
    """The names the engine gave the image, as the CLI shows them, in the order asked for.
    The stream names them (the classic builder's "Successfully tagged", BuildKit's "naming
    to"; engines from 23 on send only the latter); a tag asked for that the stream did not
    name is looked for in the image's own tags."""
    seen = [_familiar(tag) for tag in named]
    wanted = [_familiar(tag) for tag in requested]
    if any(tag not in seen for tag in wanted):
        on_image = {_familiar(tag) for tag in inspected.get("RepoTags") or ()}
        seen += [tag for tag in wanted if tag in on_image and tag not in seen]
    return [tag for tag in wanted if tag in seen] + [t for t in seen if t not in wanted]


def _familiar(tag: str) -> str:
    try:
        return familiar(tag, default_tag="latest")
    except BadArgument:  # no reference: as the engine said it
        return tag


def _session_sent(session) -> str:
    """What went over the BuildKit session: the Dockerfile (its own source, as the CLI sends
    it) and the context's entries (only the files the build asked for; unchanged files the
    engine kept from an earlier build send no data)."""
    parts = []
    dockerfile = getattr(session, "dockerfile_sent", None)
    if dockerfile is not None and dockerfile.entries:
        parts.append(f"the Dockerfile ({human_size(dockerfile.bytes)})")
    sent = session.sent
    if sent.entries:
        entries = counted(sent.entries, "context entry", "context entries")
        parts.append(f"{entries} ({human_size(sent.bytes)})")
    return f"{' and '.join(parts) or 'nothing'} sent over the BuildKit session"
