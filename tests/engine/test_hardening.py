"""Hardening, round 2 (issue 18): what a hostile hunt broke, each case run against a real
engine as the hunt ran it. Secrets typed into the wrong place, numbers out of range, -p as the
docker CLI reads it, the engine's own refusals turned into lines that say what to do."""

from __future__ import annotations

import re
import secrets

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
