"""Registries seen from a real kernel: the password asked for with getpass, interrupted
pushes and pulls, and a whole notebook run scanned for any trace of the secret."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import quote_plus

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.kernel import Kernel

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def kernel(engine, busybox):
    k = Kernel(env={"DOCKER_HOST": engine.url})
    k.run("%load_ext docker_magics\n%docker_connect")
    yield k
    k.shutdown()


def test_password_asked_with_getpass(kernel, auth_registry):
    from tests.support import REGISTRY_USER

    password = auth_registry.users[REGISTRY_USER]
    ex = kernel.start(f"%docker_login {auth_registry.host} -u {REGISTRY_USER}", allow_stdin=True)
    request = kernel.answer_input(password)
    assert request["password"] is True  # the frontend masks what is typed
    assert request["prompt"] == f"Password for {REGISTRY_USER} at {auth_registry.host}: "
    kernel.wait(ex)
    assert ex.status == "ok", ex.error
    assert ex.stream() == (
        f"Login Succeeded: {REGISTRY_USER} at {auth_registry.host} for this session\n"
    )
    assert password not in json.dumps(ex.messages, default=str)
    kernel.run(f"%docker_logout {auth_registry.host}")


def test_user_name_asked_when_not_given(kernel, auth_registry):
    from tests.support import REGISTRY_USER

    password = auth_registry.users[REGISTRY_USER]
    ex = kernel.start(f"%docker_login {auth_registry.host}", allow_stdin=True)
    request = kernel.answer_input(REGISTRY_USER)
    assert request["password"] is False and request["prompt"] == (
        f"Username for {auth_registry.host}: "
    )
    request = kernel.answer_input(password)
    assert request["password"] is True
    kernel.wait(ex)
    assert ex.status == "ok", ex.error
    assert ex.stream().startswith(f"Login Succeeded: {REGISTRY_USER} at {auth_registry.host}")
    kernel.run(f"%docker_logout {auth_registry.host}")


def test_without_stdin_the_user_is_told_what_to_do(kernel, auth_registry):
    ex = kernel.run(f"%docker_login {auth_registry.host} -u someone")  # like nbclient: no stdin
    assert ex.usage_error == (
        "This frontend cannot ask for a password. Put it in an environment variable and pass "
        "--password-env VAR."
    )
    ex = kernel.run(f"%docker_login {auth_registry.host}")
    assert ex.usage_error == "This frontend cannot ask for a user name. Pass it with -u USER."


@pytest.fixture(scope="module")
def big_image(engine, registry):
    """An image with a 300 MB layer, so that a push or pull takes a moment."""
    from tests.support import build_random_image

    name = f"{registry.host}/dm/big:1"
    build_random_image(engine.url, name, megabytes=300)
    api = engine.api()
    yield name
    api.remove_image(name, force=True)


def _interrupt_when(kernel, ex, text):
    kernel.wait_for_output(ex, text, timeout=120)
    kernel.interrupt()
    kernel.wait(ex, timeout=60)


def test_interrupted_push_then_push_again(kernel, big_image, registry, engine):
    ex = kernel.start(f"%docker_push {big_image} --progress plain")
    _interrupt_when(kernel, ex, ": Pushing")
    assert ex.usage_error == f"Push of {big_image} interrupted; the engine stopped it."
    assert kernel.run("print(6 * 7)").stream() == "42\n"
    # The engine is consistent: the same push now goes through.
    again = kernel.run(f"r = %docker_push {big_image} --progress none\nprint(r.digest)")
    assert again.status == "ok", again.error
    assert again.stream().startswith("sha256:")


def test_interrupted_pull_then_pull_again(kernel, big_image, engine):
    kernel.run(f"%docker_push {big_image} --progress none")
    engine.api().remove_image(big_image)
    ex = kernel.start(f"%docker_pull {big_image} --progress plain")
    _interrupt_when(kernel, ex, ": Downloading")
    assert ex.usage_error == f"Pull of {big_image} interrupted; the engine stopped it."
    deadline = time.monotonic() + 10
    while engine.api().images(name=big_image.rsplit(":", 1)[0]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert engine.api().images(name=big_image.rsplit(":", 1)[0]) == []  # no half image
    again = kernel.run(f"r = %docker_pull {big_image} --progress none\nprint(r.downloaded)")
    assert again.status == "ok", again.error
    assert again.stream() == "1\n"


def test_no_trace_of_the_password_anywhere(
    tmp_path, engine, busybox, auth_registry, monkeypatch, capfd
):
    """Log in, push, build from the private registry, fail a login: then search the saved
    notebook, IPython's history database, the debug logs and the kernel's own output for the
    password and its base64 forms."""
    from tests.support import REGISTRY_USER

    password = auth_registry.users[REGISTRY_USER]
    host = auth_registry.host
    ipython_dir = tmp_path / "ipython"
    (ipython_dir / "profile_default").mkdir(parents=True)
    log_file = tmp_path / "debug.log"
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("DM_REGISTRY_PASSWORD", password)
    monkeypatch.setenv("DM_WRONG_PASSWORD", password[::-1])
    # Escaped differently in JSON and in URLs: the build args travel as both.
    tricky = 'p"äss\\wö rd/' + password[:6]
    typed = "typed-by-mistake-" + password[::2]
    monkeypatch.setenv("DM_TRICKY", tricky)
    cells = [
        f"import logging\nlogging.basicConfig(filename={str(log_file)!r}, level=logging.DEBUG)",
        "%load_ext docker_magics",
        "%docker_connect",
        f"%docker_login {host} -u {REGISTRY_USER} --password-env DM_WRONG_PASSWORD",
        f"%docker_login {host} -u {REGISTRY_USER} --password-env DM_REGISTRY_PASSWORD",
        f"%docker_tag {busybox} {host}/dm/secret-base:1",
        f"%docker_push {host}/dm/secret-base:1 --progress plain",
        f"%%docker_build -t {host}/dm/secret-app:1 --pull --progress plain\n"
        f"FROM {host}/dm/secret-base:1\nRUN echo built on the private base\n",
        f"%docker_push {host}/dm/secret-app:1 --progress widget",
        "%%docker_build --secret-build-arg DM_REGISTRY_PASSWORD --secret-build-arg DM_TRICKY "
        f"--progress plain --no-cache\nFROM {busybox}\nARG DM_REGISTRY_PASSWORD\nARG DM_TRICKY\n"
        'RUN echo "tricky=$DM_TRICKY"\n'
        'RUN echo "token=$DM_REGISTRY_PASSWORD" && echo "again $DM_REGISTRY_PASSWORD" >&2\n',
        "import docker_magics\nprint(docker_magics.last_build().log.text())",
        "import docker_magics\ntry:\n"
        f"    docker_magics.login({host!r}, username='x', password_env='DM_WRONG_PASSWORD')\n"
        "except Exception as exc:\n    import traceback; traceback.print_exc()",
        "%docker_connect --list",
        # A password typed as an argument by mistake: refused, and taken out of the history
        # (the notebook itself keeps what the user typed: that is the frontend's).
        f"%docker_login {host} -u {REGISTRY_USER} --password {typed}",
        f"%docker_login -u {REGISTRY_USER} {typed}x",  # where the registry goes
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    history_file = ipython_dir / "profile_default" / "history.sqlite"
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
        ipython_hist_file=str(history_file),
    )  # nbclient: :memory:
    client.execute()
    path = tmp_path / "secrets.ipynb"
    nbformat.write(nb, path)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert f"UsageError: Login to {host} failed: wrong user name or password" in stderr
    assert "Traceback" in stderr  # the Python API's exception, printed on purpose
    assert "Login Succeeded" in json.dumps(outputs)
    assert "built on the private base" in json.dumps(outputs)
    assert "tricky=******" in json.dumps(outputs)
    assert "token=******" in json.dumps(outputs)  # the secret build value, masked live
    assert json.dumps(outputs).count("again ******") >= 2  # ...and in the kept log

    raw = f"{REGISTRY_USER}:{password}".encode()
    forms = {
        "password": password,
        "base64(user:password)": base64.b64encode(raw).decode(),
        "urlsafe base64(user:password)": base64.urlsafe_b64encode(raw).decode(),
        "base64(password)": base64.b64encode(password.encode()).decode(),
        "tricky build value": tricky,
        "tricky build value in JSON": json.dumps(tricky)[1:-1],
        "tricky build value in a URL": quote_plus(json.dumps(tricky)[1:-1]),
    }
    captured = capfd.readouterr()
    history = history_file.read_bytes()
    places = {
        "saved notebook": path.read_text(),
        "history.sqlite": history.decode("latin-1"),
        "debug log": log_file.read_text(),
        "kernel stdout/stderr": captured.out + captured.err,
    }
    # The places hold what they should (the scan is not vacuous).
    assert b"docker_login" in history and b"--password-env DM_REGISTRY_PASSWORD" in history
    assert "/auth" in places["debug log"] and "/push" in places["debug log"]
    for place, text in places.items():
        for form, secret in forms.items():
            assert secret not in text, f"the {form} is in the {place}"
    outputs_text = json.dumps(outputs)
    assert (
        "unknown option --password (did you mean --password-env?); the line is not " in outputs_text
    )
    assert outputs_text.count("delete it from the cell") == 2
    for place, text in {**places, "outputs": outputs_text}.items():
        if place != "saved notebook":
            assert typed not in text, f"the password typed as an argument is in the {place}"
    assert b"removed from the history: it may have held a password" in history
