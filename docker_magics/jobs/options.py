"""What a job is asked to do: its tasks (one per combination of ``--each`` values, or
``--replicas`` copies), their environment, where and how many at a time they run. Pure:
nothing here talks to an engine, so another backend than Swarm can take the same spec."""

from __future__ import annotations

import ast
import itertools
import math
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from docker_magics.errors import BadArgument, how, option, usage

MAX_TASKS = 10_000  # one spec carries every task's values: keep it well under the engine's limits
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
RESERVED = ("TASK_INDEX", "TASK_COUNT")  # set by the job itself


@dataclass
class JobSpec:
    image: str
    combos: list[dict[str, Any]]  # one per task, in parameter order: the task's values
    command: list[str] | None = None  # arguments after the image (the image's entrypoint stays)
    script: str | None = None  # a cell, run with ``shell``
    shell: str = "sh"
    env: dict[str, str] = field(default_factory=dict)
    max_concurrent: int | None = None  # None: all tasks at once
    constraints: list[str] = field(default_factory=list)
    name: str | None = None
    reserve_cpu: float | None = None  # CPUs each task reserves (Swarm places tasks by it)
    reserve_memory: int | None = None  # bytes
    timeout: float | None = None
    resolve_image: bool = True
    swept: list[str] = field(default_factory=list)  # the parameters' names, in order

    @property
    def size(self) -> int:
        return len(self.combos)

    def label(self, index: int) -> str:
        """How a task is named in progress and errors: its values, or its index."""
        return task_label(self.combos[index], index)

    def describe(self) -> str:
        """``12 tasks (X × Y)``, ``4 tasks``."""
        what = f"{self.size} task{'' if self.size == 1 else 's'}"
        return what + (f" ({' × '.join(self.swept)})" if self.swept else "")


def task_label(values: Mapping[str, Any], index: int) -> str:
    if not values:
        return f"task {index}"
    shown = ", ".join(f"{k}={_short(text(v))}" for k, v in values.items())
    return shown if len(shown) <= 60 else shown[:59] + "…"


def text(value: Any) -> str:
    """A value as the task's environment gets it (True -> "true", as JSON would say)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _short(value: str, width: int = 24) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def job_spec(
    image: str,
    command: list[str] | None,
    *,
    script: str | None,
    shell: str,
    each: object,
    replicas: int | None,
    env: list[str] | dict[str, str],
    env_files: list[str],
    max_concurrent: int | None,
    constraints: list[str],
    name: str | None,
    reserve_cpu: float | None,
    reserve_memory: str | int | None,
    timeout: float | None,
    resolve_image: bool,
) -> JobSpec:
    """The spec of ``docker_magics.job()``'s arguments (their types already checked)."""
    from docker_magics.runs.options import parse_env

    if script is not None and command:
        raise BadArgument("A job runs a script or a command, not both", "Give one of them")
    combos, swept = combinations(each, replicas)
    items = [f"{k}={v}" for k, v in env.items()] if isinstance(env, dict) else env
    return JobSpec(
        image=image,
        combos=combos,
        swept=swept,
        command=command,
        script=script,
        shell=shell,
        env=check_env(parse_env(items, env_files), swept),
        max_concurrent=max_concurrent,
        constraints=[check_constraint(c) for c in constraints],
        name=check_name(name),
        reserve_cpu=reserve_cpu,
        reserve_memory=parse_memory(reserve_memory, option("--reserve-memory")),
        timeout=timeout,
        resolve_image=resolve_image,
    )


# -- --each and --replicas --------------------------------------------------------------------


def combinations(each: object, replicas: int | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The tasks' values and the swept names. ``each``: ``NAME=V1,V2`` strings (the magic's
    ``--each``; several give their product), a mapping of names to lists of values (also a
    product), or a list of mappings (one task each, as given)."""
    if each is not None and replicas is not None:
        raise BadArgument(
            f"{option('--replicas')} and {option('--each')} do not go together: "
            f"{option('--each')} already makes one task per combination of values",
            how(
                "Drop --replicas, or add a --each for the repetition (e.g. --each RUN=1,2,3)",
                "Drop replicas, or add the repetition to each (e.g. each={'RUN': [1, 2, 3]})",
            ),
        )
    if replicas is not None:
        return [{} for _ in range(replicas)], []
    if each is None:
        return [{}], []
    if isinstance(each, Mapping):
        axes = [(name, _values(values, name)) for name, values in each.items()]
        return _product(axes)
    if isinstance(each, str):
        each = [each]
    if isinstance(each, bytes) or not isinstance(each, Iterable):
        raise BadArgument(
            f"each must be a mapping, a string or a list, not {type(each).__name__}",
            "e.g. each={'X': [1, 2, 3]}",
        )
    items = list(each)
    if not items:
        raise BadArgument("each is an empty list: no task to run", "Leave it out for one task")
    if all(isinstance(item, Mapping) for item in items):
        return _explicit(items)
    axes = []
    for item in items:
        parsed = parse_each(item)
        if isinstance(parsed, list):
            if len(items) > 1:
                raise BadArgument(
                    how(
                        "A --each list of combinations ([{...}, ...]) must be the only --each",
                        "A list of combinations ([{...}, ...]) must be the only item of each",
                    ),
                    "Put every parameter in its combinations",
                )
            return _explicit(parsed)
        axes.append(parsed)
    return _product(axes)


def parse_each(item: object) -> tuple[str, list[Any]] | list[Mapping[str, Any]]:
    """``NAME=V1,V2,...``; ``NAME=[...]`` (a Python list, as ``--each X={values}`` expands
    a list); or ``[{...}, ...]``, the combinations themselves."""
    if not isinstance(item, str):
        raise BadArgument(f"each must hold strings or mappings, not {type(item).__name__}")
    stripped = item.strip()
    if stripped.startswith("["):
        combos = _literal(stripped, option("--each"))
        if not all(isinstance(c, Mapping) for c in combos):
            raise BadArgument(
                f"{option('--each')} {_short(stripped, 40)}: a list here must hold mappings "
                "({'NAME': value, ...}), one per task",
                f"For one parameter write {usage('--each', 'NAME=V1,V2')}",
            )
        return combos
    name, sep, values = item.partition("=")
    name = name.strip()
    if not sep:
        raise BadArgument(
            f"Invalid {option('--each')} {_short(item, 40)!r}",
            f"Use {usage('--each', 'NAME=V1,V2,...')}",
        )
    _check_name(name, option("--each"))
    values = values.strip()
    if len(values) > 2 and values[0] == values[-1] and values[0] in "'\"" and values[1] == "[":
        values = values[1:-1]  # --each "X={values}" quoted the expanded list once more
    if values.startswith("["):
        return name, _values(_literal(values, f"{option('--each')} {name}"), name)
    if not values:
        raise BadArgument(
            f"{option('--each')} {name}= has no values",
            f"Use {usage('--each', f'{name}=V1,V2,...')}",
        )
    return name, values.split(",")


def _literal(text_: str, where: str) -> list:
    try:
        value = ast.literal_eval(text_)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise BadArgument(
            f"{where}: {_short(text_, 40)} is not a list of values",
            how("Write V1,V2,... or pass a Python list: --each NAME={values}", "Write V1,V2,..."),
        ) from None
    if not isinstance(value, list):
        raise BadArgument(f"{where}: {_short(text_, 40)} is not a list")
    return value


def _values(values: object, name: str) -> list[Any]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise BadArgument(
            f"each[{name!r}] must be a list of values, not {type(values).__name__}",
            f"e.g. each={{{name!r}: [1, 2, 3]}}",
        )
    listed = list(values.tolist() if hasattr(values, "tolist") else values)  # numpy, pandas
    if not listed:
        raise BadArgument(f"each[{name!r}] has no values")
    for value in listed:
        _check_value(value, name)
    return listed


def _check_value(value: object, name: str) -> None:
    if value is None or isinstance(value, (Mapping, list, tuple, set, bytes)):
        raise BadArgument(
            f"A value of {name} is {type(value).__name__}: tasks get their values as "
            "environment variables",
            "Use strings, numbers or booleans",
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise BadArgument(f"A value of {name} is {value}", "Use finite numbers")


def _check_name(name: str, where: str) -> None:
    if not NAME.match(name):
        raise BadArgument(
            f"{where}: {_short(name, 40)!r} cannot name an environment variable",
            "Use letters, digits and _, not starting with a digit (e.g. LEARNING_RATE)",
        )
    if name in RESERVED:
        raise BadArgument(f"{where}: {name} is set by the job itself", "Pick another name")


def _product(axes: list[tuple[str, list[Any]]]) -> tuple[list[dict[str, Any]], list[str]]:
    names = [name for name, _ in axes]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise BadArgument(f"{option('--each')} {twice} is given twice", "Give each parameter once")
    for name, _ in axes:
        _check_name(name, option("--each"))
    total = math.prod(len(values) for _, values in axes)
    _check_size(total)
    rows = itertools.product(*(values for _, values in axes))
    return [dict(zip(names, row, strict=True)) for row in rows], names


def _explicit(items: list) -> tuple[list[dict[str, Any]], list[str]]:
    _check_size(len(items))
    names: list[str] = []
    combos = []
    for item in items:
        combo = {}
        for name, value in item.items():
            if not isinstance(name, str):
                raise BadArgument(f"each: parameter names must be strings, not {name!r:.40}")
            _check_name(name, "each")
            _check_value(value, name)
            combo[name] = value
            if name not in names:
                names.append(name)
        combos.append(combo)
    if not combos:
        raise BadArgument("each is an empty list: no task to run")
    return combos, names


def _check_size(total: int) -> None:
    if total > MAX_TASKS:
        raise BadArgument(
            f"The job would have {total:,} tasks, more than {MAX_TASKS:,}",
            "Give each task a share of the work (TASK_INDEX and TASK_COUNT tell it which)",
        )


# -- the rest ---------------------------------------------------------------------------------


def check_env(env: dict[str, str], swept: list[str]) -> dict[str, str]:
    for name in env:
        if name in RESERVED:
            raise BadArgument(
                f"{option('-e')} {name}: {name} is set by the job itself", "Pick another name"
            )
        if name in swept:
            raise BadArgument(
                how(
                    f"{name} is both a --each parameter and an -e variable",
                    f"{name} is both in each and in env",
                ),
                "Give it once",
            )
    return env


def check_name(name: str | None) -> str | None:
    if name is not None and not SERVICE_NAME.match(name):
        raise BadArgument(
            f"Invalid job name {_short(name, 40)!r}",
            "Use up to 63 letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    return name


def check_constraint(expression: str) -> str:
    """``node.role==manager``, ``node.labels.gpu!=true``: as ``docker service create``
    takes them (the engine checks the names)."""
    if not re.match(r"^\s*[\w.\-]+\s*(==|!=)\s*\S.*$", expression):
        raise BadArgument(
            f"Invalid {option('--constraint')} {_short(expression, 40)!r}",
            "Use NAME==VALUE or NAME!=VALUE, e.g. node.role==worker or node.labels.gpu==true",
        )
    return expression.strip()


def parse_memory(value: str | int | None, option: str) -> int | None:
    """``512m``, ``2g``, or bytes, as the docker CLI reads memory sizes."""
    if value is None:
        return None
    from docker.utils import parse_bytes

    try:
        size = value if isinstance(value, int) else parse_bytes(str(value).strip())
    except Exception:  # noqa: BLE001 - docker-py raises DockerException for bad sizes
        size = -1
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise BadArgument(f"Invalid {option} {str(value)[:40]!r}", "Use a size such as 512m or 2g")
    return size


def shell_words(shell: str) -> list[str]:
    try:
        words = shlex.split(shell)
    except ValueError as exc:
        raise BadArgument(f"Cannot split {option('--shell')} ({exc})", "Check the quotes") from None
    return words or ["sh"]
