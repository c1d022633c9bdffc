"""The extension itself: loading, unloading, help, %config, and a light import."""

from __future__ import annotations

import subprocess
import sys

from docker_magics.magics.core import DockerMagics

MAGICS = {
    "line": {
        "docker_connect",
        "docker_info",
        "docker_build",
        "docker_push",
        "docker_pull",
        "docker_tag",
        "docker_login",
        "docker_logout",
        "docker_run",
        "docker_images",
        "docker_ps",
        "docker_logs",
        "docker_stop",
        "docker_rm",
        "docker_rmi",
        "docker_history",
        "docker_df",
        "docker_freeze",
        "docker_run_notebook",
        "docker_job",
        "docker_nodes",
    },
    "cell": {"docker_build", "docker_run", "docker_job"},
}


def test_import_does_not_load_docker_or_ipywidgets():
    code = (
        "import sys, docker_magics\n"
        "heavy = [m for m in ('docker', 'ipywidgets', 'requests', 'IPython') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_load_ext_does_not_load_docker_or_ipywidgets():
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'docker_magics')\n"
        "assert 'docker_connect' in ip.magics_manager.magics['line']\n"
        "print(','.join(m for m in ('docker', 'ipywidgets') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_load_and_unload(ip):
    manager = ip.magics_manager
    for kind, names in MAGICS.items():
        assert names <= set(manager.magics[kind])
    assert any(isinstance(c, DockerMagics) for c in ip.configurables)
    ip.run_line_magic("unload_ext", "docker_magics")
    for kind, names in MAGICS.items():
        assert not names & set(manager.magics[kind])
    assert not any(isinstance(c, DockerMagics) for c in ip.configurables)
    ip.run_line_magic("load_ext", "docker_magics")
    assert MAGICS["line"] <= set(manager.magics["line"])


def test_help_lists_the_options(ip):
    doc = ip.magics_manager.magics["line"]["docker_connect"].__doc__
    for option in (
        "--alias",
        "--context",
        "--tls",
        "--tlsverify",
        "--tlscacert",
        "--tlscert",
        "--tlskey",
        "--cert-path",
        "--api-version",
        "--timeout",
        "--header",
        "--list",
        "--close",
        "--ssh-client",
    ):
        assert option in doc, option
    assert "Connect to a Docker engine" in doc


def test_config_lists_and_validates(run, ip, caplog):
    out = run("%config DockerMagics").out
    for name in ("timeout", "api_version", "ssh_client"):
        assert f"DockerMagics.{name}" in out
    run("%config DockerMagics.timeout = 12")
    magics = ip.magics_manager.registry["DockerMagics"]
    assert magics.timeout == 12.0
    # A bad value is refused with our one-line message (IPython's %config logs it).
    run("%config DockerMagics.api_version = 'latest'")
    assert [r.getMessage() for r in caplog.records] == [
        "Invalid API version 'latest'. Use MAJOR.MINOR (e.g. 1.41) or auto."
    ]
    assert magics.api_version == "auto"
    run("%config DockerMagics.timeout = -1")
    assert magics.timeout == 12.0


def test_the_top_offers_the_api_facade():
    """docker_magics.<name> is lazily docker_magics.api.<name>, for every name of the facade."""
    import docker_magics
    from docker_magics import api

    assert list(docker_magics._API) == list(api.__all__)
    for name in api.__all__:
        assert getattr(docker_magics, name) is getattr(api, name), name
