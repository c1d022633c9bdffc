"""The glue between a magic's line and the Python API: argparse as IPython's
``magic_arguments`` sets it up, plus what the docker CLI's users expect of it (``--rm=false``
flags, ``--help``), IPython's ``{var}``/``$var`` expansion done after a length check, and
every expected failure turned into one ``UsageError`` line; and the options several magics
share, each defined once (as IPython's ``script_args`` in ``core/magics/script.py``).
"""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
import warnings
from collections.abc import Callable
from typing import TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import needs_local_scope, no_var_expand
from IPython.core.magic_arguments import argument

from docker_magics.display.progress import MODES
from docker_magics.errors import (
    BadArgument,
    ConnectFailed,
    CredentialHelperWarning,
    DockerMagicsError,
    Interrupted,
    MaybeSecretArgument,
    UnencryptedEngineWarning,
    in_magic,
)
from docker_magics.magics.history import forget_input
from docker_magics.redaction import redact


def _boolean(value: str) -> bool:
    """``--rm=false`` style values, as the docker CLI accepts them."""
    lowered = value.strip().lower()
    if lowered in ("1", "t", "true", "yes", "on"):
        return True
    if lowered in ("0", "f", "false", "no", "off"):
        return False
    raise ValueError(value)


_boolean.__name__ = "boolean"  # argparse names the type in its error message


class Flag(argparse.Action):
    """A boolean flag as the docker CLI has them: ``--rm`` alone means true (it never takes
    the next word: ``--rm IMAGE`` keeps the image), ``--rm=false`` sets a value."""

    def __init__(self, option_strings, dest, default=None, help=None, metavar=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, True)


def _flag_values(parser, argv: list[str]) -> tuple[list[str], dict[str, bool]]:
    """Take ``--flag=VALUE`` of :class:`Flag` options out of ``argv`` (up to the first
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
        if isinstance(action, Flag) and eq:
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


def _secret_line_refused(parser, argv: list[str], name: str) -> str:
    """Why a line that may hold a password was refused, without repeating it: only the
    unknown options that cannot be one are named (a single letter, as ``-p``; a near miss of
    a real option, as ``--pasword-env``)."""
    import difflib
    import re

    known = [o for o in parser._option_string_actions if o.startswith("--")]
    named = []
    for word in argv:
        flag = word.split("=", 1)[0]
        if not flag.startswith("-") or flag in parser._option_string_actions:
            continue
        near = difflib.get_close_matches(flag, known, n=1, cutoff=0.8)
        if re.fullmatch(r"-[A-Za-z]", flag):
            named.append(flag)
        elif near and re.fullmatch(r"--[a-z][a-z-]+", flag):
            named.append(f"{flag} (did you mean {near[0]}?)")
    what = f"unknown option {', '.join(named)}" if named else "unexpected arguments"
    return (
        f"%{name}: {what}; the line is not repeated, as it may hold a password. Passwords are "
        "never magic arguments: you are asked for them, or use --password-env VAR. "
        f"{MaybeSecretArgument.DELETE}. See %{name}? for the options."
    )


def parse_line(parser, line: str, name: str, *, secret: bool = False):
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
            raise UsageError(_secret_line_refused(parser, argv, name)) from None
        raise UsageError(f"%{name}: {exc}. See %{name}? for the options.") from None


_AS_LINES = (UnencryptedEngineWarning, CredentialHelperWarning)


def show_warnings_as_lines() -> None:
    """From now on (the extension is loaded), our warnings are one plain line on stderr
    when they happen (before the connection's summary line), every time; any other warning
    goes where it went. Installed once, not per call: swapping ``warnings.showwarning``
    around each magic is not thread-safe (two magics at once in threads left it replaced
    for good)."""
    if getattr(warnings.showwarning, "_docker_magics_previous", None) is not None:
        return
    previous = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, _AS_LINES):
            print(f"Warning: {message}", file=sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    showwarning._docker_magics_previous = previous  # type: ignore[attr-defined]
    warnings.showwarning = showwarning
    for category in _AS_LINES:
        warnings.filterwarnings("always", category=category)


def stop_showing_warnings_as_lines() -> None:
    """Undo :func:`show_warnings_as_lines` (``%unload_ext``), if nobody wrapped it since
    (our warnings keep their "always" filters: they are ours alone)."""
    previous = getattr(warnings.showwarning, "_docker_magics_previous", None)
    if previous is not None:
        warnings.showwarning = previous


class HelpShown(Exception):
    pass


class _Help(argparse.Action):
    """``--help``/``-h``: print the magic's help (IPython's parsers have none)."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(plain_help(parser.format_help()))
        raise HelpShown


def plain_help(text: str) -> str:
    """IPython's parsers write their usage as a reStructuredText literal block (``::`` and
    an indent, for ``%magic?``): as argparse's ``usage:`` line for ``--help``."""
    if not text.startswith("::\n\n  "):
        return text
    usage, _, rest = text[len("::\n\n  ") :].partition("\n\n")
    first, *more = usage.split("\n")
    indent = " " * len(f"usage: {first.split()[0]} ")  # the options, aligned below the first
    lines = [f"usage: {first}", *(indent + line.strip() for line in more)]
    return "\n".join(lines) + "\n\n" + rest


def magic(func=None, *, secret_arguments: bool = False, lists: bool = False):
    """Parse the magic's line with its ``magic_arguments``; map our errors to one redacted
    UsageError line. With ``secret_arguments``, parse errors do not echo the line (someone
    may have typed a password into it). With ``lists``, ``{var}`` of a list expands to one
    word holding the list as a Python literal (``--each X={values}``)."""
    if func is None:
        return functools.partial(magic, secret_arguments=secret_arguments, lists=lists)
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

    func = in_magic()(func)  # what it says speaks of options and magics (errors.how)

    @functools.wraps(func)
    def wrapper(self, line="", cell=None, local_ns=None):
        if len(line) > MAX_LINE:  # before expanding it: IPython's expansion is quadratic
            raise UsageError(
                f"%{name}: the options line is {len(line):,} characters long. Put long "
                "content in the cell or in a file"
            )
        line = _expand(self.shell, line, local_ns, lists=lists)
        try:
            args = parse_line(func.parser, line, name, secret=secret_arguments)
        except HelpShown:
            return None
        except UsageError:
            if secret_arguments:
                forget_input(self.shell, name)
            raise
        try:
            return func(self, args) if cell is None else func(self, args, cell)
        except (DockerMagicsError, Interrupted) as exc:  # Interrupted: a KeyboardInterrupt
            if isinstance(exc, ConnectFailed):
                self._explain_missing_engine()
            if isinstance(exc, MaybeSecretArgument):
                forget_input(self.shell, name)
            raise UsageError(redact(str(exc))) from None
        except KeyboardInterrupt:  # outside the work's own handlers (a prompt, a lookup)
            raise UsageError(f"%{name} interrupted") from None

    # We expand {var} and $var ourselves (after the length check), in the caller's scope.
    return no_var_expand(needs_local_scope(wrapper))


def _expand(shell, line: str, local_ns: dict | None, *, lists: bool = False) -> str:
    """IPython's usual expansion of the options line (what ``var_expand`` does)."""
    from IPython.utils.text import DollarFormatter

    if shell is None:
        return line

    class ListFormatter(DollarFormatter):
        def format_field(self, value, format_spec):
            listed = value.tolist() if hasattr(value, "tolist") else value  # numpy, pandas
            if not format_spec and isinstance(listed, (list, tuple, range)):
                return shlex.quote(repr(list(listed)))  # one word, read back as a literal
            return super().format_field(value, format_spec)

    try:
        return (ListFormatter() if lists else DollarFormatter()).vformat(
            line, args=[], kwargs={**shell.user_ns, **(local_ns or {})}
        )
    except Exception:  # noqa: BLE001 - as IPython: a line that does not expand stays as is
        return line


def script_cell_args(magic_method, args: argparse.Namespace, cell: str | None):
    """The arguments of a magic that runs ``IMAGE COMMAND`` or, as a cell magic, the cell as
    a script (``%docker_run``, ``%docker_job``). ``%%name IMAGE --rm`` has no command: the
    words after the image are options, parsed again as such. None when they asked for
    ``--help`` (shown)."""
    if cell is None:
        return args
    name = magic_method.__name__
    if args.command:
        argv = list(args.argv)
        del argv[len(argv) - len(args.command) - 1]  # the image: just before the rest
        try:  # (.parser: set by IPython's @magic_arguments)
            args = parse_line(magic_method.parser, shlex.join([*argv, args.image]), name)
        except HelpShown:
            return None
        if args.command:
            raise BadArgument(
                f"%%{name} runs the cell: give no command after the image",
                "Write the commands in the cell",
            )
    if not cell.strip():
        raise BadArgument("The cell is empty: nothing to run", "Write a script in the cell")
    return args


# -- the options several magics share, defined once ----------------------------------------
# Each function gives a fresh ``@argument`` (no list default shared between two parsers);
# where the magics say different things of an option, its help is theirs to give.

F = TypeVar("F", bound=Callable)


def options(*arguments: argument) -> Callable[[F], F]:
    """Several ``@argument`` decorators as one, in the order ``%magic?`` lists them."""

    def add(func: F) -> F:
        for each in reversed(arguments):
            func = each(func)
        return func

    return add


def _repeated(*flags: str, metavar: str, help: str) -> argument:
    return argument(*flags, action="append", default=[], metavar=metavar, help=help)


def quiet_option(help: str) -> argument:
    return argument("-q", "--quiet", action="store_true", help=help)


def progress_option() -> argument:
    return argument("--progress", choices=MODES, help="auto (default), widget, plain or none.")


def quiet_and_progress(quiet: str) -> Callable[[F], F]:
    """``-q`` (its help: what it prints instead) and ``--progress``."""
    return options(quiet_option(quiet), progress_option())


def tag_option(help: str) -> argument:
    return _repeated("-t", "--tag", metavar="NAME[:TAG]", help=help)


def label_option() -> argument:
    return _repeated("--label", metavar="NAME=VALUE", help="Set an image label (repeatable).")


def no_cache_option() -> argument:
    return argument("--no-cache", action="store_true", help="Do not use the build cache.")


def pull_option(help: str) -> argument:
    return argument("--pull", action="store_true", help=help)


def cache_from_option() -> argument:
    return _repeated(
        "--cache-from", metavar="IMAGE", help="Images to consider as cache sources (repeatable)."
    )


def builder_option() -> argument:
    return argument(
        "--builder",
        choices=("classic", "buildkit", "auto"),
        help="classic (default, or %%config DockerMagics.builder), buildkit, or auto.",
    )


def platform_option(help: str) -> argument:
    return argument("--platform", metavar="OS/ARCH", help=help)


def env_option(help: str) -> argument:
    return _repeated("-e", "--env", metavar="NAME[=VALUE]", help=help)


def env_file_option(help: str) -> argument:
    return _repeated("--env-file", metavar="FILE", help=help)


def add_option(help: str) -> argument:
    """``--add``: local files into the context or the container."""
    return _repeated("--add", metavar="SRC[:DEST]", help=help)


def get_option(help: str) -> argument:
    """``--get``: files out of the container after the run."""
    return _repeated("--get", metavar="PATH[:DEST]", help=help)


def filter_option(help: str) -> argument:
    return _repeated("-f", "--filter", metavar="KEY=VALUE", help=help)


def name_option(help: str) -> argument:
    return argument("--name", metavar="NAME", help=help)


def shell_option() -> argument:
    return argument(
        "--shell",
        default="sh",
        metavar="COMMAND",
        help="With the cell magic: the interpreter for the cell (sh, bash, python3...).",
    )


def image_and_command(image: str) -> Callable[[F], F]:
    """``IMAGE`` (its help: ``image``) and the ``COMMAND`` after it: see
    :func:`script_cell_args`."""
    return options(
        argument("image", metavar="IMAGE", help=image),
        argument(
            "command",
            nargs=argparse.REMAINDER,
            metavar="COMMAND",
            help="The command and its arguments (line magic only).",
        ),
    )
