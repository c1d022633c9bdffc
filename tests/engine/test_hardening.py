"""Hardening, round 2 (issue 18): what a hostile hunt broke, each case run against a real
engine as the hunt ran it. Secrets typed into the wrong place, numbers out of range, -p as the
docker CLI reads it, the engine's own refusals turned into lines that say what to do."""

from __future__ import annotations

import re
import secrets
import subprocess
import threading
import time
import warnings

import pytest

from tests.support.engines import engine_version

pytestmark = pytest.mark.engine


# -- secrets typed into a magic's line ---------------------------------------------------------


def history_holding(ip, text: str) -> list[str]:
    """The places of IPython's history that still hold ``text``: its lists, the ``_iN``
    variables, and its database (history.sqlite, written out first)."""
    history = ip.history_manager
    assert history.enabled and history.input_hist_raw  # the search is not vacuous
    places = []
    if any(text in entry for entry in history.input_hist_raw):
        places.append("input_hist_raw (In)")
    if any(text in entry for entry in history.input_hist_parsed):
        places.append("input_hist_parsed (_ih)")
    names = [n for n in ip.user_ns if re.fullmatch(r"_i(\d+|i{0,2}|00)", n)]
    places += [n for n in names if text in str(ip.user_ns[n])]
    history.writeout_cache()
    rows = history.db.execute("SELECT source, source_raw FROM history").fetchall()
    if any(text in f"{source}{raw}" for source, raw in rows):
        places.append("history.sqlite")
    return places


@pytest.mark.parametrize(
    "url",
    [
        "tcp://alice:{secret}@127.0.0.1:{port}",
        "tcp://alice:{secret}/with/slashes@127.0.0.1:{port}",
        "127.0.0.1:{port}@{secret}",
        "ssh://me:{secret}@127.0.0.1:22",
        "ssh://me:{secret}@127.0.0.1:notaport",
    ],
)
def test_a_password_in_an_engine_url_is_neither_shown_nor_kept(run, ip, engine, url):
    """Items 1 and 2: the URL is refused without being repeated, and the line leaves
    IPython's history (lists, _iN, history.sqlite) as a %docker_login -p line does."""
    assert run(f"%docker_connect {engine.url} --alias keep").error is None
    secret = "pw-" + secrets.token_hex(8)
    port = engine.tcp_url.rsplit(":", 1)[1] if engine.tcp_url else "2375"
    cell = run(f"%docker_connect {url.format(secret=secret, port=port)}")
    message = cell.usage_error
    assert "do not belong in the engine URL (not shown)" in message, message
    assert secret not in cell.out + cell.err
    assert history_holding(ip, secret) == []
    assert history_holding(ip, "removed from the history: it may have held a password")
    assert run("%docker_connect --list").error is None  # the session goes on


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            "%docker_login 127.0.0.1:5000 -u someone --password-env {secret}",
            "The environment variable given to --password-env is not set. Set it to the "
            "password, or leave out --password-env to be asked for it.",
        ),
        (
            "%%docker_build --secret-build-arg {secret}\nFROM {base}\n",
            "An environment variable given to --secret-build-arg is not set. Set it before "
            "starting the kernel (or in the kernel with os.environ).",
        ),
        (
            "%%docker_build --builder buildkit --secret id=s,env={secret}\nFROM {base}\n",
            "--secret s: its environment variable is not set. Set it before the build "
            "(os.environ in the kernel), or use src=FILE.",
        ),
        (
            "%%docker_build --builder buildkit --secret id={secret}\nFROM {base}\n",
            "A --secret's environment variable is not set. Set it before the build "
            "(os.environ in the kernel), or use src=FILE.",
        ),
        (
            "%%docker_build --builder buildkit --secret {secret}\nFROM {base}\n",
            "Invalid --secret (not shown: it may hold a secret). Use --secret id=ID,env=VAR "
            "or --secret id=ID,src=FILE.",
        ),
    ],
    ids=["login --password-env", "--secret-build-arg", "--secret env=", "--secret id=", "bad"],
)
def test_a_secret_typed_where_a_name_goes_leaves_the_history(
    run, ip, engine, busybox, no_leftovers, line, expected
):
    """Item 3: treated as %docker_login -p is: not repeated, taken out of the history."""
    assert run(f"%docker_connect {engine.url}").error is None
    secret = "Typed" + secrets.token_hex(8)
    cell = run(line.format(secret=secret, base=busybox))
    assert cell.usage_error == expected
    assert secret not in cell.out + cell.err
    assert history_holding(ip, secret) == []
    assert run("print('still here')").out == "still here\n"


# -- numbers out of range ----------------------------------------------------------------------


@pytest.fixture
def running(engine_api, busybox):
    """A running container that takes 6 s to stop once asked (its own SIGTERM handler)."""
    container = engine_api.create_container(
        busybox, ["sh", "-c", "trap 'sleep 6; exit 0' TERM; while :; do sleep 0.2; done"]
    )["Id"]
    engine_api.start(container)
    yield container
    engine_api.remove_container(container, force=True)


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            "%docker_connect {url} --timeout 1e308",
            "timeout must be between 0.1 and 604,800 seconds (a week), not 1e+308.",
        ),
        (
            "%docker_connect {url} --timeout 0",
            "timeout must be between 0.1 and 604,800 seconds (a week), not 0.",
        ),
        (
            "%docker_stop {c} -t 99999999999999",
            "timeout must be between -1 and 2,147,483,647 seconds, not 99,999,999,999,999. "
            "-1 waits for the container to stop however long it takes.",
        ),
        (
            "%docker_stop {c} -t -2",
            "timeout must be between -1 and 2,147,483,647 seconds, not -2. -1 waits for the "
            "container to stop however long it takes.",
        ),
        (
            "%docker_logs {c} -n 99999999999999",
            "tail must be between 0 and 2,147,483,647 lines, not 99,999,999,999,999.",
        ),
    ],
)
def test_out_of_range_numbers_are_refused_up_front(
    run, engine, engine_api, running, line, expected
):
    """Item 13 (and 14's negative values): the allowed range, at once, nothing touched."""
    assert run(f"%docker_connect {engine.url}").error is None
    started = time.monotonic()
    cell = run(line.format(url=engine.url, c=running))
    assert cell.usage_error == expected
    assert time.monotonic() - started < 5
    assert engine_api.inspect_container(running)["State"]["Running"]


def test_a_huge_configured_timeout_is_refused_with_its_range(run, ip, engine, caplog):
    run("%config DockerMagics.timeout = 1e308")
    assert [r.getMessage() for r in caplog.records] == [
        "DockerMagics.timeout must be between 0.1 and 604,800 seconds (a week), not 1e+308."
    ]
    assert ip.magics_manager.registry["DockerMagics"].timeout == 60
    assert run(f"%docker_connect {engine.url}").error is None


def test_stop_minus_one_waits_however_long_it_takes(run, engine, engine_api, running):
    """Item 14: -1 is the CLI's "wait forever": the request waits as long as the container
    takes to stop (6 s here), beyond the connection's own timeout (2 s), and it is not
    killed."""
    assert run(f"%docker_connect {engine.url}").error is None
    run("%config DockerMagics.timeout = 2")
    started = time.monotonic()
    cell = run(f"%docker_stop {running} -t -1")
    assert cell.error is None, cell.err
    assert time.monotonic() - started >= 5
    state = engine_api.inspect_container(running)["State"]
    assert (state["Running"], state["ExitCode"]) == (False, 0)  # it stopped on its own


# -- -p read as the docker CLI reads it --------------------------------------------------------

# go-connections' own cases (nat/nat_test.go: TestParsePortSpecFull, TestPartPortSpecIPV6,
# TestParsePortSpecs, TestParsePortSpecsWithRange, TestParseNetworkOpts*, TestStringer) and
# hostile ones from the hunt; what the docker CLI (+ engine) makes of each is the reference.
PORT_SPECS = [
    "0.0.0.0:1234-1235:3333-3334/tcp",
    "[2001:4860:0:2001::68]::333",
    "[::1]:80:80",
    "2001:4860:0:2001::68::333",
    "::1:80:80",
    "::::80",
    "1234/tcp",
    "2345/udp",
    "3456/sctp",
    "1234:1234/tcp",
    "0.0.0.0:2345:2345/udp",
    "localhost:1234:1234/tcp",
    "1234-1236/tcp",
    "1234-1236:1234-1236/tcp",
    "0.0.0.0:3456-3458:3456-3458/sctp",
    "localhost:1234-1236:1234-1236/tcp",
    "192.168.1.100::80",
    "192.168.1.100:8080:80",
    "192.168.1.100",
    "192.168.1.100:-1:-1",
    "192.168.1.100::6000/udp",
    ":8080:6000/tcp",
    "[::1]::6000/udp",
    "::::6000/udp",
    # the hunt's, and more hostile ones
    "1.2.3.4:80:80:80",
    "1.2.3.400:80:80",
    "01.2.3.4:80:80",
    "8000-8010:80",
    "8000-8001:80-82",
    "82-80",
    "1-2-3:80",
    "0123:80",
    "65535:65536",
    "80/ftp",
    "80/UDP",
    "80/",
    "/udp",
    ":80",
    "80:",
    "",
    "abc",
    "+80",
    "８０",
    "[::1:80:80",
    "published=8080,target=80",
    "published=8080,target=80,protocol=udp,mode=host",
    "target=80",
    "published=8080,oops",
]


def cli_ports(docker_cli, engine, busybox, spec: str):
    """What ``docker create -p SPEC`` did: None if the CLI refused it before asking the
    engine, else the ports the engine was given (or "refused by the engine")."""
    env = {"DOCKER_HOST": engine.url, "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    done = subprocess.run(
        [docker_cli, "create", "-p", spec, busybox, "true"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if done.returncode != 0:
        return "refused by the engine" if "Error response from daemon" in done.stderr else None
    container = done.stdout.strip()
    api = engine.api()
    try:
        info = api.inspect_container(container)
        return info["Config"].get("ExposedPorts") or {}, info["HostConfig"]["PortBindings"]
    finally:
        api.remove_container(container, force=True)
        api.close()


@pytest.mark.parametrize("spec", PORT_SPECS)
def test_ports_are_read_as_the_docker_cli_reads_them(docker_cli, engine, busybox, spec):
    """Item 15: the same specs accepted (with the same bindings) and refused."""
    from docker_magics.errors import BadArgument
    from docker_magics.runs.options import parse_ports

    expected = cli_ports(docker_cli, engine, busybox, spec)
    try:
        ours = parse_ports([spec])
    except BadArgument as exc:
        assert expected is None, f"refused, but the CLI took it: {exc}"
        assert str(exc).startswith(f"Invalid -p value {spec!r}: ")
        return
    assert expected is not None, f"the CLI refuses {spec!r}, we took it: {ours}"
    if expected != "refused by the engine":
        assert ours == expected


def test_a_bad_ip_in_p_is_one_line_and_creates_nothing(run, engine, busybox, no_leftovers):
    assert run(f"%docker_connect {engine.url}").error is None
    cell = run(f"%docker_run -p 1.2.3.4:80:80:80 {busybox} true")
    assert cell.usage_error == (
        "Invalid -p value '1.2.3.4:80:80:80': invalid IP address 1.2.3.4:80. Use -p "
        "[IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. -p 8080:80 or -p 53:53/udp."
    )


# -- the engine's refusals, passed on with what to do -----------------------------------------

STATUSES = "created, restarting, running, removing, paused, exited, dead"


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            "%%docker_build --target nope\nFROM {B} AS base\nFROM {B} AS app\nRUN true\n",
            "--target 'nope': the Dockerfile has no such stage (its stages: base, app). Give "
            "one of them, or leave out --target to build the last stage.",
        ),
        (
            "%%docker_build --builder buildkit --target nope\nFROM {B} AS base\nRUN true\n",
            "--target 'nope': the Dockerfile has no such stage (its stages: base). Give one "
            "of them, or leave out --target to build the last stage.",
        ),
        (
            "%%docker_build --target base\nFROM {B}\nRUN true\n",
            "--target 'base': the Dockerfile names no stage. Name the stage to build (FROM "
            "IMAGE AS NAME), or leave out --target.",
        ),
        (
            "%docker_ps --filter bogus=1",
            "The engine refused --filter bogus=1: Invalid filter 'bogus'. The filters of "
            "%docker_ps: id, name, label, status, exited, ancestor, before, since, volume, "
            "network, publish, expose, health, isolation, is-task (--filter KEY=VALUE, "
            "repeatable).",
        ),
        (
            "%docker_images --filter bogus=1",
            "The engine refused --filter bogus=1: Invalid filter 'bogus'. The filters of "
            "%docker_images: dangling, label, before, since, reference (--filter KEY=VALUE, "
            "repeatable).",
        ),
        (
            "%docker_ps -a --filter status=weird",
            f"The engine refused --filter status=weird: Invalid filter 'status=weird'. A "
            f"status is one of {STATUSES}.",
        ),
        (
            "%docker_ps --filter exited=zero",
            "The engine refused --filter exited=zero: {26:Invalid filter 'exited=zero': }"
            'strconv.Atoi: parsing "zero": invalid syntax. Check the value: a number, a name or '
            "an ID, true or false, as the filter takes.",
        ),
        (
            "%docker_run --name 'bad name!' {B} true",
            "The container name 'bad name!' is not allowed. Use at least two letters, digits, "
            "'_', '.' or '-', starting with a letter or a digit (e.g. --name my-job_2).",
        ),
        (
            "%docker_run -w work/dir {B} pwd",
            "-w work/dir: the working directory must be an absolute path inside the "
            "container. Write -w /work/dir (or the path you meant).",
        ),
    ],
    ids=lambda s: s.split("\n")[0][:50],
)
def test_the_engines_refusals_say_what_to_do(run, engine, busybox, no_leftovers, line, expected):
    """The engine's own words stay in the line: ``{26:TEXT}`` is what engine 26 says more."""
    expected = re.sub(r"\{26:(.*?)\}", r"\1" if engine_version() == "26" else "", expected)
    assert run(f"%docker_connect {engine.url}").error is None
    assert run(line.replace("{B}", busybox)).usage_error == expected


def test_the_filters_named_are_filters_the_engine_knows(engine_api):
    """The hint's lists, checked against the engine: each key is known to it."""
    from docker.errors import APIError

    from docker_magics.runs.containers import _FILTERS

    for magic, listing in (("containers", engine_api.containers), ("images", None)):
        for key in _FILTERS[magic].split(", "):
            try:
                if listing is None:
                    engine_api.images(filters={key: ["x"]})
                else:
                    listing(all=True, filters={key: ["x"]})
            except APIError as exc:  # a value it cannot read is fine: the key is known
                assert f"Invalid filter '{key}'" not in str(exc.explanation), (magic, key)


@pytest.fixture
def hung_registry():
    """A registry that takes connections and never answers: its host:port."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    server.close()
    for conn in held:
        conn.close()


def test_a_hung_base_image_registry_is_named(run, engine, hung_registry, no_leftovers):
    assert run(f"%docker_connect {engine.url}").error is None
    message = run(f"%%docker_build\nFROM {hung_registry}/dm/base:1\nRUN true\n").usage_error
    assert message.startswith(
        f"Step 1/2 (FROM {hung_registry}/dm/base:1) failed: the registry {hung_registry} did "
        f"not answer in time for the base image {hung_registry}/dm/base:1 ("
    ), message
    assert message.endswith(
        "): it may be hung. Check that it runs and answers, or build from an image the "
        "engine has (%docker_images lists them)."
    )


# -- a passphrase-protected TLS key ------------------------------------------------------------


def in_a_terminal(code: str, env: dict[str, str], timeout: float = 30) -> str:
    """Run ``code`` in terminal IPython with a pseudo-terminal as its controlling terminal
    (where OpenSSL asks for a passphrase); what the terminal showed. A prompt that blocks
    ends in TimeoutError."""
    import fcntl
    import os
    import pty
    import select
    import sys
    import termios

    master, slave = pty.openpty()

    def own_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=NoColor", "-c", code],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=own_terminal,
        env={**os.environ, **env},
    )
    os.close(slave)
    shown, deadline = b"", time.monotonic() + timeout
    try:
        while proc.poll() is None or select.select([master], [], [], 0)[0]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"blocked; the terminal shows {shown.decode()!r}")
            if select.select([master], [], [], 0.2)[0]:
                try:
                    shown += os.read(master, 65536)
                except OSError:  # the terminal closed
                    break
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    text = shown.decode(errors="replace").replace("\r\n", "\n")
    return re.sub(r"\x1b\][^\x07]*\x07|\x1b\[[0-9;?]*[A-Za-z]", "", text)  # terminal codes


@pytest.mark.parametrize("form", ["pkcs8", "traditional"])
def test_a_passphrase_protected_key_is_refused_without_a_prompt(tls_engine, tmp_path, form):
    """Item 12: OpenSSL never gets to ask for the passphrase (terminal IPython blocked on
    it); one line says to give an unencrypted key, and the command it gives makes one that
    connects."""
    client = tls_engine.certs.client_dir
    encrypted = tmp_path / "enc-key.pem"
    command = ["openssl", "pkey", "-in", str(client / "key.pem"), "-aes256"]
    if form == "traditional":  # "Proc-Type: 4,ENCRYPTED" headers
        command = ["openssl", "ec", "-in", str(client / "key.pem"), "-aes256"]
    subprocess.run(
        [*command, "-passout", "pass:open-sesame", "-out", str(encrypted)],
        check=True,
        capture_output=True,
    )
    assert b"ENCRYPTED" in encrypted.read_bytes()
    options = f"--tlscacert {client}/ca.pem --tlscert {client}/cert.pem --tlskey {encrypted}"
    shown = in_a_terminal(
        f"%load_ext docker_magics\n%docker_connect {tls_engine.url} {options}",
        {"DOCKER_CONFIG": str(tmp_path)},
    )
    assert "pass phrase" not in shown.lower()
    expected = (
        f"UsageError: The TLS client key {encrypted} is protected by a passphrase, which cannot "
        f"be asked for here. Give an unencrypted copy of the key: `openssl pkey -in {encrypted} "
        "-out key.pem` asks for the passphrase once and writes it (keep it private: chmod 600 "
        "key.pem)."
    )
    assert [line for line in shown.splitlines() if line.strip()] == [expected]
    # What the line says to do works (the passphrase given on the command line here).
    plain = tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "pkey",
            "-in",
            str(encrypted),
            "-out",
            str(plain),
            "-passin",
            "pass:open-sesame",
        ],
        check=True,
        capture_output=True,
    )
    from docker_magics import api

    conn = api.connect(
        tls_engine.url,
        alias="decrypted",
        tlscacert=str(client / "ca.pem"),
        tlscert=str(client / "cert.pem"),
        tlskey=str(plain),
    )
    try:
        assert conn.version["ApiVersion"]
    finally:
        api.close("decrypted")


# -- process globals -----------------------------------------------------------------------------


def test_magics_at_once_in_threads_leave_showwarning_alone(
    ip, engine, busybox, no_leftovers, capsys
):
    """Item 9: two magics running at once in threads (the second ending last) left
    warnings.showwarning replaced by the first one's for the rest of the session."""
    ip.run_line_magic("docker_connect", engine.url)
    before = warnings.showwarning
    errors = []

    def run_for(seconds):
        try:
            ip.run_line_magic("docker_run", f"-q {busybox} sleep {seconds}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    first = threading.Thread(target=run_for, args=(2,))
    second = threading.Thread(target=run_for, args=(4,))
    first.start()
    time.sleep(1)
    second.start()
    first.join(60)
    second.join(60)
    assert errors == []
    assert warnings.showwarning is before
    # ...and our warnings are still one line each, every time.
    from docker_magics.errors import CredentialHelperWarning

    capsys.readouterr()
    for _ in range(2):
        warnings.warn(CredentialHelperWarning("a helper could not be asked"), stacklevel=1)
    assert capsys.readouterr().err == "Warning: a helper could not be asked\n" * 2


# -- the engine's own disk full ------------------------------------------------------------------


@pytest.fixture
def small_engine(tmp_path_factory):
    """A private engine whose data root is a 40 MB tmpfs."""
    import uuid
    from pathlib import Path

    from tests.support import Dockerd
    from tests.support.processes import mount_tmpfs

    root = Path("/tmp") / f"dm-small-{uuid.uuid4().hex[:6]}"
    (root / "data").mkdir(parents=True)
    mount_tmpfs(root / "data", "40m")
    dockerd = Dockerd(root)
    try:
        yield dockerd.start()
    finally:
        dockerd.cleanup()  # unmounts what is under its root


def test_a_full_engine_disk_during_a_pull_names_the_engine(run, engine, registry, small_engine):
    """Item 8: "no space left on device" is the engine's disk, not the registry's doing."""
    from tests.support import build_random_image

    image = f"{registry.host}/dm/fill:1"
    build_random_image(engine.url, image, megabytes=60)
    api = engine.api()
    try:
        for message in api.push(f"{registry.host}/dm/fill", tag="1", stream=True, decode=True):
            assert "error" not in message, message
    finally:
        api.remove_image(image, force=True)
        api.close()
    assert run(f"%docker_connect {small_engine.url}").error is None
    message = run(f"%docker_pull {image} --progress none").usage_error
    assert re.fullmatch(
        r"The engine's disk is full: no space left where it keeps images \("
        + re.escape(str(small_engine.root / "data"))
        + r"/\S+ on the engine's host\)\. Free space there \(docker system prune removes what "
        r"no container uses\), then try again\.",
        message,
    ), message
    assert run(f"%docker_connect {engine.url}").error is None


# -- faults ------------------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MB filesystem of our own (a tmpfs), to fill up."""
    from tests.support.processes import tmpfs

    with tmpfs(tmp_path / "small", "1m") as mount:
        yield mount


def test_a_get_that_cannot_be_written_fails_at_once(run, engine, busybox, no_leftovers, full_disk):
    """Item 5: the local write fails mid-copy (a full disk): one line at once (it came after
    60 s, the archive's response left open), the container removed (it stayed), and the
    engine answers about it at once (it blocked `docker ps -a`)."""
    assert run(f"%docker_connect {engine.url}").error is None
    started = time.monotonic()
    cell = run(
        f"%docker_run --get /big:{full_disk}/ {busybox} dd if=/dev/zero of=/big bs=1048576 count=8"
    )
    assert cell.usage_error == (
        f"--get /big: cannot write {full_disk} (No space left on device). Free space there, "
        "or choose another destination."
    )
    assert time.monotonic() - started < 20
    listed = run("%docker_ps -a")
    assert listed.error is None and time.monotonic() - started < 25
    assert list(full_disk.iterdir()) == []  # no half-written archive left


def test_a_secret_across_the_line_cut_is_masked(run, engine, busybox, monkeypatch, no_leftovers):
    """Item 4: output lines are cut at 64 KiB; a known secret split by the cut was not masked
    (RunResult.stdout held it whole, .output its first characters)."""
    import docker_magics

    secret = "tok" + secrets.token_hex(10)  # 23 characters: cuts land inside it
    monkeypatch.setenv("DM_TOKEN", secret)
    assert run(f"%docker_connect {engine.url}").error is None
    built = run(f"%%docker_build -q --secret-build-arg DM_TOKEN\nFROM {busybox}\nARG DM_TOKEN\n")
    assert built.error is None, built.err  # the value is a known secret from now on
    script = (
        'yes "$DM_TOKEN" | head -n 9000 | tr -d "\\n"; echo\n'  # one 207 KB line, in 4 KB writes
        "printf 'x%.0s' $(seq 65530); echo \"$DM_TOKEN\"\n"  # one across 64 KiB
        'printf %s "$DM_TOKEN" >&2\n'
    )
    cell = run(f"%%docker_run -e DM_TOKEN {busybox}\n{script}")
    assert cell.error is None, cell.err
    result = docker_magics.last_run()
    shown = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "output": result.output.text(),
        "the cell's output": cell.out + cell.err,
    }
    for where, text in shown.items():
        for piece in (secret, secret[:8], secret[-8:]):
            assert piece not in text, f"{piece!r} is in {where}"
    assert shown["stdout"].count("******") == 9001  # the secret was there, masked


def test_a_hung_base_image_registry_stops_a_buildkit_build(
    run, engine, hung_registry, no_leftovers
):
    """BuildKit's resolver waits forever on a registry that never answers (a build hung for
    10 minutes and more): stopped after the connection's timeout of silence, named."""
    assert run(f"%docker_connect {engine.url}").error is None
    run("%config DockerMagics.timeout = 5")
    started = time.monotonic()
    message = run(
        f"%%docker_build --builder buildkit --progress none\nFROM {hung_registry}/dm/base:1\n"
        "RUN true\n"
    ).usage_error
    assert message == (
        f"The registry {hung_registry} has not answered for 5s about the base image "
        f"{hung_registry}/dm/base:1: it may be hung. The build was stopped. Check that the "
        "registry runs and answers, or allow more time with %config DockerMagics.timeout."
    )
    assert time.monotonic() - started < 30
    assert run("%docker_images").error is None  # the engine is not stuck
