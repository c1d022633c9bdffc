"""Runs INSIDE the container (``python3 inside.py INPUT OUTPUT TIMEOUT KERNEL``; TIMEOUT
in whole seconds per cell, 0 for none; KERNEL "" for the notebook's own): executes a
notebook with nbclient, cell by cell as nbclient's own ``execute()`` and papermill do, and
says what happens as JSON lines on stdout, each starting with an ASCII record separator
(``\\x1e``): ``begin`` (the cells to run), ``cell`` (one starts), ``done`` (it ended, with
its time), ``failed`` (a cell raised, timed out or its kernel died), ``warning``, ``fatal``
(nothing ran). The executed notebook is written to OUTPUT after a failure or an interrupt
too (SIGINT), and every few seconds while it runs.

Only the standard library and nbclient (with nbformat and jupyter_client): this file is
copied into images that do not have docker_magics. Keep it compatible with Python 3.8.
"""

import json
import signal
import sys
import time

MARK = "\x1e"
SAVE_EVERY = 5.0  # seconds between saves of the executed notebook while it runs


def emit(event, **fields):
    fields["event"] = event
    sys.stdout.write(MARK + json.dumps(fields) + "\n")
    sys.stdout.flush()


def first_line(source):
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:100]
    return ""


def error_of(cell):
    """ename and evalue of the error a cell shows, if any."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return output.get("ename", "Error"), output.get("evalue", "")
    return None


def choose_kernel(notebook, asked):
    from jupyter_client.kernelspec import KernelSpecManager

    wanted = asked or notebook.metadata.get("kernelspec", {}).get("name") or "python3"
    available = KernelSpecManager().find_kernel_specs()
    if wanted in available or asked:
        return wanted
    if "python3" in available:
        emit("warning", text=f"The image has no kernel named {wanted!r}: running python3")
        return "python3"
    return wanted  # nbclient says it is missing


def main(argv):
    source, target, timeout, asked = argv[1], argv[2], int(argv[3]), argv[4]
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as exc:
        emit("fatal", kind="missing", text=str(exc))
        return 2
    try:
        notebook = nbformat.read(source, as_version=4)
    except Exception as exc:  # noqa: BLE001 - not a notebook nbformat can read
        emit("fatal", kind="notebook", text=f"{type(exc).__name__}: {exc}")
        return 2
    numbered = [
        i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.strip()
    ]
    numbers = {index: n + 1 for n, index in enumerate(numbered)}
    kernel = choose_kernel(notebook, asked)
    client = NotebookClient(
        notebook,
        timeout=timeout if timeout > 0 else None,
        kernel_name=kernel,
        resources={"metadata": {"path": "."}},
    )
    meta = notebook.metadata.setdefault("docker_magics", {})
    meta.update(status="running", kernel=kernel)
    started = time.monotonic()
    saved = [started]

    def save(force=False):
        if force or time.monotonic() - saved[0] >= SAVE_EVERY:
            meta["duration"] = round(time.monotonic() - started, 3)
            nbformat.write(notebook, target)
            saved[0] = time.monotonic()

    status = 2
    try:
        client.reset_execution_trackers()
        with client.setup_kernel(cwd="."):
            status = run_cells(client, notebook, numbers, kernel, meta, save)
    except KeyboardInterrupt:
        meta["status"] = "interrupted"
        status = 130
    except Exception as exc:  # noqa: BLE001 - the kernel did not start, or went away
        meta["status"] = "failed"
        emit("fatal", kind="kernel", text=f"{type(exc).__name__}: {exc}")
    finally:
        save(force=True)
    return status


def run_cells(client, notebook, numbers, kernel, meta, save):
    """Run the numbered cells in order, until one fails: 0, or 1 if one did."""
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    info = client.wait_for_reply(client.kc.kernel_info())
    if info and "language_info" in info["content"]:
        notebook.metadata["language_info"] = info["content"]["language_info"]
    emit("begin", cells=len(numbers), kernel=kernel, python=sys.version.split()[0])
    for index, cell in enumerate(notebook.cells):
        if index not in numbers:
            continue
        number = numbers[index]
        emit("cell", number=number, index=index, source=first_line(cell.source))
        began = time.monotonic()
        failure = None
        try:
            client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        except CellExecutionError:
            ename, evalue = error_of(cell) or ("Error", "")
            failure = dict(kind="error", ename=ename, evalue=evalue)
        except DeadKernelError as exc:
            failure = dict(kind="dead", ename="DeadKernelError", evalue=str(exc))
        except TimeoutError as exc:  # nbclient's CellTimeoutError is one
            said = f"no result within {client.timeout}s"
            failure = dict(kind="timeout", ename=type(exc).__name__, evalue=said)
        seconds = round(time.monotonic() - began, 3)
        cell.metadata["docker_magics"] = {
            "status": "failed" if failure else "ok",
            "seconds": seconds,
        }
        if failure is not None:
            meta.update(status="failed", failed_cell=number, error=failure)
            emit("failed", number=number, index=index, seconds=seconds, **failure)
            return 1
        emit("done", number=number, index=index, seconds=seconds)
        save()
    meta["status"] = "ok"
    client.set_widgets_metadata()
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)  # PID 1 gets no default one
    sys.exit(main(sys.argv))
