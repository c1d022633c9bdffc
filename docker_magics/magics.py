"""The IPython magics: thin. Parse arguments, call the Python API, show the result, and turn
every expected failure into one ``UsageError`` line (IPython prints it without a traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import os
import shlex
import sys
import warnings

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Enum, Float, TraitError, Unicode, observe, validate

from . import api
from .credentials import redact
from .endpoints import URL_FORMS, context_names
from .errors import (
    BadArgument,
    ConnectFailed,
    CredentialHelperWarning,
    DockerMagicsError,
    Interrupted,
    MaybeSecretArgument,
    UnencryptedEngineWarning,
)
from .progress import MODES
from .session import DEFAULT_TIMEOUT, SSH_CLIENTS

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


def _boolean(value: str) -> bool:
    """``--rm=false`` style values, as the docker CLI accepts them."""
    lowered = value.strip().lower()
    if lowered in ("1", "t", "true", "yes", "on"):
        return True
    if lowered in ("0", "f", "false", "no", "off"):
        return False
    raise ValueError(value)


_boolean.__name__ = "boolean"  # argparse names the type in its error message


class _Flag(argparse.Action):
    """A boolean flag as the docker CLI has them: ``--rm`` alone means true (it never takes
    the next word: ``--rm IMAGE`` keeps the image), ``--rm=false`` sets a value."""

    def __init__(self, option_strings, dest, default=None, help=None, metavar=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, True)


def _flag_values(parser, argv: list[str]) -> tuple[list[str], dict[str, bool]]:
    """Take ``--flag=VALUE`` of :class:`_Flag` options out of ``argv`` (up to the first
    positional word: what follows may be a container's command)."""
    values: dict[str, bool] = {}
    kept: list[str] = []
    wants_value = False
    for i, word in enumerate(argv):
        if wants_value:
            kept.append(word)
            wants_value = False
            continue
        if not word.startswith("-") or word == "--":
            kept += argv[i:]
            break
        name, eq, value = word.partition("=")
        action = parser._option_string_actions.get(name)
        if isinstance(action, _Flag) and eq:
            try:
                values[action.dest] = _boolean(value)
            except ValueError:
                raise UsageError(f"argument {name}: invalid boolean value: {value!r}") from None
            continue
        kept.append(word)
        wants_value = action is not None and action.nargs != 0 and not eq
    return kept, values


MAX_LINE = 64 * 1024


def _split(line: str) -> list[str]:
    # shlex is quadratic in a token's length: plain lines (no quotes, no backslashes, by far
    # the common case) split the same way with str.split.
    if not any(c in line for c in "'\"\\"):
        return line.split()
    return shlex.split(line)


def _parse(parser, line: str, name: str, *, secret: bool = False):
    try:
        argv = _split(line)
    except ValueError as exc:
        raise UsageError(f"%{name}: cannot split the arguments ({exc}): check the quotes") from None
    try:
        words, flags = _flag_values(parser, argv)
        args = parser.parse_args(words)
        for dest, value in flags.items():
            setattr(args, dest, value)
        args.argv = argv
        return args
    except UsageError as exc:
        if secret:
            raise UsageError(
                f"%{name}: unexpected arguments (not shown: they may be secret). Passwords are "
                "never magic arguments: you are asked for them, or use --password-env VAR. "
                f"See %{name}? for the options."
            ) from None
        raise UsageError(f"%{name}: {exc}. See %{name}? for the options.") from None


@contextlib.contextmanager
def _warnings_as_lines():
    """Show our warnings as one plain line on stderr, when they happen (before the
    connection's summary line); pass any other warning on."""
    with warnings.catch_warnings():
        show = warnings.showwarning

        def showwarning(message, category, *args, **kwargs):
            if issubclass(category, (UnencryptedEngineWarning, CredentialHelperWarning)):
                print(f"Warning: {message}", file=sys.stderr)
            else:
                show(message, category, *args, **kwargs)

        warnings.showwarning = showwarning
        warnings.simplefilter("always", UnencryptedEngineWarning)
        warnings.simplefilter("always", CredentialHelperWarning)
        yield


class _HelpShown(Exception):
    pass


class _Help(argparse.Action):
    """``--help``/``-h``: print the magic's help (IPython's parsers have none)."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(parser.format_help())
        raise _HelpShown


def _magic(func=None, *, secret_arguments: bool = False):
    """Parse the magic's line with its ``magic_arguments``; map our errors to one redacted
    UsageError line. With ``secret_arguments``, parse errors do not echo the line (someone
    may have typed a password into it)."""
    if func is None:
        return functools.partial(_magic, secret_arguments=secret_arguments)
    name = func.__name__
    if secret_arguments:
        func.parser.allow_abbrev = False  # "--password X" must not pass for "--password-env X"
    for action in func.parser._actions:
        if action.nargs == argparse.REMAINDER:
            action.required = False  # may be empty ("required: IMAGE, COMMAND" was wrong)
    taken = func.parser._option_string_actions
    if "--help" not in taken:
        func.parser.add_argument(
            *[f for f in ("-h", "--help") if f not in taken], action=_Help, help="Show this help."
        )

    @functools.wraps(func)
    def wrapper(self, line="", cell=None, local_ns=None):
        if len(line) > MAX_LINE:  # before expanding it: IPython's expansion is quadratic
            raise UsageError(
                f"%{name}: the options line is {len(line):,} characters long. Put long "
                "content in the cell or in a file"
            )
        line = _expand(self.shell, line, local_ns)
        try:
            args = _parse(func.parser, line, name, secret=secret_arguments)
        except _HelpShown:
            return None
        except UsageError:
            if secret_arguments:
                _forget_input(self.shell, name)
            raise
        with _warnings_as_lines():
            try:
                return func(self, args) if cell is None else func(self, args, cell)
            except (DockerMagicsError, Interrupted) as exc:  # Interrupted: a KeyboardInterrupt
                if isinstance(exc, ConnectFailed):
                    self._explain_missing_engine()
                if isinstance(exc, MaybeSecretArgument):
                    _forget_input(self.shell, name)
                raise UsageError(redact(str(exc))) from None
            except KeyboardInterrupt:  # outside the work's own handlers (a prompt, a lookup)
                raise UsageError(f"%{name} interrupted") from None

    # We expand {var} and $var ourselves (after the length check), in the caller's scope.
    wrapper._ipython_magic_no_var_expand = True
    wrapper.needs_local_scope = True
    return wrapper


def _forget_input(shell, name: str) -> None:
    """Take this cell out of IPython's history (the lists, ``_iN`` and history.sqlite): its
    unexpected words may be a password typed by mistake. The saving thread writes the
    cache under the same lock, so the cell is either still cached or already saved."""
    history = getattr(shell, "history_manager", None)
    if history is None or not history.input_hist_raw:
        return
    if name not in history.input_hist_raw[-1]:
        return  # this cell was not stored (store_history=False): leave the others alone
    number = len(history.input_hist_raw) - 1  # this cell's line (entry 0 is a blank)
    masked = f"%{name} ...  # removed from the history: it may have held a password"
    for entries in (history.input_hist_raw, history.input_hist_parsed):
        entries[-1] = masked
    history._i00 = masked
    shell.user_ns[f"_i{number}"] = masked
    with history.db_input_cache_lock:
        history.db_input_cache = [
            (n, masked, masked) if n == number else (n, source, raw)
            for n, source, raw in history.db_input_cache
        ]
        try:
            history.db.execute("PRAGMA secure_delete = ON")  # no old copy left in free pages
            with history.db:
                history.db.execute(
                    "UPDATE history SET source=?, source_raw=? WHERE session=? AND line=?",
                    (masked, masked, history.session_number, number),
                )
        except Exception:  # noqa: BLE001 - history disabled, or a dummy database
            pass


def _expand(shell, line: str, local_ns: dict | None) -> str:
    """IPython's usual expansion of the options line (what ``var_expand`` does)."""
    from IPython.utils.text import DollarFormatter

    if shell is None:
        return line
    try:
        return DollarFormatter().vformat(
            line, args=[], kwargs={**shell.user_ns, **(local_ns or {})}
        )
    except Exception:  # noqa: BLE001 - as IPython: a line that does not expand stays as is
        return line


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
        if not (math.isfinite(proposal["value"]) and proposal["value"] > 0):
            raise TraitError("DockerMagics.timeout must be a positive number of seconds")
        return proposal["value"]

    @observe("timeout")
    def _apply_timeout(self, change):
        # Open connections wait as long from now on: a slow registry needs no reconnect.
        for conn in api.SESSION.connections():
            conn.client.api.timeout = change["new"]

    @validate("api_version")
    def _check_api_version(self, proposal):
        from .endpoints import parse_api_version

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

    @line_magic
    @_magic
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
                print(f"Switched to {conn.alias!r}: {conn.endpoint.url}, {conn.tls_label}")
                return conn.client
            if target in context_names():
                context, alias = target, alias or target
            elif ":" in target:
                url = target  # HOST:PORT, as the CLI takes it
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
    @_magic
    @magic_arguments()
    @argument("alias", nargs="?", help="The connection to describe (default: the current one).")
    def docker_info(self, args):
        """Show the engine: version, storage driver, images and containers, registries."""
        conn = api.SESSION.get(args.alias) if args.alias else self.connection()
        return api.engine_info(conn)

    @line_cell_magic
    @_magic
    @magic_arguments()
    @argument(
        "-t",
        "--tag",
        action="append",
        default=[],
        metavar="NAME[:TAG]",
        help="Name and tag the image (repeatable).",
    )
    @argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="Set a build argument (repeatable); a bare NAME takes its value from the environment.",
    )
    @argument(
        "--secret-build-arg",
        action="append",
        default=[],
        metavar="NAME",
        help="A build argument taken from the environment variable NAME whose value is masked "
        "in all output and logs (repeatable). Like any build argument it is kept in the "
        "image's history: do not push such images.",
    )
    @argument(
        "--secret",
        action="append",
        default=[],
        metavar="id=ID[,env=VAR|,src=FILE]",
        help="A build secret for RUN --mount=type=secret,id=ID (BuildKit; repeatable), read from "
        "the environment variable VAR (default: ID) or the file FILE. It reaches the RUN step "
        "only: never a layer, the image's history or the outputs.",
    )
    @argument("--target", metavar="STAGE", help="Build this stage of a multi-stage Dockerfile.")
    @argument("--platform", metavar="OS/ARCH", help="Target platform, e.g. linux/amd64.")
    @argument("--no-cache", action="store_true", help="Do not use the build cache.")
    @argument("--pull", action="store_true", help="Always try to pull newer base images.")
    @argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Set an image label (repeatable).",
    )
    @argument("--network", metavar="MODE", help="Network mode for RUN steps (e.g. none, host).")
    @argument(
        "--cache-from",
        action="append",
        default=[],
        metavar="IMAGE",
        help="Images to consider as cache sources (repeatable).",
    )
    @argument(
        "--rm",
        action=_Flag,
        default=True,
        help="Remove intermediate containers after a successful build (default; --rm=false "
        "keeps them).",
    )
    @argument(
        "--force-rm",
        action=_Flag,
        default=True,
        help="Also remove them when a step fails (default, unlike docker build; "
        "--force-rm=false keeps them).",
    )
    @argument("-q", "--quiet", action="store_true", help="No progress; print the image ID.")
    @argument("--progress", choices=MODES, help="auto (default), widget, plain or none.")
    @argument(
        "--builder",
        choices=("classic", "buildkit", "auto"),
        help="classic (default, or %%config DockerMagics.builder), buildkit, or auto.",
    )
    @argument(
        "-f", "--file", metavar="PATH", help="Build this Dockerfile from disk instead of the cell."
    )
    @argument(
        "--context",
        metavar="DIR",
        help="Send this folder as the context (honouring its .dockerignore), with the cell as "
        "its Dockerfile.",
    )
    @argument(
        "--add",
        action="append",
        default=[],
        metavar="SRC[:DEST]",
        help="Put a local file or folder into the context (repeatable).",
    )
    def docker_build(self, args, cell=None):
        """Build an image. The cell is the Dockerfile, used literally; only the options line
        gets IPython's {var} and $var expansion (--build-arg BASE={base}).

        By default the context holds just the Dockerfile: bring files in with --add, or send
        a folder with --context. Returns a BuildResult (image id, tags, size, steps, log);
        after a failure, docker_magics.last_build() still has the log.
        """
        self.connection()
        progress = "none" if args.quiet else (args.progress or self.progress)
        result = api.build(
            cell,
            tags=args.tag,
            file=args.file,
            context=args.context,
            add=args.add,
            build_args=args.build_arg,
            labels=args.label,
            target=args.target,
            platform=args.platform,
            network=args.network,
            cache_from=args.cache_from,
            no_cache=args.no_cache,
            pull=args.pull,
            rm=args.rm,
            force_rm=args.force_rm,
            progress=progress,
            builder=args.builder or self.builder,
            secret_build_args=args.secret_build_arg,
            secrets=args.secret,
        )
        if args.quiet:
            print(result.image_id)
        return result

    @line_magic
    @_magic
    @magic_arguments()
    @argument("reference", metavar="NAME[:TAG]", help="The image to push (default tag: latest).")
    @argument("-a", "--all-tags", action="store_true", help="Push every tag of NAME.")
    @argument("-q", "--quiet", action="store_true", help="No progress; print the digest.")
    @argument("--progress", choices=MODES, help="auto (default), widget, plain or none.")
    def docker_push(self, args):
        """Push an image to its registry, with per-layer progress. A registry without
        authentication needs no login; for others, %docker_login first (or a login saved by
        docker login). Returns a PushResult (digest, size, what happened to each layer)."""
        self.connection()
        progress = "none" if args.quiet else (args.progress or self.progress)
        result = api.push(args.reference, all_tags=args.all_tags, progress=progress)
        if args.quiet:
            print(result.digest)
        return result

    @line_magic
    @_magic
    @magic_arguments()
    @argument("reference", metavar="NAME[:TAG|@DIGEST]", help="The image to pull.")
    @argument("-a", "--all-tags", action="store_true", help="Pull every tag of NAME.")
    @argument("--platform", metavar="OS/ARCH", help="Pull for this platform.")
    @argument("-q", "--quiet", action="store_true", help="No progress; print the image ID.")
    @argument("--progress", choices=MODES, help="auto (default), widget, plain or none.")
    def docker_pull(self, args):
        """Pull an image from its registry, with per-layer progress. Returns a PullResult."""
        self.connection()
        progress = "none" if args.quiet else (args.progress or self.progress)
        result = api.pull(
            args.reference, all_tags=args.all_tags, platform=args.platform, progress=progress
        )
        if args.quiet:
            print(result.image_id)
        return result

    @line_magic
    @_magic
    @magic_arguments()
    @argument("source", metavar="SOURCE", help="An image on the engine (name, name:tag or ID).")
    @argument("target", metavar="TARGET[:TAG]", help="The new name.")
    def docker_tag(self, args):
        """Give an image another name (e.g. REGISTRY/NAME:TAG before %docker_push)."""
        self.connection()
        print(f"Tagged {args.source} as {api.tag(args.source, args.target)}")

    @line_magic
    @_magic(secret_arguments=True)
    @magic_arguments()
    @argument(
        "registry",
        nargs="?",
        metavar="REGISTRY",
        help="Registry host[:port] (default: Docker Hub).",
    )
    @argument("-u", "--username", metavar="USER", help="The user name.")
    @argument(
        "--password-env",
        metavar="VAR",
        help="Read the password from this environment variable (default: ask for it).",
    )
    @argument(
        "--save",
        action="store_true",
        help="Also store the login like docker login (credential helper, else "
        "~/.docker/config.json).",
    )
    def docker_login(self, args):
        """Log in to a registry for this session. The password is asked for (getpass) or read
        from an environment variable you name: it is never a magic argument, so it never
        reaches the notebook, the outputs or IPython's history. The engine checks it with
        the registry before it is kept."""
        from .registry import login_registry

        login_registry(args.registry)  # before connecting: it may be a password typed there
        self.connection()
        print(
            api.login(
                args.registry,
                username=args.username,
                password_env=args.password_env,
                save=args.save,
            )
        )

    @line_magic
    @_magic
    @magic_arguments()
    @argument("registry", nargs="?", metavar="REGISTRY", help="Default: Docker Hub.")
    @argument(
        "--saved",
        action="store_true",
        help="Also remove the login saved in the Docker config, like docker logout.",
    )
    def docker_logout(self, args):
        """Forget this session's login to a registry."""
        print(api.logout(args.registry, saved=args.saved))

    @line_cell_magic
    @_magic
    @magic_arguments()
    @argument(
        "-e",
        "--env",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="Set an environment variable (repeatable); a bare NAME takes its value "
        "from this kernel's environment.",
    )
    @argument(
        "--env-file",
        action="append",
        default=[],
        metavar="FILE",
        help="Read NAME=VALUE lines from a file.",
    )
    @argument(
        "-v",
        "--volume",
        action="append",
        default=[],
        metavar="SRC:DEST[:ro]",
        help="Bind-mount a host path (on the engine's host) or a named volume.",
    )
    @argument("-w", "--workdir", metavar="DIR", help="Working directory inside the container.")
    @argument("-u", "--user", metavar="USER[:GROUP]", help="Run as this user.")
    @argument("--network", metavar="NETWORK", help="Connect to this network.")
    @argument(
        "-p",
        "--publish",
        action="append",
        default=[],
        metavar="[IP:]HOST:CONTAINER",
        help="Publish a container port (repeatable).",
    )
    @argument("--name", metavar="NAME", help="Name the container.")
    @argument("--entrypoint", metavar="COMMAND", help="Override the image's entrypoint.")
    @argument("--platform", metavar="OS/ARCH", help="Platform of the image.")
    @argument("-d", "--detach", action="store_true", help="Run in the background.")
    @argument(
        "--rm",
        action=_Flag,
        default=None,
        help="Remove the container when it exits (default for foreground runs; "
        "--rm=false keeps it; with --detach the default is to keep it).",
    )
    @argument(
        "--shell",
        default="sh",
        metavar="COMMAND",
        help="With the cell magic: the interpreter for the cell (sh, bash, python3...).",
    )
    @argument(
        "--add",
        action="append",
        default=[],
        metavar="SRC[:DEST]",
        help="Copy a local file or folder in before the run (DEST relative to the "
        "working directory).",
    )
    @argument(
        "--get",
        action="append",
        default=[],
        metavar="PATH[:DEST]",
        help="Copy a file or folder out after a successful run.",
    )
    @argument("-q", "--quiet", action="store_true", help="Do not show the output live.")
    @argument("image", metavar="IMAGE", help="The image to run.")
    @argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="The command and its arguments (line magic only).",
    )
    def docker_run(self, args, cell=None):
        """Run a container; its stdout and stderr stream into the cell output (stderr as
        stderr). As a cell magic (%%docker_run IMAGE), the cell is a script run inside the
        container with --shell. Returns a RunResult (exit code, output, duration); a non-zero
        exit is an error with the exit code and the last lines. Interrupting stops and removes
        the container."""
        if cell is not None and args.command:
            # Options may follow the image here (there is no command): parse them as options.
            argv = list(args.argv)
            del argv[len(argv) - len(args.command) - 1]  # the image: just before the rest
            try:
                args = _parse(self.docker_run.parser, shlex.join([*argv, args.image]), "docker_run")
            except _HelpShown:
                return None
            if args.command:
                raise BadArgument(
                    "%%docker_run runs the cell: give no command after the image",
                    "Write the commands in the cell",
                )
        if cell is not None and not cell.strip():
            raise BadArgument("The cell is empty: nothing to run", "Write a script in the cell")
        self.connection()
        return api.run(
            args.image,
            args.command or None,
            script=cell,
            shell=args.shell,
            env=args.env,
            env_files=args.env_file,
            volumes=args.volume,
            ports=args.publish,
            workdir=args.workdir,
            user=args.user,
            network=args.network,
            name=args.name,
            entrypoint=args.entrypoint,
            platform=args.platform,
            detach=args.detach,
            remove=args.rm,
            add=args.add,
            get=args.get,
            progress="none" if args.quiet else self.progress,
        )

    @line_magic
    @_magic
    @magic_arguments()
    @argument("name", nargs="?", metavar="REPOSITORY[:TAG]", help="Only these images.")
    @argument("-a", "--all", action="store_true", help="Show intermediate images too.")
    @argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Filter, e.g. dangling=true, label=team=data (repeatable).",
    )
    def docker_images(self, args):
        """The engine's images (a table; .objects has docker-py's Image objects)."""
        self.connection()
        return api.images(args.name, all=args.all, filters=args.filter)

    @line_magic
    @_magic
    @magic_arguments()
    @argument("-a", "--all", action="store_true", help="Show stopped containers too.")
    @argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Filter, e.g. status=exited, name=web (repeatable).",
    )
    def docker_ps(self, args):
        """The engine's containers (a table; .objects has docker-py's Container objects)."""
        self.connection()
        return api.containers(all=args.all, filters=args.filter)

    @line_magic
    @_magic
    @magic_arguments()
    @argument("container", metavar="CONTAINER", help="Name or ID.")
    @argument(
        "-f",
        "--follow",
        action="store_true",
        help="Keep showing new output until the container stops (or you interrupt).",
    )
    @argument("-n", "--tail", type=int, metavar="N", help="Only the last N lines.")
    @argument("-t", "--timestamps", action="store_true", help="Show timestamps.")
    def docker_logs(self, args):
        """A container's output (stderr as stderr), bounded like a run's; the value is the
        whole log (``.text()``)."""
        self.connection()
        return api.logs(
            args.container, follow=args.follow, tail=args.tail, timestamps=args.timestamps
        )

    @line_magic
    @_magic
    @magic_arguments()
    @argument("containers", nargs="+", metavar="CONTAINER")
    @argument(
        "-t",
        "--time",
        type=int,
        default=10,
        metavar="SECONDS",
        help="Seconds to wait before killing (default 10).",
    )
    def docker_stop(self, args):
        """Stop containers."""
        self.connection()
        return api.stop(args.containers, timeout=args.time)

    @line_magic
    @_magic
    @magic_arguments()
    @argument("containers", nargs="+", metavar="CONTAINER")
    @argument("-f", "--force", action="store_true", help="Kill running containers first.")
    def docker_rm(self, args):
        """Remove containers."""
        self.connection()
        return api.remove(args.containers, force=args.force)

    @line_magic
    @_magic
    @magic_arguments()
    @argument("images", nargs="+", metavar="IMAGE")
    @argument(
        "-f", "--force", action="store_true", help="Remove even if in use or tagged several times."
    )
    def docker_rmi(self, args):
        """Remove images."""
        self.connection()
        return api.remove_images(args.images, force=args.force)


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


def register(ipython) -> None:
    ipython.register_magics(DockerMagics(ipython))


def unregister(ipython) -> None:
    manager = ipython.magics_manager
    instance = manager.registry.pop(DockerMagics.__name__, None)
    if instance is None:
        return
    for kind, names in instance.magics.items():
        for name in names:
            manager.magics[kind].pop(name, None)
    ipython.configurables[:] = [c for c in ipython.configurables if c is not instance]
