"""Hardening, round 2 (issue 18): what a hostile hunt broke, each case run against a real
engine as the hunt ran it. Secrets typed into the wrong place, numbers out of range, -p as the
docker CLI reads it, the engine's own refusals turned into lines that say what to do."""

from __future__ import annotations

import re
import secrets
import time

import pytest

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
