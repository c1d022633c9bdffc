"""Benchmarks: docker_magics side by side with the docker CLI and docker-py, in one run, on a
private engine and registry started here. Writes bench/RESULTS.md (medians, ratios, machine
facts). Timings on shared VMs are noisy: only ratios measured side by side mean anything.

    python bench/run.py [--repeat N] [--cases 1,2,3,4,5,6,7,8] [--floods "~5 s,~30 s"] [--note TEXT]
                        [--engines 20.10,26] (the engines the engine cases run on, in turn)
                        [--rerun]  (only the given cases again, the others' rows kept)
                        [--report] (only RESULTS.md again, from results.json)

The cases that use an engine (builds, floods, push and pull) run on each engine of
``--engines`` (Docker Engine 20.10 and 26, as the tests: tests/support/engines.py); RESULTS.md
shows the engines side by side. Packing and start-up use no engine and run once.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

from tests.support import Dockerd, Registry, build_busybox, build_random_image
from tests.support.engines import ENGINE_VERSIONS, dockerd_binary
from tests.support.kernel import Kernel

ROOT = Path(__file__).resolve().parent.parent

DOCKER = shutil.which("docker") or "docker"
BASE = "bench/busybox:latest"
ROWS: list[dict] = []
ENGINE = ""  # the engine version the rows being measured are about ("": no engine)
ENGINE_FREE = {"3", "5"}  # cases that use no engine


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def median_of(func, repeat: int, setup=None) -> float:
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        times.append(timed(func))
    return statistics.median(times)


def interleaved(funcs: dict, repeat: int) -> dict[str, float]:
    """Medians of each function, run in turn (rotating the order) so that drift on a shared
    machine hits them all alike."""
    times: dict[str, list[float]] = {name: [] for name in funcs}
    names = list(funcs)
    for i in range(repeat):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            times[name].append(timed(funcs[name]))
    return {name: statistics.median(values) for name, values in times.items()}


def row(
    case: str,
    what: str,
    value: float,
    unit: str,
    reference: float | None = None,
    target: str = "",
    note: str = "",
    *,
    runs: int,
    stat: str = "median",
) -> None:
    """One measurement: ``value`` is the ``stat`` (median, max) of ``runs`` runs."""
    ratio = value / reference if reference else None
    ROWS.append(
        {
            "case": case,
            "engine": ENGINE,
            "what": what,
            "value": value,
            "unit": unit,
            "stat": stat,
            "runs": runs,
            "ratio": ratio,
            "target": target,
            "note": note,
        }
    )
    shown = f"{value:.3f} {unit}" + (f"  ratio {ratio:.3f}" if ratio else "")
    on = f" (engine {ENGINE})" if ENGINE else ""
    print(f"[{case}]{on} {what}: {stat} of {runs}: {shown} {target}", flush=True)


def cli(*args: str, env: dict, input: bytes | None = None) -> None:
    subprocess.run([DOCKER, *args], check=True, env=env, input=input, capture_output=True)


def context_tar(dockerfile: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        data = dockerfile.encode()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# -- case 1: builds of 10 RUN steps ---------------------------------------------------------


def case_builds(engine: Dockerd, kernel: Kernel, repeat: int) -> None:
    import docker

    env = {**os.environ, "DOCKER_HOST": engine.url, "DOCKER_BUILDKIT": "0"}
    api = docker.APIClient(base_url=engine.url, version="auto")
    dockerfile = f"FROM {BASE}\n" + "".join(f"RUN echo step {i} > /s{i}\n" for i in range(10))
    folder = Path(tempfile.mkdtemp(prefix="bench-build-"))
    (folder / "Dockerfile").write_text(dockerfile)
    for cached in (False, True):
        label = "cached" if cached else "uncached"
        flag = [] if cached else ["--no-cache"]

        def ours():
            ex = kernel.run(f"%%docker_build -t bench/b:ours {' '.join(flag)}\n{dockerfile}")
            assert ex.status == "ok", ex.error

        def the_cli():
            cli("build", "-q", "-t", "bench/b:cli", *flag, str(folder), env=env)

        def docker_py():
            out = api.build(
                fileobj=io.BytesIO(context_tar(dockerfile)),
                custom_context=True,
                tag="bench/b:py",
                nocache=not cached,
                rm=True,
                decode=True,
            )
            for chunk in out:
                assert "error" not in chunk, chunk

        raw = raw_build(engine, dockerfile, "bench/b:raw", cached)
        if cached:  # warm the cache for every tool
            ours(), the_cli(), docker_py(), raw()
        t = interleaved({"cli": the_cli, "ours": ours, "py": docker_py, "raw": raw}, repeat)
        t_cli, t_ours, t_py = t["cli"], t["ours"], t["py"]
        case = f"1 build, 10 RUN steps, {label}"
        row(case, "docker CLI (docker build)", t_cli, "s", runs=repeat)
        row(case, "docker-py APIClient.build", t_py, "s", t_cli, runs=repeat)
        row(
            case,
            "raw HTTP POST /build, read to the end (the engine's own time)",
            t["raw"],
            "s",
            t_cli,
            "",
            "no client at all: the floor any client can reach",
            runs=repeat,
        )
        row(case, "%%docker_build in a kernel", t_ours, "s", t_cli, "target <= 1.02", runs=repeat)
        if cached:
            # Where the time goes when the engine answers in tens of milliseconds.
            empty = interleaved({"empty": lambda: check(kernel.run("pass"))}, repeat)
            row(
                case,
                "a kernel round trip of an empty cell (for scale)",
                empty["empty"],
                "s",
                runs=repeat,
            )
            in_process = interleaved(
                {"lib": library_build(engine, dockerfile), "py": docker_py}, repeat
            )
            row(
                case,
                "docker_magics.build() in this process (no kernel)",
                in_process["lib"],
                "s",
                in_process["py"],
                "",
                "ratio to docker-py in the same process",
                runs=repeat,
            )
    shutil.rmtree(folder)


def raw_build(engine: Dockerd, dockerfile: str, tag: str, cached: bool):
    """The same build as one bare HTTP request over the engine's socket, its answer read to
    the end: what the engine alone costs."""
    import http.client
    import socket
    from urllib.parse import urlencode

    body = context_tar(dockerfile)
    query = urlencode({"t": tag, "rm": "1", "forcerm": "1", "nocache": "0" if cached else "1"})

    def go():
        conn = http.client.HTTPConnection("localhost")
        conn.sock = socket.socket(socket.AF_UNIX)
        conn.sock.connect(str(engine.socket))
        conn.request("POST", f"/build?{query}", body, {"Content-Type": "application/x-tar"})
        answer = conn.getresponse()
        data = answer.read()
        conn.close()
        assert answer.status == 200 and b'"error"' not in data, data[-300:]

    return go


def library_build(engine: Dockerd, dockerfile: str):
    import docker_magics

    docker_magics.connect(engine.url, alias="bench")

    def go():
        docker_magics.build(dockerfile, tags=["bench/b:lib"], progress="none")

    return go


# -- case 2: a step printing 200,000 lines ------------------------------------------------------

# 200,000 lines of 80 characters, in chunks with a pause between them: (lines per chunk, pause).
FLOODS = {"~5 s": (5000, 0.1), "~30 s": (2000, 0.28)}


def flood_dockerfile(chunk: int, pause: float) -> str:
    awk = (
        'BEGIN{p=sprintf("%73s",""); gsub(/ /,"x",p); for(i=1;i<=200000;i++)'
        f'{{printf "%06d %s\\n", i, p; if(i%{chunk}==0){{fflush(); system("sleep {pause}")}}}}}}'
    )
    return f"FROM {BASE}\nRUN awk '{awk}'\n"


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss(pid: int) -> None:
    """Linux: reset the process's peak RSS (VmHWM) to its current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def case_flood(engine: Dockerd, kernel: Kernel, repeat: int, variants: list[str]) -> None:
    env = {**os.environ, "DOCKER_HOST": engine.url, "DOCKER_BUILDKIT": "0"}
    pid = kernel.km.provisioner.process.pid
    for variant in variants:
        dockerfile = flood_dockerfile(*FLOODS[variant])
        folder = Path(tempfile.mkdtemp(prefix="bench-flood-"))
        (folder / "Dockerfile").write_text(dockerfile)
        times: dict[str, list[float]] = {"cli": [], "plain": [], "widget": []}
        seen: dict[str, list[dict]] = {"plain": [], "widget": []}

        def the_cli():
            cli("build", "--no-cache", "-t", "bench/f:cli", str(folder), env=env)

        def ours(mode: str) -> None:
            check(kernel.run("import gc; gc.collect()"))
            base = rss_kb(pid)
            reset_peak_rss(pid)
            start = time.perf_counter()
            ex = check(
                kernel.run(
                    f"%%docker_build -t bench/f:ours --no-cache --progress {mode}\n{dockerfile}"
                )
            )
            times[mode].append(time.perf_counter() - start)
            seen[mode].append(
                {
                    "bytes": ex.iopub_bytes,
                    "window": ex.max_in_window(),
                    "rss": (rss_kb(pid, "VmHWM") - base) / 1024,
                    "strays": len(kernel.strays),
                }
            )

        names = ["cli", "plain", "widget"]
        for i in range(repeat):  # in turn, rotating the order: drift hits all alike
            for name in names[i % 3 :] + names[: i % 3]:
                if name == "cli":
                    times["cli"].append(timed(the_cli))
                else:
                    ours(name)
        shutil.rmtree(folder)
        t = {name: statistics.median(values) for name, values in times.items()}
        case = f"2 a step printing 200,000 lines of 80 characters over {variant}"
        row(case, "docker CLI (docker build)", t["cli"], "s", runs=repeat)
        for mode in ("plain", "widget"):
            runs = seen[mode]
            row(
                case,
                f"%%docker_build --progress {mode}: wall time",
                t[mode],
                "s",
                t["cli"],
                "target <= 1.05",
                runs=repeat,
            )
            row(
                case,
                f"--progress {mode}: bytes over IOPub",
                max(r["bytes"] for r in runs) / 1024,
                "KB",
                None,
                "target <= 64 KB",
                "every IOPub message of the cell, its ZMQ frames as received",
                runs=repeat,
                stat="max",
            )
            row(
                case,
                f"--progress {mode}: most output/widget messages in any 1 s",
                max(r["window"] for r in runs),
                "msgs",
                None,
                "target <= 10 msgs",
                "sliding window over the messages' own send times; creating the widgets "
                "(comm_open) not counted; the cell's result counted",
                runs=repeat,
                stat="max",
            )
            assert all(r["strays"] == 0 for r in runs), "output the test kernel could not place"
        row(
            case,
            "kernel peak RSS growth",
            max(r["rss"] for mode in seen for r in seen[mode]),
            "MB",
            None,
            "target <= 50 MB",
            "VmHWM after the cell less VmRSS before it (peak reset per run)",
            runs=2 * repeat,
            stat="max",
        )


# -- case 3: packing a large directory context -------------------------------------------


def make_tree(root: Path, files: int = 15000, total_mb: int = 320) -> None:
    rng = secrets.SystemRandom()
    big = total_mb * 1024 * 1024 - files * 2048
    sizes = [2048] * files
    for i in range(0, files, files // 60):  # a few large files carry most of the bytes
        sizes[i] += big // 60
    chunk = os.urandom(1 << 20)
    for i, size in enumerate(sizes):
        d = root / f"pkg{i % 50:02d}" / f"sub{i % 7}"
        if i % 9 == 0:
            d = root / "node_modules" / f"m{i % 40}"
        elif i % 13 == 0:
            d = root / "build" / f"o{i % 11}"
        d.mkdir(parents=True, exist_ok=True)
        name = f"f{i}.py" if i % 3 else f"f{i}.pyc"
        with open(d / name, "wb") as f:
            left = size
            while left:
                f.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
    (root / "build" / "keep.txt").write_text("keep\n")
    (root / ".dockerignore").write_text("**/node_modules\n**/*.pyc\nbuild/**\n!build/keep.txt\n")
    del rng


def measure_in_subprocess(code: str, env: dict | None = None) -> tuple[float, float]:
    """Run ``code`` in a fresh Python; returns (seconds, peak RSS growth in MB)."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    script = (
        "import time\n"
        "def status(field):\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith(field + ':'): return int(line.split()[1])\n"
        f"{code}\n"
        "base = status('VmRSS')\nt = time.perf_counter()\nwork()\n"
        "t = time.perf_counter() - t\n"
        "print(t, (status('VmHWM') - base) / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    t, mb = out.stdout.split()
    return float(t), float(mb)


class _ChunkReader:
    """A file-like view of a chunk iterator, for ``tarfile`` in stream mode."""

    def __init__(self, chunks) -> None:
        self.chunks, self.buf = iter(chunks), b""

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def our_members(root: Path) -> list[tarfile.TarInfo]:
    """What our packer puts in the context (its hidden Dockerfile aside)."""
    from docker_magics.builds.context import from_directory

    context = from_directory(root, dockerfile_text="FROM scratch")
    with tarfile.open(fileobj=_ChunkReader(context.chunks()), mode="r|") as tar:
        return [m for m in tar if not m.name.startswith(".dockerfile.")]


def case_context(repeat: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-ctx-"))
    try:
        make_tree(root)
        files = [p for p in root.rglob("*") if p.is_file()]
        count, size = len(files), sum(p.stat().st_size for p in files) / 1e6
        members = our_members(root)
        listed = root.parent / (root.name + ".list")
        listed.write_bytes(b"".join(m.name.rstrip("/").encode() + b"\0" for m in members))
        m_files = sum(1 for m in members if m.isfile())
        m_size = sum(m.size for m in members if m.isfile()) / 1e6
        subprocess.run(["sync"], check=False)
        sink = "| cat > /dev/null"  # GNU tar skips reading files when it writes to /dev/null
        whole = f"tar -cf - -C {root} . {sink}"
        same = f"tar -cf - -C {root} --no-recursion --null -T {listed} {sink}"
        subprocess.run(whole, shell=True, check=True)  # warm the page cache for every tool

        # Ours and docker-py write their tar stream to a pipe too, as tar does.
        ours_code = (
            "import subprocess\nfrom docker_magics.builds.context import from_directory\n"
            "def work():\n"
            "    cat = subprocess.Popen('cat > /dev/null', shell=True, stdin=subprocess.PIPE)\n"
            f"    for chunk in from_directory({str(root)!r}, dockerfile_text='FROM scratch')"
            ".chunks():\n        cat.stdin.write(chunk)\n"
            "    cat.stdin.close(); cat.wait()\n"
        )
        py_code = (
            "import shutil, subprocess\nfrom docker.utils.build import tar\n"
            f"ex = [l for l in open({str(root / '.dockerignore')!r}).read().splitlines()]\n"
            "def work():\n"
            "    cat = subprocess.Popen('cat > /dev/null', shell=True, stdin=subprocess.PIPE)\n"
            f"    f = tar({str(root)!r}, exclude=ex)\n"
            "    shutil.copyfileobj(f, cat.stdin, 1 << 20); f.close()\n"
            "    cat.stdin.close(); cat.wait()\n"
        )
        times: dict[str, list[float]] = {
            n: [] for n in ("whole", "same", "ours", "tar", "pure", "py")
        }
        rss: dict[str, list[float]] = {"ours": [], "tar": [], "pure": [], "py": []}
        loads: list[float] = []  # what the default's choice of packer goes by

        def shell(command: str) -> float:
            return timed(lambda: subprocess.run(command, shell=True, check=True))

        def in_python(name: str, code: str, env: dict | None = None) -> float:
            t, mb = measure_in_subprocess(code, env)
            rss[name].append(mb)
            return t

        tools = {
            "whole": lambda: shell(whole),
            "same": lambda: shell(same),
            "ours": lambda: in_python("ours", ours_code, {"DOCKER_MAGICS_PACKER": "auto"}),
            "tar": lambda: in_python("tar", ours_code, {"DOCKER_MAGICS_PACKER": "tar"}),
            "pure": lambda: in_python("pure", ours_code, {"DOCKER_MAGICS_PACKER": "python"}),
            "py": lambda: in_python("py", py_code),
        }
        names = list(tools)
        for i in range(repeat):  # in turn, rotating the order: drift hits all alike
            for name in names[i % len(names) :] + names[: i % len(names)]:
                if name == "ours":
                    loads.append(os.getloadavg()[0])
                times[name].append(tools[name]())
        t = {name: statistics.median(values) for name, values in times.items()}
        listed.unlink()
        cores = len(os.sched_getaffinity(0))
        with_tar = sum(load + 1 <= cores for load in loads)
        case = f"3 pack a context (a folder of {count} files, {size:.0f} MB, with .dockerignore)"
        what = f"{m_files} files + {len(members) - m_files} folders, {m_size:.0f} MB"
        row(case, f"GNU tar of the whole folder ({count} files, {size:.0f} MB)", t["whole"],
            "s", runs=repeat)  # fmt: skip
        row(
            case,
            f"GNU tar of the members ours packs ({what}; --no-recursion -T list)",
            t["same"],
            "s",
            runs=repeat,
        )
        row(
            case,
            f"docker_magics, streamed, .dockerignore applied ({what}): the walk in Python, "
            "then GNU tar copying the members while a core is free, else Python's packer",
            t["ours"],
            "s",
            t["same"],
            "target <= 1.15",
            f"ratio to GNU tar of the same members; GNU tar copied in {with_tar} of {repeat} "
            f"runs (load average {min(loads):.1f}-{max(loads):.1f} on {cores} cores)",
            runs=repeat,
        )
        row(
            case,
            "docker_magics with DOCKER_MAGICS_PACKER=tar (GNU tar copying, always)",
            t["tar"],
            "s",
            t["same"],
            "",
            "ratio to GNU tar of the same members",
            runs=repeat,
        )
        row(
            case,
            "docker_magics with DOCKER_MAGICS_PACKER=python (Python's packer, always)",
            t["pure"],
            "s",
            t["same"],
            "",
            "ratio to GNU tar of the same members",
            runs=repeat,
        )
        row(
            case,
            "docker-py utils.build.tar, .dockerignore applied",
            t["py"],
            "s",
            t["same"],
            "",
            "ratio to GNU tar of the same members",
            runs=repeat,
        )
        row(case, "docker_magics peak extra RSS (tar's own ~3 MB not counted)",
            max(rss["ours"] + rss["tar"]), "MB", None, "target <= 32 MB", runs=repeat,
            stat="max")  # fmt: skip
        row(case, "docker_magics peak extra RSS, DOCKER_MAGICS_PACKER=python", max(rss["pure"]),
            "MB", None, "target <= 32 MB", runs=repeat, stat="max")  # fmt: skip
        row(case, "docker-py peak extra RSS", max(rss["py"]), "MB", runs=repeat, stat="max")
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- case 6: a BuildKit build's context transfer, cold -----------------------------------------

DEBIAN_CLI = "/usr/bin/docker"  # Debian 12's docker.io 20.10: BuildKit's client built in


def case_buildkit_context(engine: Dockerd, kernel: Kernel, repeat: int) -> None:
    """``COPY . /ctx`` of a ~344 MB, ~14,400-file folder under BuildKit, the builder cache
    pruned before each run: the engine asks for every file over the session. Side by side
    with the docker CLI's own BuildKit client (``DOCKER_BUILDKIT=1``)."""
    root = Path(tempfile.mkdtemp(prefix="bench-bkctx-"))
    outside = Path(tempfile.mkdtemp(prefix="bench-bkdf-")) / "Dockerfile"
    env = {**os.environ, "DOCKER_HOST": engine.url, "DOCKER_BUILDKIT": "1"}
    dockerfile = f"FROM {BASE}\nCOPY . /ctx\n"
    try:
        make_tree(root, files=14400, total_mb=328)
        (root / ".dockerignore").unlink()  # the whole folder goes
        files = [p for p in root.rglob("*") if p.is_file()]
        count, size = len(files), sum(p.stat().st_size for p in files) / 1e6
        outside.write_text(dockerfile)  # the CLI's Dockerfile, outside the folder

        def cold(tag: str) -> None:
            subprocess.run(
                [DEBIAN_CLI, "builder", "prune", "-af"], env=env, check=True, capture_output=True
            )
            subprocess.run([DEBIAN_CLI, "rmi", "-f", tag], env=env, capture_output=True)

        def the_cli() -> float:
            cold("bench/bkctx:cli")
            return timed(
                lambda: subprocess.run(
                    [
                        DEBIAN_CLI,
                        "build",
                        "-q",
                        "-t",
                        "bench/bkctx:cli",
                        "-f",
                        str(outside),
                        str(root),
                    ],
                    env=env,
                    check=True,
                    capture_output=True,
                )  # fmt: skip
            )

        def ours() -> float:
            cold("bench/bkctx:ours")
            cell = (
                f"%%docker_build -t bench/bkctx:ours --builder buildkit --context {root}\n"
                f"{dockerfile}"
            )
            return timed(lambda: check(kernel.run(cell)))

        subprocess.run(["tar", "-cf", "/dev/null", "-C", str(root), "."], check=True)
        ours(), the_cli()  # warm the page cache (and the kernel's imports) for both
        times: dict[str, list[float]] = {"cli": [], "ours": []}
        for i in range(repeat):  # in turn, so that drift hits both alike
            for tool in ("cli", "ours") if i % 2 == 0 else ("ours", "cli"):
                times[tool].append(the_cli() if tool == "cli" else ours())
        t_cli, t_ours = (statistics.median(times[t]) for t in ("cli", "ours"))
        case = (
            f"7 BuildKit build, COPY . of a folder of {count} files, {size:.0f} MB, "
            "builder cache pruned before each run"
        )
        row(case, "docker CLI 20.10, DOCKER_BUILDKIT=1 (its own BuildKit client)", t_cli, "s",
            runs=repeat)  # fmt: skip
        row(case, "%%docker_build --builder buildkit --context DIR in a kernel", t_ours, "s",
            t_cli, "target <= 1.05", runs=repeat)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(outside.parent, ignore_errors=True)


# -- case 4: push and pull of a 300 MB image ------------------------------------------------


def case_transfer(engine: Dockerd, kernel: Kernel, repeat: int) -> None:
    import docker

    env = {**os.environ, "DOCKER_HOST": engine.url}
    api = docker.APIClient(base_url=engine.url, version="auto")
    build_random_image(engine.url, "bench/big:1", megabytes=320, layers=4)
    size = api.inspect_image("bench/big:1")["Size"] / 1e6
    case = f"4 push and pull of a {size:.0f} MB image in 4 layers, loopback registry"
    registries: list[Registry] = []

    def fresh_target() -> str:
        """A new, empty registry, so every push uploads every layer."""
        reg = Registry(Path(tempfile.mkdtemp(prefix="bench-reg-"))).start()
        registries.append(reg)
        api.tag("bench/big:1", f"{reg.host}/bench/big", "1")
        return f"{reg.host}/bench/big:1"

    def push(tool: str) -> float:
        name = fresh_target()
        if tool == "cli":
            return timed(lambda: cli("push", name, env=env))
        return timed(lambda: check(kernel.run(f"%docker_push {name}")))

    def pull(tool: str, name: str) -> float:
        api.remove_image(name, force=True)  # the only reference left: the layers go too
        if tool == "cli":
            return timed(lambda: cli("pull", name, env=env))
        return timed(lambda: check(kernel.run(f"%docker_pull {name}")))

    try:
        pushes = {"cli": [], "ours": []}
        for i in range(repeat):  # in turn, so that drift hits both alike
            for tool in ("cli", "ours") if i % 2 == 0 else ("ours", "cli"):
                pushes[tool].append(push(tool))
        t_cli, t_ours = (statistics.median(pushes[t]) for t in ("cli", "ours"))
        row(case, "docker push", t_cli, "s", runs=repeat)
        row(case, "%docker_push in a kernel", t_ours, "s", t_cli, "target <= 1.05", runs=repeat)
        # Keep one reference (in the last registry); drop every other one.
        last = f"{registries[-1].host}/bench/big:1"
        for reg in registries[:-1]:
            api.remove_image(f"{reg.host}/bench/big:1", force=True)
        api.remove_image("bench/big:1", force=True)
        pulls = {"cli": [], "ours": []}
        for i in range(repeat):
            for tool in ("cli", "ours") if i % 2 == 0 else ("ours", "cli"):
                pulls[tool].append(pull(tool, last))
        p_cli, p_ours = (statistics.median(pulls[t]) for t in ("cli", "ours"))
        row(case, "docker pull", p_cli, "s", runs=repeat)
        row(case, "%docker_pull in a kernel", p_ours, "s", p_cli, "target <= 1.05", runs=repeat)
    finally:
        for reg in registries:
            reg.cleanup()


def check(ex):
    assert ex.status == "ok", ex.error
    return ex


# -- case 5: import and %load_ext ----------------------------------------------------------


def case_import(repeat: int) -> None:
    def import_time() -> float:
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import docker_magics"],
            capture_output=True,
            text=True,
            check=True,
        )
        line = [x for x in out.stderr.splitlines() if x.rstrip().endswith("docker_magics")][-1]
        return int(line.split("|")[1]) / 1e6  # cumulative microseconds

    def load_ext_time() -> float:
        code = (
            "from IPython.core.interactiveshell import InteractiveShell\n"
            "import time\nip = InteractiveShell.instance()\nt = time.perf_counter()\n"
            "ip.run_line_magic('load_ext', 'docker_magics')\n"
            "print(time.perf_counter() - t)\n"
            "import sys; assert 'docker' not in sys.modules and 'ipywidgets' not in "
            "sys.modules\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return float(out.stdout.split()[-1])

    imports = [import_time() for _ in range(repeat * 2)]
    loads = [load_ext_time() for _ in range(repeat * 2)]
    case = "5 start-up"
    row(
        case,
        "import docker_magics (-X importtime, cumulative)",
        statistics.median(imports) * 1000,
        "ms",
        None,
        "target <= 150 ms",
        "a fresh python -X importtime -c 'import docker_magics': the cumulative time of the "
        "docker_magics line (its imports included, the interpreter's start not)",
        runs=len(imports),
    )
    row(
        case,
        "%load_ext docker_magics in a started IPython",
        statistics.median(loads) * 1000,
        "ms",
        None,
        "",
        "a fresh process creates IPython's InteractiveShell, then perf_counter() around "
        "run_line_magic('load_ext', 'docker_magics'): the import of docker_magics and the "
        "registration of its magics; docker and ipywidgets are checked not to be imported",
        runs=len(loads),
    )


# -- report -------------------------------------------------------------------------------


def machine() -> list[str]:
    def out(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    cpu = next(
        (x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")),
        "?",
    )
    return [
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory: "
        f"{rss_total_gb():.1f} GB; kernel {platform.release()}",
        f"- Python {platform.python_version()}; docker CLI {out(DOCKER, '--version')}",
        *(
            f"- Engine {v}: {out(str(dockerd_binary(v)), '--version')} (private, started by "
            "the benchmark)"
            for v in engines_of(ROWS)
        ),
        f"- Registry: {out('docker-registry', '--version')}",
    ]


def rss_total_gb() -> float:
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def met(r: dict) -> str:
    """Whether a row meets its target ("target <= 1.05": the ratio; "<= 64 KB", with a
    unit: the value)."""
    words = r["target"].split()
    if len(words) < 3 or words[1] != "<=":
        return ""
    limit = float(words[2])
    measured = r["value"] if len(words) > 3 else r["ratio"]
    return "yes" if measured is not None and measured <= limit else "**NO**"


def engines_of(rows: list[dict]) -> list[str]:
    return [v for v in ENGINE_VERSIONS if any(r.get("engine") == v for r in rows)]


def write_report(notes: list[str]) -> None:
    """One line per measurement, the engines side by side (a case that uses no engine has
    its value in the first engine's column)."""
    engines = engines_of(ROWS) or [ENGINE_VERSIONS[0]]
    measured: dict[tuple[str, str], dict[str, dict]] = {}
    for r in ROWS:
        measured.setdefault((r["case"], r["what"]), {})[r.get("engine", "")] = r
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run.py` (`bash bench/run.sh` sets up and runs it): medians or "
        "maxima over the number of runs shown, measured side by side in one run; ratio = "
        "ours / the reference above it in the same case, or the one named in the note.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        *(line for note in notes for line in (note, "")),
        "## Results",
        "",
        "| case | what | "
        + " | ".join(f"engine {v} | runs | ratio" for v in engines)
        + " | target | met | note |",
        "|---|---|" + "---|---|---|" * len(engines) + "---|---|---|",
    ]
    for (case, what), by_engine in measured.items():
        cells, first = [], next(iter(by_engine.values()))
        for i, v in enumerate(engines):
            r = by_engine.get(v) or (by_engine.get("") if i == 0 else None)
            if r is None:
                cells.append("(no engine) | |" if "" in by_engine else " | |")
                continue
            value = f"{r['value']:.3f} {r['unit']}" + (" (max)" if r["stat"] == "max" else "")
            ratio = f"{r['ratio']:.3f}" if r["ratio"] else ""
            cells.append(f"{value} | {r['runs']} | {ratio}")
        verdicts = [met(r) for r in by_engine.values()]
        lines.append(
            f"| {case} | {what} | {' | '.join(cells)} | {first['target']} | "
            f"{' / '.join(verdicts) if any(verdicts) else ''} | {first['note']} |"
        )
    misses = [r for r in ROWS if met(r) == "**NO**"]
    lines += ["", "## Targets missed", ""]
    lines += [
        f"- {r['case']}{f' (engine {e})' if (e := r.get('engine')) else ''}: {r['what']} "
        f"({r['target']})"
        for r in misses
    ] or ["- none"]
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines) + "\n")
    (ROOT / "bench" / "results.json").write_text(json.dumps(ROWS, indent=1))


SHARED = (
    "Timings on these VMs drift (the same code measured minutes apart can differ by 1.5x). "
    "Each case runs its tools in turn, rotating the order, so that drift hits them alike; "
    "ratios are what to read."
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cases", default="1,2,3,4,5,6,7,8")
    parser.add_argument(
        "--floods", default=",".join(FLOODS), help=f"case 2's variants, of {list(FLOODS)}"
    )
    parser.add_argument("--note", action="append", default=[], help="a line for RESULTS.md")
    parser.add_argument(
        "--engines",
        default=",".join(ENGINE_VERSIONS),
        help=f"the engines the engine cases run on, in turn (of {', '.join(ENGINE_VERSIONS)})",
    )
    parser.add_argument(
        "--rerun",
        action="store_true",
        help="keep the other cases' rows of bench/results.json (a disturbed case run again)",
    )
    parser.add_argument(
        "--report", action="store_true", help="only rewrite RESULTS.md from results.json"
    )
    args = parser.parse_args()
    if args.report:
        ROWS[:] = previous_rows()
        write_report([SHARED, *args.note])
        return
    cases = set(args.cases.split(","))
    engines = args.engines.split(",")
    if not set(engines) <= set(ENGINE_VERSIONS):
        parser.error(f"--engines: use some of {', '.join(ENGINE_VERSIONS)}")
    kept = []
    if args.rerun:  # rows of the other cases, and of the engines not run now, stay
        kept = [
            r
            for r in previous_rows()
            if r["case"].split()[0] not in cases or (r["engine"] and r["engine"] not in engines)
        ]
    global ENGINE
    try:
        if "3" in cases:
            case_context(args.repeat)
        if "5" in cases:
            case_import(args.repeat)
        for version in engines if cases - ENGINE_FREE - {"8"} else []:
            ENGINE = version
            on_engine(version, cases, args)
        if "8" in cases:  # a swarm of its own, of the default engines (bench/swarm.py)
            from swarm import case_swarm

            ENGINE = ENGINE_VERSIONS[0]
            case_swarm(args.repeat, row)
    finally:
        ENGINE = ""
        order = {v: i for i, v in enumerate(["", *ENGINE_VERSIONS])}
        ROWS[:] = sorted(kept + ROWS, key=lambda r: (int(r["case"].split()[0]), order[r["engine"]]))
        write_report([SHARED, *args.note])


def on_engine(version: str, cases: set[str], args) -> None:
    """The cases that use an engine, on a private engine of this version."""
    engine = Dockerd(Path("/tmp") / f"dm-bench-{uuid.uuid4().hex[:6]}", version=version).start()
    kernel = None
    try:
        build_busybox(engine.url, BASE)
        if cases & {"1", "2", "4", "6"}:
            kernel = Kernel(env={"DOCKER_HOST": engine.url})
            kernel.run("%load_ext docker_magics\n%docker_connect")
        if "1" in cases:
            case_builds(engine, kernel, args.repeat)
        if "2" in cases:
            for variant in args.floods.split(","):
                # The long variant takes half a minute a run: fewer runs.
                runs = args.repeat if FLOODS[variant][1] < 0.2 else max(3, args.repeat // 2)
                case_flood(engine, kernel, runs, [variant])
        if "4" in cases:
            case_transfer(engine, kernel, max(3, args.repeat // 2))
        if "6" in cases:
            from reproduce import case_reproduce  # bench/reproduce.py

            case_reproduce(engine, args.repeat, row)
        if "7" in cases:
            case_buildkit_context(engine, kernel, max(3, args.repeat))
    finally:
        if kernel is not None:
            kernel.shutdown()
        engine.cleanup()


def previous_rows() -> list[dict]:
    """bench/results.json; rows from before engines were recorded were measured on 20.10."""
    rows = json.loads((ROOT / "bench" / "results.json").read_text())
    for r in rows:
        if "engine" not in r:
            r["engine"] = "" if r["case"].split()[0] in ENGINE_FREE else "20.10"
    return rows


if __name__ == "__main__":
    main()
