"""%%docker_build --builder buildkit against the real engine, side by side with the classic
builder. (These engines run without a default bridge network, so RUN steps need
--network none under BuildKit; the error for forgetting it is tested too.)"""

from __future__ import annotations

import os
import re
import time

import pytest

from docker_magics.display.tables import human_size
from tests.engine.conftest import ssh_url

pytestmark = pytest.mark.engine


SAME = """\
FROM {base}
ENV GREETING=hello
WORKDIR /app
COPY data.txt conf/settings.ini ./
RUN mkdir -p out && echo "$GREETING" > out/greeting && cp data.txt out/copy.txt
RUN ln -s out/greeting link && chmod 600 out/copy.txt
"""


@pytest.fixture
def bk(run, engine, busybox, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    assert run(f"%docker_connect {engine.url}").error is None
    api = engine.api()
    yield run
    assert api.containers(all=True) == []


def listing(engine, image: str) -> str:
    api = engine.api()
    c = api.create_container(
        image,
        [
            "sh",
            "-c",
            "cd /app && find . | sort | while read f; do "
            'ls -ld "$f" | cut -c1-10; md5sum "$f" 2>/dev/null; '
            "done; readlink link; pwd; echo $GREETING",
        ],
    )
    try:
        api.start(c)
        api.wait(c)
        return api.logs(c).decode()
    finally:
        api.remove_container(c, force=True)


def test_same_filesystem_with_both_builders(bk, engine, busybox, tmp_path):
    (tmp_path / "data.txt").write_text("some data\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "settings.ini").write_text("[x]\ny=1\n")
    dockerfile = SAME.format(base=busybox)
    for builder in ("classic", "buildkit"):
        cell = bk(
            f"%%docker_build -t dm-test/same:{builder} --builder {builder} "
            f"--network none --context {tmp_path} --progress none\n{dockerfile}"
        )
        assert cell.error is None, (builder, cell.err)
    classic = listing(engine, "dm-test/same:classic")
    assert "some data" not in classic and "out/greeting" in classic
    assert listing(engine, "dm-test/same:buildkit") == classic


def test_progress_like_buildx_and_cache_hits(bk, busybox):
    dockerfile = f"FROM {busybox}\nRUN echo first > /f\nRUN echo 'second step' && echo warn >&2\n"
    cell = bk(
        f"%%docker_build -t dm-test/bk --builder buildkit --network none --no-cache "
        f"--progress plain\n{dockerfile}"
    )
    assert cell.error is None, cell.err
    lines = cell.out.splitlines()
    assert lines[0] == "Building dm-test/bk from the Dockerfile"
    number = next(line.split()[0] for line in lines if line.endswith("RUN echo first > /f"))
    assert f"{number} DONE" in " ".join(lines)
    assert any(line.endswith("second step") and line.startswith("#") for line in lines)
    assert "warn" in cell.err
    # As buildx prints them: every line says its step ("#N "), a task as its ID, the bytes
    # it moved and "done" (not "transferring dockerfile: transferring done"), each before
    # its step's DONE.
    assert lines[-1].startswith("Built ")
    assert [line for line in lines[1:-1] if not re.match(r"#\d+ ", line)] == []
    sent = [line for line in lines if "transferring dockerfile:" in line]
    assert len(sent) == 1 and re.fullmatch(
        r"#(\d+) transferring dockerfile: [\d.]+k?B done", sent[0]
    )
    exporter = next(line.split()[0] for line in lines if line.endswith(" exporting to image"))
    done = next(i for i, line in enumerate(lines) if line.startswith(f"{exporter} DONE "))
    naming = next(i for i, line in enumerate(lines) if line.startswith(f"{exporter} naming to "))
    assert naming < done, lines
    again = bk(
        f"%%docker_build -t dm-test/bk --builder buildkit --network none "
        f"--progress plain\n{dockerfile}"
    )
    assert again.value.image_id == cell.value.image_id
    runs = [s for s in again.value.steps if "RUN" in s.name]
    assert [s.status for s in runs] == ["cached", "cached"]
    assert again.out.count(" CACHED") >= 2


def test_parallel_stages_run_in_parallel(bk, busybox):
    cell = bk(
        f"%%docker_build -t dm-test/par --builder buildkit --network none --no-cache "
        f"--progress plain\nFROM {busybox} AS a\nRUN sleep 2 && echo from-a | tee /a\n"
        f"FROM {busybox} AS b\nRUN sleep 2 && echo from-b | tee /b\n"
        f"FROM {busybox}\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"
    )
    assert cell.error is None, cell.err
    lines = cell.out.splitlines()
    for stage in "ab":  # each step's lines say which step they are of
        number = next(line.split()[0] for line in lines if f"[{stage} 2/2] RUN" in line)
        assert f"{number} from-{stage}" in lines, lines
    result = cell.value
    a = next(s for s in result.steps if s.name.startswith("[a 2/2]"))
    b = next(s for s in result.steps if s.name.startswith("[b 2/2]"))
    assert a.duration >= 2 and b.duration >= 2
    # Overlapping intervals: each started before the other ended.
    assert a.started < b.started + b.duration and b.started < a.started + a.duration
    assert result.duration < a.duration + b.duration  # not one after the other


def test_failing_step_and_missing_network(bk, busybox):
    msg = bk(
        f"%%docker_build --builder buildkit --network none\nFROM {busybox}\n"
        "RUN echo about to fail; exit 6\n"
    ).usage_error
    assert msg == (
        "Step [2/2] RUN echo about to fail; exit 6 failed with exit code 6: about to fail"
    )
    no_net = bk(f"%%docker_build --builder buildkit\nFROM {busybox}\nRUN true\n").usage_error
    assert no_net == (
        "Step [2/2] RUN true failed: the engine has no default bridge network for RUN steps "
        "(its dockerd runs with --bridge=none). Build with --network none (or --network host)."
    )


def test_cache_mount_and_auto(bk, busybox, engine):
    from tests.engine.test_build import run_in

    dockerfile = (
        f"FROM {busybox}\nARG N\nRUN --mount=type=cache,target=/cache "
        "echo run $N >> /cache/runs && wc -l < /cache/runs > /count\n"
    )
    for n in (1, 2):  # the step runs twice (its argument changed): the cache mount is kept
        cell = bk(
            f"%%docker_build -t dm-test/cm --builder auto --network none --build-arg N={n} "
            f"--progress none\n{dockerfile}"
        )
        assert cell.error is None, cell.err
    # auto chose BuildKit (this engine offers it), and the cache mount outlived a build.
    assert any("] RUN --mount=type=cache" in s.name for s in cell.value.steps)
    assert int(run_in(engine.api(), "dm-test/cm", "cat /count")) >= 2


def test_classic_builder_rejects_buildkit_syntax(bk, busybox):
    msg = bk(
        f"%%docker_build --builder classic\nFROM {busybox}\nRUN --mount=type=cache,target=/c true\n"
    ).usage_error
    assert "--mount" in msg


def test_build_secrets_reach_the_run_step_only(bk, busybox, engine, tmp_path, monkeypatch):
    """--secret (from the environment and from a file) is served over a BuildKit session:
    the RUN step reads it, no layer or history keeps it, and printing it shows ******."""
    token = "tok-" + os.urandom(12).hex()
    monkeypatch.setenv("DM_API_TOKEN", token)
    key_file = tmp_path / "deploy.key"
    # 300 KiB: more than HTTP/2's initial 64 KiB window, so the reply waits for the engine's
    # window updates (flow control), in many frames.
    key_file.write_bytes(b"KEY-" + os.urandom(150 * 1024).hex().encode())
    cell = bk(
        "%%docker_build -t dm-test/secrets --builder buildkit --network none --progress plain "
        "--secret id=api,env=DM_API_TOKEN --secret id=DM_API_TOKEN "
        f"--secret id=key,src={key_file}\n"
        f"FROM {busybox}\n"
        "RUN --mount=type=secret,id=api --mount=type=secret,id=DM_API_TOKEN "
        "--mount=type=secret,id=key "
        'echo "api=$(cat /run/secrets/api)"; cmp /run/secrets/api /run/secrets/DM_API_TOKEN '
        "&& wc -c < /run/secrets/key > /key-size && ls /run/secrets > /seen\n"
    )
    assert cell.error is None, cell.err
    assert "api=******" in cell.out and token not in cell.out + cell.err
    from tests.engine.test_build import run_in

    api = engine.api()
    assert run_in(api, "dm-test/secrets", "cat /key-size").strip() == str(key_file.stat().st_size)
    assert run_in(api, "dm-test/secrets", "ls /run/secrets 2>/dev/null | wc -l").strip() == "0"
    history = str(api.history("dm-test/secrets")) + str(api.inspect_image("dm-test/secrets"))
    assert token not in history
    saved = api.get_image("dm-test/secrets")  # every layer, as `docker save` writes them
    assert token.encode() not in b"".join(saved)
    assert token not in cell.value.log.text()


def test_secret_build_arg_masked_in_buildkit_step_names(bk, busybox, monkeypatch):
    """BuildKit writes ARG values into its step names ("RUN echo $X" shows the value):
    masked there too, in the output, the kept log and the steps of the result."""
    value = "bkarg-" + os.urandom(8).hex()
    monkeypatch.setenv("DM_BK_ARG", value)
    cell = bk(
        "%%docker_build --builder buildkit --network none --progress plain --no-cache "
        f"--secret-build-arg DM_BK_ARG\nFROM {busybox}\nARG DM_BK_ARG\n"
        'RUN echo "seen $DM_BK_ARG"\n'
    )
    assert cell.error is None, cell.err
    result = cell.value
    shown = cell.out + cell.err + result.log.text() + repr(result) + result._repr_html_()
    shown += " ".join(step.label for step in result.steps)
    assert "seen ******" in cell.out
    assert value not in shown


def test_secret_mistakes_are_one_line(bk, busybox, monkeypatch):
    monkeypatch.delenv("DM_UNSET_SECRET", raising=False)
    cases = {
        "--builder classic --secret id=DM_PATH_LIKE": (
            "--secret needs BuildKit: the classic builder has no build secrets. Add --builder "
            "buildkit (or use --secret-build-arg, which masks a build argument)."
        ),
        "--builder buildkit --secret id=x,env=DM_UNSET_SECRET": (
            "--secret x: its environment variable is not set. Set it before the build "
            "(os.environ in the kernel), or use src=FILE."
        ),
        "--builder buildkit --secret hunter2-typed-here": (
            "Invalid --secret (not shown: it may hold a secret). Use --secret id=ID,env=VAR "
            "or --secret id=ID,src=FILE."
        ),
        "--builder buildkit --secret id=k,src=/nonexistent/key": (
            "--secret k: cannot read /nonexistent/key (No such file or directory). Give a "
            "readable file with src=FILE."
        ),
    }
    monkeypatch.setenv("DM_PATH_LIKE", "value-of-it")
    for options, line in cases.items():
        assert bk(f"%%docker_build {options}\nFROM {busybox}\n").usage_error == line
    # A secret the Dockerfile asks for but the build was not given: BuildKit's own words
    # ("secret nope not found" on 20.10, "secret nope: not found" on 26), and what to do.
    missing = bk(
        f"%%docker_build --builder buildkit --network none\nFROM {busybox}\n"
        "RUN --mount=type=secret,id=nope,required=true cat /run/secrets/nope\n"
    ).usage_error
    assert re.search(r"failed: secret nope:? not found(: not found)?\. ", missing), missing
    assert missing.endswith(
        "The Dockerfile mounts the build secret nope: give it with --secret id=nope,env=VAR "
        "(or src=FILE)."
    )


def test_buildkit_pulls_a_private_base_with_the_session_login(
    bk, busybox, engine, auth_registry, monkeypatch, docker_env
):
    """BuildKit's own pull of a base image from a registry that needs a login gets the
    credentials of %docker_login through the session (as buildx does)."""
    from docker_magics.registry import credentials
    from tests.support import REGISTRY_USER

    host = auth_registry.host
    monkeypatch.setenv("DM_PW", auth_registry.users[REGISTRY_USER])
    assert bk(f"%docker_login {host} -u {REGISTRY_USER} --password-env DM_PW").error is None
    bk(f"%docker_tag {busybox} {host}/dm/private-base:1")
    assert bk(f"%docker_push {host}/dm/private-base:1 --progress none").error is None
    engine.api().remove_image(f"{host}/dm/private-base:1")
    dockerfile = f"FROM {host}/dm/private-base:1\nRUN echo on the private base\n"
    cell = bk(
        f"%%docker_build -t dm-test/from-private --builder buildkit --network none "
        f"--progress plain\n{dockerfile}"
    )
    assert cell.error is None, cell.err
    assert "on the private base" in cell.out
    # Without the login, the same pull is refused, and the line says what to do.
    credentials.CREDENTIALS.forget(host)
    refused = bk(
        f"%%docker_build --builder buildkit --network none --no-cache --pull "
        f"--progress none\n{dockerfile}"
    ).usage_error
    assert refused.startswith(
        f"The build failed: the registry {host} wants a login to pull the base image "
    ) and refused.endswith(f"Log in with %docker_login {host} and build again."), refused


def test_build_secret_over_a_tls_engine(run, tls_engine, monkeypatch, tmp_path):
    """The session's HTTP/2 runs inside the engine's TLS connection too (secrets and the
    context)."""
    from tests.support import build_busybox

    build_busybox(tls_engine.dockerd.url, "dm/tls-bb:1")
    d = tls_engine.certs.client_dir
    connected = run(f"%docker_connect {tls_engine.url} --cert-path {d} --alias tls-bk")
    assert connected.error is None, connected.err
    monkeypatch.setenv("DM_TLS_SECRET", "over-tls-" + os.urandom(4).hex())
    cell = run(
        "%%docker_build --builder buildkit --network none --progress plain "
        "--secret id=DM_TLS_SECRET\nFROM dm/tls-bb:1\n"
        "RUN --mount=type=secret,id=DM_TLS_SECRET wc -c < /run/secrets/DM_TLS_SECRET\n"
    )
    assert cell.error is None, cell.err
    assert str(len(os.environ["DM_TLS_SECRET"])) in cell.out.split()
    context_round_trip(run, "dm/tls-bb:1", tmp_path)


def context_round_trip(run, base: str, tmp_path) -> None:
    """A context of several MB (many HTTP/2 frames and flow-control windows) reaches the
    build whole, whatever carries the session."""
    import hashlib

    folder = tmp_path / "sent"
    folder.mkdir()
    (folder / "big.bin").write_bytes(os.urandom(6 << 20))
    (folder / "small.txt").write_text("small\n")
    cell = run(
        f"%%docker_build --builder buildkit --network none --progress plain --context {folder}"
        f"\nFROM {base}\nCOPY . /ctx\nRUN cd /ctx && md5sum big.bin small.txt\n"
    )
    assert cell.error is None, cell.err
    for name in ("big.bin", "small.txt"):
        digest = hashlib.md5((folder / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in cell.out


TREE_LISTING = (
    "cd /ctx && find . | sort | while read f; do stat -c '%n %A %u:%g %s %h' \"$f\"; "
    '[ -L "$f" ] && readlink "$f"; [ -f "$f" ] && md5sum < "$f"; done; true'
)


def tree_of(engine, image: str, where: str = "/ctx") -> str:
    from tests.engine.test_build import run_in

    return run_in(engine.api(), image, TREE_LISTING.replace("/ctx", where))


def _project(root):
    """A folder with what .dockerignore and the walk must get right."""
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text("print('hi')\n")
    (root / "src" / "run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "src" / "run.sh").chmod(0o755)
    (root / "private").mkdir(mode=0o700)
    (root / "private" / "key").write_text("k\n")
    (root / "empty").mkdir()
    (root / "data.txt").write_text("some data\n")
    os.link(root / "data.txt", root / "src" / "same-data.txt")
    (root / "link").symlink_to("data.txt")
    (root / "dangling").symlink_to("/nonexistent")
    (root / "build").mkdir(mode=0o711)
    (root / "build" / "out.o").write_text("object\n")
    (root / "build" / "keep").mkdir()
    (root / "build" / "keep" / "me.txt").write_text("kept\n")
    (root / "debug.log").write_text("log\n")
    (root / "Dockerfile").write_text("FROM scratch\n# the folder's own, not the cell's\n")


@pytest.mark.parametrize("kind", ["cell", "folder", "file"])
def test_copy_dot_is_the_same_with_both_builders(bk, engine, busybox, tmp_path, kind):
    """COPY . gets the same entries, modes, owners, link targets and bytes from both
    builders; the cell's Dockerfile never, .dockerignore only where classic has it too."""
    root = tmp_path / "project"
    root.mkdir()
    _project(root)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "requirements.txt").write_text("numpy\n")
    (extra / "conf").mkdir()
    (extra / "conf" / "app.ini").write_text("[app]\n")
    dockerfile = f"FROM {busybox}\nCOPY . /ctx\n"
    if kind == "cell":
        options = f"--add {extra}/requirements.txt --add {extra}/conf:etc/app/conf"
    elif kind == "folder":
        (root / ".dockerignore").write_text(
            "*.log\nbuild\n!build/keep\nDockerfile\n.dockerignore\n"
        )
        options = f"--context {root} --add {extra}/requirements.txt:src/requirements.txt"
    else:  # --file inside the folder: the .dockerignore does not exclude itself
        (root / ".dockerignore").write_text("*.log\nbuild\n!build/keep\n")
        (root / "docker").mkdir()
        (root / "docker" / "app.Dockerfile").write_text(dockerfile)
        options = f"--context {root} --file {root}/docker/app.Dockerfile"
        dockerfile = ""
    trees = {}
    for builder in ("classic", "buildkit"):
        magic = "%%docker_build" if dockerfile else "%docker_build"  # --file: a line magic
        cell = bk(
            f"{magic} -t dm-test/ctx-{kind}:{builder} --builder {builder} {options} "
            f"--progress none\n{dockerfile}"
        )
        assert cell.error is None, (builder, cell.err)
        trees[builder] = tree_of(engine, f"dm-test/ctx-{kind}:{builder}")
    assert trees["buildkit"] == trees["classic"]
    names = [line.split()[0] for line in trees["classic"].splitlines() if line.startswith(".")]
    assert not any(".dockerfile." in n for n in names)
    expected = {
        "cell": ["./etc/app/conf/app.ini", "./requirements.txt"],
        "folder": ["./build/keep/me.txt", "./private/key", "./src/requirements.txt"],
        "file": ["./.dockerignore", "./Dockerfile", "./docker/app.Dockerfile"],
    }[kind]
    assert set(expected) <= set(names), names
    assert ("./.dockerignore" in names) == (kind == "file")
    assert ("./Dockerfile" in names) == (kind == "file")  # the folder's own, if not ignored
    if kind != "cell":
        assert "./debug.log" not in names and "./build/out.o" not in names
        # the hard link, the excluded-but-reopened folder made 0755, the 0700 folder:
        assert "./src/same-data.txt -rw-r--r-- 0:0 10 2" in trees["classic"]
        assert "./build drwxr-xr-x 0:0" in trees["classic"]
        assert "./private drwx------ 0:0" in trees["classic"]


def test_what_differs_is_the_builders_copy_not_the_context(bk, engine, busybox, tmp_path):
    """Two differences come from the engine's COPY implementations, not from the context
    (which has both): the classic builder's COPY clears set-user-ID bits (it chowns after
    copying), 20.10's BuildKit COPY skips named pipes (26's copies them)."""
    folder = tmp_path / "context"  # (tmp_path also has the test's DOCKER_CONFIG)
    folder.mkdir()
    (folder / "suid").write_text("s")
    (folder / "suid").chmod(0o4755)
    os.mkfifo(folder / "fifo")
    for builder in ("classic", "buildkit"):
        cell = bk(
            f"%%docker_build -t dm-test/diff:{builder} --builder {builder} --context {folder} "
            f"--progress none\nFROM {busybox}\nCOPY . /ctx\n"
        )
        assert cell.error is None, cell.err
    classic = tree_of(engine, "dm-test/diff:classic")
    buildkit = tree_of(engine, "dm-test/diff:buildkit")
    assert "./suid -rwxr-xr-x" in classic and "./fifo prw-r--r--" in classic
    assert "./suid -rwsr-xr-x" in buildkit
    if engine.api_version >= (1, 45):
        assert "./fifo prw-r--r--" in buildkit
    else:
        assert "./fifo" not in buildkit
    # What BuildKit got: the context, mounted as it is.
    cell = bk(
        f"%%docker_build -t dm-test/diff:mounted --builder buildkit --network none "
        f"--context {folder} --progress none\nFROM {busybox}\n"
        "RUN --mount=type=bind,target=/c cd /c && stat -c '%n %A' suid fifo > /l\n"
    )
    assert cell.error is None, cell.err
    from tests.engine.test_build import run_in

    mounted = run_in(engine.api(), "dm-test/diff:mounted", "cat /l")
    assert mounted.splitlines() == ["suid -rwsr-xr-x", "fifo prw-r--r--"]


OVER_SESSION = "sent over the BuildKit session"


def test_second_build_sends_nothing_and_is_cached(bk, engine, busybox, tmp_path):
    folder = tmp_path / "context"  # (tmp_path also has the test's DOCKER_CONFIG)
    folder.mkdir()
    (folder / "data.txt").write_text("first\n")
    (folder / "big.bin").write_bytes(os.urandom(1 << 20))
    build = (
        f"%%docker_build -t dm-test/cache-ctx --builder buildkit --context {folder} "
        f"--progress none\nFROM {busybox}\nCOPY . /ctx\n"
    )
    first = bk(build)
    assert first.error is None, first.err
    assert first.value.context.endswith(f"2 context entries (1.05MB) {OVER_SESSION}"), (
        first.value.context
    )
    again = bk(build)
    assert again.value.image_id == first.value.image_id
    copy = next(s for s in again.value.steps if "COPY . /ctx" in s.name)
    assert copy.status == "cached"
    # The engine kept its copy from the first build (same folder, same shared key): it
    # asked for no file at all.
    assert again.value.context.endswith(f"2 context entries (0B) {OVER_SESSION}"), (
        again.value.context
    )
    (folder / "data.txt").write_text("second\n")
    changed = bk(build)
    assert changed.value.image_id != first.value.image_id
    assert changed.value.context.endswith(f"2 context entries (7B) {OVER_SESSION}"), (
        changed.value.context
    )
    from tests.engine.test_build import run_in

    assert run_in(engine.api(), "dm-test/cache-ctx", "cat /ctx/data.txt") == "second\n"


@pytest.mark.parametrize("change", ["deleted", "modified"])
def test_a_file_changed_while_it_is_sent(bk, busybox, tmp_path, change):
    """One line, and nothing left behind (no session thread, the file closed)."""
    import threading

    folder = tmp_path / "context"  # (tmp_path also has the test's DOCKER_CONFIG)
    folder.mkdir()
    big = folder / "big.bin"
    big.write_bytes(os.urandom(150 << 20))
    meddled = threading.Event()

    def meddle():  # as soon as the session has the file open
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _open_here(big):
            time.sleep(0.001)
        if change == "deleted":
            big.unlink()
        else:
            with big.open("ab") as f:
                f.write(b"more")
        meddled.set()

    threading.Thread(target=meddle, daemon=True).start()
    msg = bk(
        f"%%docker_build --builder buildkit --context {folder} --progress none\n"
        f"FROM {busybox}\nCOPY . /ctx\n"
    ).usage_error
    assert meddled.is_set()
    assert msg == (
        f"{big} changed while the build context was being sent (it was {change}). "
        "Run the cell again once nothing is writing to the context."
    )
    assert not [t for t in threading.enumerate() if t.name.startswith("buildkit")]
    assert not _open_here(big)


def _open_here(path) -> bool:
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") in (str(path), f"{path} (deleted)"):
                return True
        except OSError:
            pass
    return False


@pytest.mark.parametrize("client", ["paramiko", "openssh"])
def test_context_over_ssh(run, busybox, tmp_path, request, client):
    """Both SSH transports carry the session's file sync (the fixtures are test_ssh's)."""
    server = request.getfixturevalue("sshd")
    request.getfixturevalue("openssh" if client == "openssh" else "ssh_home")
    url = ssh_url(server)
    assert run(f"%docker_connect {url} --ssh-client {client}").error is None
    context_round_trip(run, busybox, tmp_path)


class SessionlessProxy:
    """The engine behind a loopback port that answers 404 to ``POST /session`` (as an engine
    or a proxy without BuildKit sessions would) and passes every other request on."""

    def __init__(self, socket_path: str) -> None:
        import socket
        import threading

        self.socket_path = socket_path
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.server.getsockname()[1]}"
        self.refused = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client) -> None:
        import socket
        import threading

        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(self.socket_path)

        def back():  # responses pass as they are
            try:
                while data := upstream.recv(65536):
                    client.sendall(data)
            except OSError:
                pass
            finally:  # closed here only: closed under a recv, its fd could be reused first
                client.close()
                upstream.close()

        threading.Thread(target=back, daemon=True).start()
        reader = client.makefile("rb")
        try:
            while head := self._head(reader):
                if head.split(b" ")[1].endswith(b"/session"):
                    self.refused += 1
                    body = b'{"message":"page not found"}'
                    client.sendall(
                        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                    )
                    continue
                upstream.sendall(head)
                self._body(head, reader, upstream)
        except OSError:
            pass
        finally:
            try:
                upstream.shutdown(socket.SHUT_RDWR)  # wakes back(), which closes both
            except OSError:
                pass

    @staticmethod
    def _head(reader) -> bytes:
        lines = []
        while (line := reader.readline()) not in (b"\r\n", b""):
            lines.append(line)
        return b"".join(lines) + b"\r\n" if lines else b""

    @staticmethod
    def _body(head: bytes, reader, upstream) -> None:
        fields = dict(
            line.split(b":", 1) for line in head.lower().split(b"\r\n")[1:] if b":" in line
        )
        if fields.get(b"transfer-encoding", b"").strip() == b"chunked":
            while True:
                size_line = reader.readline()
                size = int(size_line.split(b";")[0], 16)
                upstream.sendall(size_line + reader.read(size + 2))
                if size == 0:
                    return
        length = int(fields.get(b"content-length", b"0"))
        if length:
            upstream.sendall(reader.read(length))


def test_an_engine_without_sessions(run, engine, busybox, tmp_path):
    """--builder buildkit says so in one line; auto builds with the classic builder."""
    proxy = SessionlessProxy(str(engine.url).removeprefix("unix://"))
    try:
        assert run(f"%docker_connect {proxy.url} --alias sessionless").error is None
        (tmp_path / "data.txt").write_text("data\n")
        build = (
            f"%%docker_build -t dm-test/sessionless --builder {{}} --add {tmp_path}/data.txt "
            f"--progress none\nFROM {busybox}\nCOPY . /ctx\n"
        )
        msg = run(build.format("buildkit")).usage_error
        assert msg.startswith(
            "The engine did not open the BuildKit session that carries the build context: "
            f"the engine at {proxy.url} answered: page not found"
        ), msg
        assert msg.endswith("Use --builder classic."), msg
        assert "\n" not in msg
        cell = run(build.format("auto"))
        assert cell.error is None, cell.err
        assert proxy.refused == 2
        assert [s.name for s in cell.value.steps][1] == "COPY . /ctx"  # classic's steps
        listing = tree_of(engine, "dm-test/sessionless")
        names = [line.split()[0] for line in listing.splitlines() if line.startswith(".")]
        assert names == [".", "./data.txt"]
    finally:
        proxy.close()


TWO_STAGE = (
    "FROM {base} AS base\nRUN echo hello\nFROM base AS final\n"
    "COPY --from=base /bin/busybox /copied\nRUN ls /copied\n"
)


@pytest.mark.parametrize("builder", ["buildkit", "auto"])
def test_buildkit_summary(bk, engine, busybox, builder):
    """The summary names the tags the engine gave (engine 26 says so only in its "naming
    to" progress), the builder that ran (auto picks BuildKit on these engines), the
    Dockerfile's steps (5 instructions, not BuildKit's 8 steps), and what the session sent
    (the Dockerfile, in a source of its own)."""
    dockerfile = TWO_STAGE.format(base=busybox)
    cell = bk(
        f"%%docker_build -t dm-test/two -t dm-test/two:2 --builder {builder} --network none "
        f"--no-cache --progress none\n{dockerfile}"
    )
    assert cell.error is None, cell.err
    result = cell.value
    assert result.tags == ["dm-test/two:latest", "dm-test/two:2"]
    tags = engine.api().inspect_image(result.image_id)["RepoTags"]
    assert sorted(tags) == sorted(result.tags)
    assert result.builder == "buildkit"
    assert result.summary().startswith(
        f"Built {result.short_id} (dm-test/two:latest, dm-test/two:2) with BuildKit, "
    )
    # --no-cache: no RUN or COPY from the cache (20.10's BuildKit may say CACHED for a FROM
    # it resolved before)
    cached = [s.name for s in result.steps if s.status == "cached"]
    assert all("] FROM " in name for name in cached), cached
    assert result.summary().endswith(f" {len(cached)} of 5 steps cached")
    assert any(s.name.startswith("[internal]") for s in result.steps)  # kept, not counted
    size = human_size(len(dockerfile.encode()))
    assert result.context == f"the Dockerfile: the Dockerfile ({size}) {OVER_SESSION}"
    again = bk(
        f"%%docker_build -t dm-test/two --builder {builder} --network none --progress none\n"
        f"{dockerfile}"
    ).value
    assert again.image_id == result.image_id and again.tags == ["dm-test/two:latest"]
    # The RUN, the COPY and the RUN (and the FROM, on 20.10)
    cached = [s.name.split("] ")[1].split()[0] for s in again.steps if s.status == "cached"]
    assert sorted(cached) in (["COPY", "RUN", "RUN"], ["COPY", "FROM", "RUN", "RUN"]), cached
    assert again.summary().endswith(f" {len(cached)} of 5 steps cached")


def test_unused_stages_are_not_counted(bk, busybox):
    """BuildKit builds only the stages the target needs: the summary counts theirs."""
    cell = bk(
        f"%%docker_build --builder buildkit --network none --progress none --target final\n"
        f"FROM {busybox} AS unused\nRUN echo never\nRUN echo never again\n"
        + TWO_STAGE.format(base=busybox)
        + "FROM base AS last\nRUN echo after the target\n"
    )
    assert cell.error is None, cell.err
    result = cell.value
    assert not any("never" in s.name or "after the target" in s.name for s in result.steps)
    assert result.summary().endswith(" of 5 steps cached")
