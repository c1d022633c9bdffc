"""``%docker_run_notebook``: a notebook executed inside a container, papermill-style.

The parameters go into the notebook here (``parameters``); the notebook and the runner
(``inside.py``, nbclient in the image) are copied into a container of the image, with
``--add`` files, as ``%docker_run`` copies files; the runner's events become per-cell
progress; the executed notebook is copied out beside the input (after a failure and an
interrupt too: up to where it stopped), and the container is removed whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from docker_magics.builds.context import AddSpec
from docker_magics.engine import streams
from docker_magics.engine.diagnose import explain
from docker_magics.engine.drive import drive
from docker_magics.engine.session import Connection
from docker_magics.errors import (
    BadArgument,
    DockerMagicsError,
    EngineError,
    Interrupted,
    NotebookFailed,
    how,
    option,
    usage,
)
from docker_magics.reproduce import parameters as params
from docker_magics.reproduce.progress import notebook_renderer
from docker_magics.reproduce.result import Cell, NotebookRecorder, NotebookResult
from docker_magics.runs import runner
from docker_magics.runs.files import copy_out, put_files
from docker_magics.runs.options import RunSpec

FOLDER = "/.docker-magics/notebook"  # in the container: the runner, the input, the output
GRACE = 10  # seconds the runner gets to save the executed notebook after an interrupt
RUNNER = Path(__file__).with_name("inside.py")


def read(path: Path) -> dict:
    """The notebook's JSON (nbformat 4), or one line saying why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadArgument(f"Cannot read the notebook {path} ({exc.strerror or exc})") from None
    try:
        notebook = json.loads(text)
    except ValueError as exc:
        raise BadArgument(f"{path} is not a notebook (not JSON: {exc})") from None
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        raise BadArgument(
            f"{path} is not an nbformat 4 notebook",
            "Convert it with jupyter nbconvert --to notebook",
        )
    return notebook


def executed_path(notebook: Path, output: str | None) -> Path:
    """``-o``: a file, or a folder to put it in; by default beside the input, with
    ``.executed`` before ``.ipynb``."""
    default = notebook.with_name(notebook.name.removesuffix(".ipynb") + ".executed.ipynb")
    if output is None:
        return default
    path = Path(os.path.expanduser(output)).absolute()
    if path.is_dir() or output.endswith(("/", os.sep)):
        return path / default.name
    return path


def shown(path: Path) -> str:
    """A path for messages: relative to the working folder when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def planned(notebook: dict) -> list[Cell]:
    """The cells the runner will run (code cells with code), numbered from 1."""
    found: list[Cell] = []
    for index, cell in enumerate(notebook.get("cells", [])):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "code" and source.strip():
            first = next(line.strip() for line in source.splitlines() if line.strip())
            found.append(Cell(len(found) + 1, index, first[:100]))
    return found


@dataclass
class Prepared:
    """A notebook checked and parameterised, ready to run (no engine needed so far)."""

    path: Path
    content: dict  # with the injected parameters
    target: Path  # where the executed copy goes
    parameters: dict[str, object]
    warnings: list[str]
    adds: list[AddSpec]


def prepare(
    notebook: str, parameters: dict[str, object], output: str | None, adds: list[str]
) -> Prepared:
    """Read ``notebook``, inject ``parameters``, check ``output`` and ``adds``."""
    path = Path(os.path.expanduser(notebook)).absolute()
    if not path.is_file():
        raise BadArgument(f"No notebook at {notebook}", "Give the path of an .ipynb file")
    content = read(path)
    warnings = params.inject(content, parameters)
    target = executed_path(path, output)
    if not target.parent.is_dir():
        raise BadArgument(f"-o {output}: the folder {target.parent} does not exist")
    specs = [AddSpec.parse(a) for a in adds]
    return Prepared(path, content, target, dict(parameters), warnings, specs)


def run_notebook(
    conn: Connection,
    job: Prepared,
    image: str,
    *,
    timeout: int | None = None,
    kernel: str | None = None,
    env: dict[str, str] | None = None,
    network: str | None = None,
    gets: Sequence[str] = (),
    progress: str = "auto",
) -> NotebookResult:
    """Run a prepared notebook in a container of ``image``; see the module's docstring."""
    recorder = NotebookRecorder(f"{job.path.name} in {image}", planned(job.content))
    recorder.warnings += job.warnings
    spec = RunSpec(
        image=image,
        entrypoint=["python3"],
        command=[
            f"{FOLDER}/inside.py",
            f"{FOLDER}/input.ipynb",
            f"{FOLDER}/output.ipynb",
            str(timeout or 0),
            kernel or "",
        ],
        env=env or {},
        network=network,
    )
    folder = Path(tempfile.mkdtemp(prefix="docker-magics-notebook-"))
    try:
        shutil.copy(RUNNER, folder / "inside.py")
        (folder / "input.ipynb").write_text(json.dumps(job.content), encoding="utf-8")
        try:
            container_id = runner.create(conn, spec, progress)
        except DockerMagicsError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise explain(exc, conn.endpoint) from None
        run = _NotebookRun(conn, spec, container_id, recorder, folder, job, gets)
        run.timeout = timeout
        run.renderer = notebook_renderer(progress, recorder)
        return drive(run)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _NotebookRun(runner.ContainerOperation[NotebookResult]):
    """The runner's container, from the files going in to the executed notebook coming
    out, followed by :func:`~docker_magics.engine.drive.drive`."""

    timeout: int | None = None
    during = "the notebook run"

    def __init__(self, conn, spec, container_id, recorder, folder, job, gets) -> None:
        self.conn, self.spec, self.container_id = conn, spec, container_id
        self.recorder: NotebookRecorder = recorder
        self.folder, self.adds, self.gets = folder, job.adds, list(gets)
        self.notebook, self.target, self.parameters = job.path, job.target, job.parameters
        self.started = False
        self.exit_code: int | None = None
        self.workdir = "/"
        self.written = False
        self.files: list[str] = []

    def events(self):
        api, cid = self.conn.client.api, self.container_id
        config = api.inspect_container(cid)["Config"]
        self.workdir = config["WorkingDir"] or "/"
        mine = AddSpec(self.folder, FOLDER)
        put_files(api, cid, None, [mine, *self.adds], self.workdir, config.get("User") or "")
        response, output = streams.attach(api, cid)
        try:
            runner.start(api, cid, self.spec)
            self.started = True
            yield from output
        finally:
            response.close()
        self.exit_code = api.wait(cid, timeout=None)["StatusCode"]
        self._copy_executed()
        if self.exit_code == 0 and self.gets:
            self.files = copy_out(api, cid, self.gets, self.workdir)

    def _copy_executed(self) -> None:
        from docker.errors import NotFound

        get = f"{FOLDER}/output.ipynb"
        try:
            copy_out(self.conn.client.api, self.container_id, [f"{get}:{self.target}"], "/")
            self.written = True
        except NotFound:
            pass
        except BadArgument as exc:
            if exc.what.startswith(f"{usage('--get', get)}: the container has no "):
                return  # the runner wrote nothing: what went wrong is said otherwise
            reason = exc.what.split(": ", 1)[-1]  # "cannot write PATH (why)"
            raise BadArgument(f"The executed notebook: {reason}", "Give another -o PATH") from None

    def interrupted(self) -> Interrupted:
        """Let the runner save what ran (SIGINT, a few seconds), copy it out."""
        api, cid = self.conn.client.api, self.container_id
        saved = ""
        if self.started:
            try:
                api.kill(cid, "SIGINT")
                api.wait(cid, timeout=GRACE)
                self._copy_executed()
                saved = f"; what ran is in {shown(self.target)}" if self.written else ""
            except (Exception, KeyboardInterrupt):  # noqa: BLE001 - removed below anyway
                pass
        cell = self.recorder.running
        where = f" in cell {cell.number} of {self.recorder.total}" if cell else ""
        return Interrupted(
            f"Notebook run interrupted{where}; the container was stopped and removed{saved}"
        )

    def cleanup(self, error) -> None:
        self.remove_container()

    def conclude(self, error):
        recorder = self.recorder
        recorder.finish()
        result = NotebookResult(
            str(self.notebook),
            str(self.target) if self.written else None,
            self.spec.image,
            dict(self.parameters),
            recorder.cells,
            recorder.elapsed(),
            "interrupted" if isinstance(error, Interrupted) else "ok",
            files=self.files,
        )
        if error is None:
            error = self._failure(result)
        if error is not None:
            result.status = "interrupted" if isinstance(error, Interrupted) else "failed"
            result.error = str(error)
            if isinstance(error, DockerMagicsError):
                error.result = result
            raise error
        return result, result.summary()

    def _failure(self, result: NotebookResult) -> DockerMagicsError | None:
        recorder, name, image = self.recorder, self.notebook.name, self.spec.image
        kept = f"The executed notebook, up to that cell, is in {shown(self.target)}"
        kept = kept if self.written else ""
        failure = recorder.failure
        if failure is not None:
            cell = next(c for c in recorder.cells if c.number == int(failure["number"]))
            where = f"cell {cell.number} of {recorder.total} ({cell.source})"
            if failure["kind"] == "timeout":
                what = f"{name}: {where} did not finish within {self.timeout}s (the timeout)"
            elif failure["kind"] == "dead":
                what = f"{name}: the kernel died in {where}"
                kept = "It may have run out of memory. " + kept
            else:
                what = f"{name} failed in {where}: {cell.error}"
            return NotebookFailed(what, kept, result=result)
        fatal = recorder.fatal
        if fatal is not None and fatal.get("kind") == "missing":
            return NotebookFailed(
                f"{image} cannot run notebooks: {fatal['text']}",
                f"Freeze a kernel into it with {how('%docker_freeze', 'docker_magics.freeze()')} "
                "(it adds ipykernel and nbclient), "
                "or install nbclient and ipykernel in the image",
                result=result,
            )
        if fatal is not None:
            hint = (
                f"Choose a kernel the image has with {option('--kernel')} (python3, with ipykernel)"
            )
            hint = hint if "NoSuchKernel" in fatal["text"] else ""
            return NotebookFailed(
                f"{name} could not run in {image}: {fatal['text']}", hint, result=result
            )
        if self.exit_code:
            last = " | ".join(line.strip() for line in list(recorder.tail)[-3:] if line.strip())
            killed = " (killed: out of memory?)" if self.exit_code == 137 else ""
            return EngineError(
                f"The notebook runner in {image} exited with code {self.exit_code}{killed}"
                + (f": {last[-300:]}" if last else "")
            )
        return None
