"""A real IPython kernel for tests that need what a notebook frontend sees: stream and
display messages, widget comm traffic (counted in messages and bytes, as IOPub carries them),
and interrupts (``KernelManager.interrupt_kernel()``, as the stop button does).

IOPub bytes are measured, not estimated: every message is read off the ZMQ socket here and
its frames' lengths summed (topic, delimiter, signature, header, parent header, metadata,
content, buffers), which is what a Jupyter server receives and what its IOPub rate limiter
counts (``sum(len(x) for x in msg_list)``); only the transport's few bytes of framing per
frame are left out. Each message keeps its own send time (``header["date"]``, the kernel's
clock) for rate measurements."""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client import KernelManager

import docker_magics
from tests.support.timing import max_in_window

OUTPUT_KINDS = (
    "stream",
    "display_data",
    "execute_result",
    "update_display_data",
    "comm_open",
    "comm_msg",
    "comm_close",
    "clear_output",
    "error",
)


def _manager_for(python: str, kernels: Path) -> KernelManager:
    """A manager whose kernel runs ``python -m ipykernel_launcher`` (its kernelspec is
    written in ``kernels``)."""
    import json

    from jupyter_client.kernelspec import KernelSpecManager

    spec = {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({python})",
        "language": "python",
    }
    (kernels / "venv").mkdir()
    (kernels / "venv" / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)
    return KernelManager(kernel_name="venv", kernel_spec_manager=specs)


def sent_at(msg: dict) -> float:
    """A message's send time (the kernel's clock), in seconds since the epoch."""
    date = msg["header"]["date"]
    return date.timestamp() if hasattr(date, "timestamp") else float(date)


@dataclass
class Execution:
    msg_id: str
    status: str = "running"  # ok | error (from the execute_reply)
    error: dict | None = None  # the execute_reply's content when it failed
    idle: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    messages: list[dict] = field(default_factory=list)  # IOPub messages, in order
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def stream(self, name: str = "stdout") -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == name
        )

    @property
    def comm_messages(self) -> list[dict]:
        return [m for m in self.messages if m["msg_type"].startswith("comm_")]

    @property
    def output_messages(self) -> list[dict]:
        """What the frontend renders or updates: streams, displays, widget traffic."""
        return [m for m in self.messages if m["msg_type"] in OUTPUT_KINDS]

    @property
    def iopub_bytes(self) -> int:
        """Bytes of every IOPub message of this cell as received from the kernel's socket
        (status and execute_input included), frames summed."""
        return sum(m["wire_bytes"] for m in self.messages)

    @property
    def output_bytes(self) -> int:
        """The same for the output messages only."""
        return sum(m["wire_bytes"] for m in self.output_messages)

    def max_in_window(self, messages: list[dict] | None = None, window: float = 1.0) -> int:
        """The most ``messages`` (default: output messages but widget creation) sent within
        any ``window`` seconds, by their own send times."""
        if messages is None:
            messages = [m for m in self.output_messages if m["msg_type"] != "comm_open"]
        return max_in_window([sent_at(m) for m in messages], window)

    def widget_states(self) -> dict[str, dict]:
        """Each widget's state after all updates, rebuilt from the comm traffic."""
        states: dict[str, dict] = {}
        for m in self.comm_messages:
            comm = m["content"].get("comm_id")
            data = m["content"].get("data", {})
            if m["msg_type"] == "comm_open":
                states[comm] = dict(data.get("state", {}))
            elif m["msg_type"] == "comm_msg" and data.get("method") == "update":
                states.setdefault(comm, {}).update(data.get("state", {}))
        return states

    def displays(self) -> list[dict]:
        """What the cell's outputs show at the end, in order: each display's data (``text/html``,
        ``text/plain``...), as the last ``update_display_data`` for its id left it."""
        shown: list[dict] = []
        by_id: dict[str, int] = {}
        for m in self.messages:
            kind, content = m["msg_type"], m["content"]
            display_id = (content.get("transient") or {}).get("display_id")
            if kind == "update_display_data":
                if display_id in by_id:
                    shown[by_id[display_id]] = content["data"]
            elif kind in ("display_data", "execute_result"):
                if display_id:
                    by_id[display_id] = len(shown)
                shown.append(content["data"])
        return shown

    def widgets_of(self, model: str) -> list[dict]:
        return [s for s in self.widget_states().values() if s.get("_model_name") == model]

    @property
    def usage_error(self) -> str | None:
        if self.error and self.error.get("ename") == "UsageError":
            return self.error["evalue"]
        return None


class Kernel:
    def __init__(
        self, env: dict[str, str] | None = None, cwd: str | None = None, python: str | None = None
    ):
        """``python``: the interpreter of another environment (a virtualenv with ipykernel)
        to run the kernel with, instead of this one's."""
        self.kernelspecs = Path(tempfile.mkdtemp(prefix="dm-kernelspec-")) if python else None
        if python is not None:
            self.km = _manager_for(python, self.kernelspecs)
        else:
            self.km = KernelManager(kernel_name="python3")
        full_env = {**os.environ, **(env or {})}
        if python is not None:
            # Another environment's python has no editable install of docker_magics: it
            # imports the package from the checkout under test.
            here = str(Path(docker_magics.__file__).resolve().parents[1])
            full_env["PYTHONPATH"] = os.pathsep.join(
                p for p in (here, full_env.get("PYTHONPATH", "")) if p
            )
        self.km.start_kernel(env=full_env, cwd=cwd)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self._iopub: queue.Queue = queue.Queue()
        self._executions: dict[str, Execution] = {}
        # Held from sending a request until its Execution is registered: a quick reply
        # (``print(6 * 7)`` on a loaded machine) may otherwise arrive first and be dropped.
        self._registering = threading.Lock()
        self.strays: list[dict] = []
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._replies = threading.Thread(target=self._read_replies, daemon=True)
        self._replies.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._receive_iopub(timeout=0.2)
            except queue.Empty:
                continue
            except Exception:  # noqa: BLE001 - channel closed at shutdown
                return
            execution = self._execution_of(msg)
            if execution is None:
                if msg["msg_type"] in OUTPUT_KINDS:
                    self.strays.append(msg)  # output no cell claims (a lost parent header)
                continue
            execution.messages.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                execution.idle.set()

    def _receive_iopub(self, timeout: float) -> dict:
        """One IOPub message, as ``get_iopub_msg`` returns it, plus its size on the wire."""
        channel = self.kc.iopub_channel
        if not channel.socket.poll(int(timeout * 1000)):
            raise queue.Empty
        frames = channel.socket.recv_multipart()
        _, wire = channel.session.feed_identities(frames)
        msg = channel.session.deserialize(wire)
        msg["wire_bytes"] = sum(len(f) for f in frames)
        return msg

    def _read_replies(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.kc.get_shell_msg(timeout=0.2)
            except queue.Empty:
                continue
            except Exception:  # noqa: BLE001 - channel closed at shutdown
                return
            execution = self._execution_of(msg)
            if execution is None or msg["msg_type"] != "execute_reply":
                continue
            content = msg["content"]
            if content["status"] != "ok":
                execution.error = content
            execution.status = content["status"]
            # The reply may overtake the last IOPub messages: wait for "idle" too.
            execution.idle.wait(5)
            execution.finished = time.monotonic()
            execution.done.set()

    def _execution_of(self, msg: dict) -> Execution | None:
        with self._registering:
            return self._executions.get(msg.get("parent_header", {}).get("msg_id"))

    def start(self, code: str, allow_stdin: bool = False) -> Execution:
        with self._registering:
            msg_id = self.kc.execute(code, store_history=True, allow_stdin=allow_stdin)
            execution = Execution(msg_id)
            self._executions[msg_id] = execution
        return execution

    def wait(self, execution: Execution, timeout: float = 300) -> Execution:
        if not execution.done.wait(timeout):
            raise TimeoutError(f"cell did not finish in {timeout}s")
        return execution

    def run(self, code: str, timeout: float = 300) -> Execution:
        return self.wait(self.start(code), timeout)

    def wait_for_output(self, execution: Execution, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in execution.stream("stdout") + execution.stream("stderr"):
            if execution.finished is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared: {execution.stream()!r}")
            time.sleep(0.05)

    def answer_input(self, answer: str, timeout: float = 30) -> dict:
        """Wait for the kernel to ask for input (``input``/``getpass``), type ``answer``;
        returns the request (its ``prompt`` and whether it is a ``password``)."""
        request = self.kc.get_stdin_msg(timeout=timeout)
        assert request["msg_type"] == "input_request", request
        self.kc.input(answer)
        return request["content"]

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    def shutdown(self) -> None:
        self._stop.set()
        # zmq sockets are not thread-safe: closing one while a reader polls it can abort
        # the whole process (seen in CI), so the readers finish before the channels close.
        for reader in (self._reader, self._replies):
            reader.join(timeout=10)
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        if self.kernelspecs is not None:
            shutil.rmtree(self.kernelspecs, ignore_errors=True)
