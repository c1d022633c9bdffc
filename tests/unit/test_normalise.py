"""Pure: the Python API reads its arguments one way (docker_magics.normalise), and every
function checks them before it connects or sends anything."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from docker_magics import api, normalise
from docker_magics.errors import BadArgument


def test_one_string_is_one_item():
    assert normalise.strings("/data:/data", "volumes") == ["/data:/data"]
    assert normalise.strings(("a", "b"), "tags") == ["a", "b"]
    assert normalise.strings(iter(["x"]), "add") == ["x"]
    assert normalise.strings(None, "add") == []
    assert normalise.strings(Path("/tmp/x"), "add", paths=True) == ["/tmp/x"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"bytes", "volumes must be a string or a list of strings, not bytes"),
        ({"a": 1}, "volumes must be a string or a list of strings, not dict"),
        (3, "volumes must be a string or a list of strings, not int"),
        (["ok", 3], "volumes must hold strings, not int"),
        ([Path("/x")], "volumes must hold strings, not PosixPath"),
    ],
)
def test_what_is_not_strings_is_one_line(value, message):
    with pytest.raises(BadArgument) as error:
        normalise.strings(value, "volumes")
    assert str(error.value) == message + "."


def test_progress_is_checked_by_name():
    for mode in ("auto", "widget", "plain", "none"):
        assert normalise.progress(mode) == mode
    with pytest.raises(BadArgument, match=r"^Unknown progress mode 'bogus'\. Use auto, widget"):
        normalise.progress("bogus")
    with pytest.raises(BadArgument):
        normalise.progress(None)


def test_numbers_have_a_range_and_a_type():
    assert normalise.number(5, "timeout", minimum=0, maximum=10) == 5
    for bad in (float("nan"), float("inf"), 1e308, -1, True, "5"):
        with pytest.raises(BadArgument):
            normalise.number(bad, "timeout", minimum=0, maximum=10)
    with pytest.raises(BadArgument, match="whole number"):
        normalise.number(1.5, "tail", minimum=0, maximum=10, integer=True)
    # The range as people write numbers, not 2.14748e+09.
    with pytest.raises(BadArgument) as caught:
        normalise.number(-5, "timeout", minimum=-1, maximum=2**31 - 1, unit="seconds", hint="H")
    assert str(caught.value) == "timeout must be between -1 and 2,147,483,647 seconds, not -5. H."
    with pytest.raises(BadArgument, match=r"between 0\.5 and 10, not 1e\+308\.$"):
        normalise.number(1e308, "timeout", minimum=0.5, maximum=10)


def test_commands_and_pairs():
    assert normalise.command("echo 'a b'") == ["echo", "a b"]
    assert normalise.command(["ls", "-l"]) == ["ls", "-l"]
    assert normalise.command(None) is None
    with pytest.raises(BadArgument, match="Check the quotes"):
        normalise.command("echo 'open")
    assert normalise.pairs({"A": 1, "B": "x"}, "env") == {"A": "1", "B": "x"}
    assert normalise.pairs("A=1", "env") == ["A=1"]
    with pytest.raises(BadArgument, match="Invalid name"):
        normalise.pairs({"A B": "1"}, "env")
    with pytest.raises(BadArgument, match=r"env\['A'\] must be a string"):
        normalise.pairs({"A": None}, "env")


def test_every_operation_checks_progress_before_it_connects():
    """No engine here: a bad progress value must be refused before any connection is tried
    (which would fail differently)."""
    required = {"reference": "x:1", "image": "x:1", "dockerfile": "FROM x\n"}
    checked = []
    for name, func in inspect.getmembers(api, inspect.isfunction):
        params = inspect.signature(func).parameters
        if "progress" not in params or func.__module__ != api.__name__:
            continue
        args = {p: required[p] for p in params if p in required}
        with pytest.raises(BadArgument, match="Unknown progress mode"):
            func(**args, progress="bogus")
        checked.append(name)
    assert {"build", "push", "pull", "run"} <= set(checked)
    assert api.SESSION.current_alias is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: api.connect(5), "url must be a string, not int."),
        (lambda: api.connect(alias=3), "alias must be a string, not int."),
        (lambda: api.connect(context=["x"]), "context must be a string, not list."),
        (lambda: api.connect(tls="yes"), "tls must be True or False, not 'yes'."),
        (lambda: api.connect(cert_path=1), "cert_path must be a path (a string), not int."),
        (lambda: api.connect(headers=5), "headers must be a string or a list of strings, not int."),
        (
            lambda: api.connect(headers={"X-A": None}),
            "headers['X-A'] must be a string, not NoneType.",
        ),
        (
            lambda: api.connect(ssh_client="ssh"),
            "Unknown ssh_client 'ssh'. Use auto, paramiko or openssh.",
        ),
        (lambda: api.switch(5), "alias must be a string, not int."),
        (lambda: api.close(None), "alias is required."),
    ],
)
def test_connect_checks_its_arguments_before_connecting(call, message):
    with pytest.raises(BadArgument) as error:
        call()
    assert str(error.value) == message
    assert api.SESSION.current_alias is None
