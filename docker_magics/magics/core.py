"""The settings every magic shares (``%config DockerMagics``), the session's connection, and
the connection magics: ``%docker_connect`` and ``%docker_info``."""

from __future__ import annotations

import os

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Enum, Float, TraitError, Unicode, observe, validate

from docker_magics import api
from docker_magics.display.progress import MODES
from docker_magics.engine.endpoints import URL_FORMS, context_names
from docker_magics.engine.session import DEFAULT_TIMEOUT, SSH_CLIENTS, check_timeout
from docker_magics.errors import BadArgument
from docker_magics.magics.arguments import magic

BINDER_EXPLANATION = """\
**This notebook runs on Binder, which has no Docker engine**, so the docker magics cannot
build, run or push anything here (each one will say so in one line). You can still read the
tutorial and its code.

To run it for real, use a machine with Docker (Docker Desktop, or `dockerd` on Linux), and
install docker_magics from this repository:

```bash
git clone {repo} docker_magics && cd docker_magics
pip install '.[lab]'
jupyter lab notebooks/
```

or, on a fresh Debian machine, run `bash scripts/quickstart.sh` in the clone: it installs and
starts an engine and runs the quickstart notebook (`bash scripts/tutorials.sh` sets up what
all the tutorials need).
"""


@magics_class
class DockerMagics(Magics):
    """Docker from notebook cells. Defaults are configurable: ``%config DockerMagics``."""

    timeout = Float(
        DEFAULT_TIMEOUT, help="Seconds to wait for the engine to answer a request."
    ).tag(config=True)
    api_version = Unicode(
        "auto", help="Engine API version to use (MAJOR.MINOR), or 'auto' to negotiate."
    ).tag(config=True)
    ssh_client = Enum(SSH_CLIENTS, "auto", help="SSH implementation for ssh:// engines.").tag(
        config=True
    )
    builder = Enum(
        ("classic", "buildkit", "auto"),
        "classic",
        help="Default builder for %%docker_build: classic, buildkit, or auto (BuildKit when the "
        "engine offers it). BuildKit builds get build secrets (--secret) and registry "
        "credentials for their pulls; no SSH forwarding.",
    ).tag(config=True)
    progress = Enum(
        MODES,
        "auto",
        help="How to show progress: widgets in a notebook, plain text, or none. 'auto' uses "
        "widgets when a Jupyter frontend runs the kernel, text elsewhere.",
    ).tag(config=True)

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self._explained = False
        # IPython >= 9 registers Magics for %config itself; older versions do not.
        if shell is not None and self not in shell.configurables:
            shell.configurables.append(self)

    @validate("timeout")
    def _check_timeout(self, proposal):
        try:
            return check_timeout(proposal["value"], "DockerMagics.timeout")
        except BadArgument as exc:
            raise TraitError(str(exc)) from None

    @observe("timeout")
    def _apply_timeout(self, change):
        # Open connections wait as long from now on: a slow registry needs no reconnect.
        for conn in api.SESSION.connections():
            conn.client.api.timeout = change["new"]

    @validate("api_version")
    def _check_api_version(self, proposal):
        from docker_magics.engine.endpoints import parse_api_version

        try:
            parse_api_version(proposal["value"])
        except BadArgument as exc:
            raise TraitError(str(exc)) from None
        return proposal["value"]

    # -- helpers -------------------------------------------------------------------------

    def _default_api_version(self) -> str | None:
        return None if self.api_version.lower() == "auto" else self.api_version

    def connection(self):
        """The current connection; connects as the docker CLI would if there is none."""
        if api.SESSION.current_alias is None:
            conn = api.connect(
                api_version=self._default_api_version(),
                timeout=self.timeout,
                ssh_client=self.ssh_client,
            )
            print(conn.summary())
            return conn
        return api.SESSION.current()

    def _explain_missing_engine(self) -> None:
        """On Binder (which has no Docker engine) say so once, in words, before the error."""
        if self._explained or not any(k.startswith("BINDER_") for k in os.environ):
            return
        self._explained = True
        from IPython.display import Markdown, display

        repo = os.environ.get("BINDER_REPO_URL") or "REPOSITORY-URL"
        display(Markdown(BINDER_EXPLANATION.format(repo=repo)))

    # -- magics --------------------------------------------------------------------------

    # -- magics --------------------------------------------------------------------------

    @line_magic
    @magic
    @magic_arguments()
    @argument(
        "target",
        nargs="?",
        help=f"Engine URL ({URL_FORMS}), a connection alias to switch to, or a docker "
        "context name. Without it: DOCKER_HOST, DOCKER_CONTEXT, the current context, "
        "then the local socket, as the docker CLI resolves them.",
    )
    @argument("--alias", metavar="NAME", help="Keep this connection under NAME.")
    @argument("-c", "--context", metavar="NAME", help="Use the docker context NAME.")
    @argument("--tls", action="store_true", help="Use TLS; implied by --tlsverify.")
    @argument("--tlsverify", action="store_true", help="Use TLS and verify the engine.")
    @argument("--tlscacert", metavar="FILE", help="Trust certs signed only by this CA.")
    @argument("--tlscert", metavar="FILE", help="Path to the TLS client certificate.")
    @argument("--tlskey", metavar="FILE", help="Path to the TLS client key.")
    @argument(
        "--cert-path",
        metavar="DIR",
        help="Folder with ca.pem, cert.pem, key.pem (like DOCKER_CERT_PATH); implies "
        "--tlsverify unless --tls is given.",
    )
    @argument(
        "--api-version", metavar="VERSION", help="API version (e.g. 1.41) or 'auto' (default)."
    )
    @argument("--timeout", type=float, metavar="SECONDS", help="Request timeout.")
    @argument(
        "--header",
        action="append",
        metavar="NAME=VALUE",
        help="Custom HTTP header sent with every request (repeatable).",
    )
    @argument("--ssh-client", choices=SSH_CLIENTS, help="For ssh:// engines: paramiko or openssh.")
    @argument("--list", action="store_true", help="List the open connections.")
    @argument("--close", metavar="NAME", help="Close the connection NAME.")
    def docker_connect(self, args):
        """Connect to a Docker engine; the connection is shared by every docker magic.

        Returns the ``docker.DockerClient``: ``client = %docker_connect ...`` works.
        """
        if args.list or args.close:
            if args.target or _connection_options_given(args) or (args.list and args.close):
                raise BadArgument(
                    f"--{'list' if args.list else 'close'} takes no other arguments",
                    "Use %docker_connect --list, or %docker_connect --close NAME, alone",
                )
        if args.list:
            return api.connections()
        if args.close:
            was_current = api.SESSION.current_alias == args.close
            api.close(args.close)
            now = api.SESSION.current_alias
            if was_current:
                tail = f" Now current: {now!r}." if now else " No connection is open now."
            else:
                tail = ""
            print(f"Closed the connection {args.close!r}.{tail}")
            return None
        url, context, alias = None, args.context, args.alias
        target = args.target
        if target and "://" not in target:
            if target in api.SESSION:
                if _connection_options_given(args):
                    raise BadArgument(
                        f"{target!r} is an open connection: switching to it takes no options",
                        f"To reconnect, close it first (%docker_connect --close {target})",
                    )
                conn = api.switch(target)
                print(f"Switched to {conn.named}, {conn.tls_label}")
                return conn.client
            if target in context_names():
                context, alias = target, alias or target
            elif ":" in target or target.startswith(("/", "./", "~")):
                url = target  # HOST:PORT, as the CLI takes it (a path: said to be one)
            else:
                aliases = ", ".join(c.alias for c in api.SESSION.connections()) or "none"
                raise BadArgument(
                    f"No connection or docker context named {target!r}",
                    f"Open connections: {aliases}; contexts: {', '.join(context_names())}. "
                    f"For an engine give a URL: {URL_FORMS}",
                )
        else:
            url = target
        conn = api.connect(
            url,
            alias=alias,
            context=context,
            tls=args.tls,
            tlsverify=args.tlsverify,
            tlscacert=args.tlscacert,
            tlscert=args.tlscert,
            tlskey=args.tlskey,
            cert_path=args.cert_path,
            api_version=args.api_version or self._default_api_version(),
            headers=args.header or [],
            timeout=args.timeout if args.timeout is not None else self.timeout,
            ssh_client=args.ssh_client or self.ssh_client,
        )
        print(conn.summary())
        return conn.client

    @line_magic
    @magic
    @magic_arguments()
    @argument("alias", nargs="?", help="The connection to describe (default: the current one).")
    def docker_info(self, args):
        """Show the engine: version, storage driver, images and containers, registries."""
        conn = api.SESSION.get(args.alias) if args.alias else self.connection()
        return api.engine_info(conn)


class TopicMagics(Magics):
    """The magics of one topic. Settings and the connection are :class:`DockerMagics`'."""

    def __init__(self, shell, settings: DockerMagics) -> None:
        super().__init__(shell=shell)
        self.settings = settings

    def connection(self):
        return self.settings.connection()

    def _explain_missing_engine(self) -> None:
        self.settings._explain_missing_engine()

    def progress_mode(self, args) -> str:
        """``-q`` means none; else ``--progress``, else the session's default."""
        if getattr(args, "quiet", False):
            return "none"
        return getattr(args, "progress", None) or self.settings.progress


def _connection_options_given(args) -> bool:
    names = (
        "alias",
        "context",
        "tls",
        "tlsverify",
        "tlscacert",
        "tlscert",
        "tlskey",
        "cert_path",
        "api_version",
        "timeout",
        "header",
        "ssh_client",
    )
    return any(getattr(args, n) for n in names)
