"""What a build is asked to do: ``docker build``'s options as ``POST /build`` parameters, and
the ``--build-arg``/``--label`` pairs and ``--secret`` specs as the docker CLI reads them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from docker_magics.display.tables import human_size
from docker_magics.errors import BadArgument, MaybeSecretArgument, how, option
from docker_magics.errors import usage as given


@dataclass
class BuildOptions:
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    platform: str | None = None
    network: str | None = None
    cache_from: list[str] = field(default_factory=list)
    no_cache: bool = False
    pull: bool = False
    rm: bool = True
    force_rm: bool = True  # unlike `docker build`: a failed step leaves no container behind

    def params(self, dockerfile: str, builder: str = "classic") -> list[tuple[str, str]]:
        """Query parameters of ``POST /build`` (``t`` may repeat); ``version=2`` asks the
        engine for BuildKit."""
        version = "2" if builder == "buildkit" else "1"
        params = [("dockerfile", dockerfile), ("version", version)]
        params += [("t", tag) for tag in self.tags]
        flags = {
            "nocache": self.no_cache,
            "pull": self.pull,
            "rm": self.rm,
            "forcerm": self.force_rm and self.rm,
        }
        params += [(k, "1" if v else "0") for k, v in flags.items()]
        if self.build_args:
            params.append(("buildargs", json.dumps(self.build_args)))
        if self.labels:
            params.append(("labels", json.dumps(self.labels)))
        if self.cache_from:
            params.append(("cachefrom", json.dumps(self.cache_from)))
        for key, value in (
            ("target", self.target),
            ("platform", self.platform),
            ("networkmode", self.network),
        ):
            if value:
                params.append((key, value))
        return params


def parse_pairs(
    items: Iterable[str] | Mapping[str, str], flag: str, *, from_env: bool = False
) -> dict[str, str]:
    """``NAME=VALUE`` items (``--build-arg``, ``--label``). With ``from_env``, a bare ``NAME``
    takes its value from the environment and is left out (the Dockerfile's default applies)
    when the variable is not set, as with ``docker build``."""
    if isinstance(items, Mapping):  # the Python API's dicts, already checked
        return dict(items)
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not name or any(c.isspace() for c in name):
            raise BadArgument(
                f"Invalid {option(flag)} {item!r}", f"Use {given(flag, 'NAME=VALUE')}"
            )
        if not sep:
            if not from_env:
                value = ""
            elif name in os.environ:
                value = os.environ[name]
            else:
                continue
        pairs[name] = value
    return pairs


def parse_secrets(items: Iterable[str]) -> dict[str, bytes]:
    """``--secret id=ID[,env=VAR|,src=FILE]`` as ``docker buildx build`` takes them (also
    ``type=env|file``): the value comes from an environment variable (VAR, by default ID) or
    a file, never from the option. Values are masked in every output from now on."""
    from docker_magics.builds.buildkit.session import MAX_SECRET
    from docker_magics.redaction import protect_value

    usage = f"Use {given('--secret', 'id=ID,env=VAR')} or {given('--secret', 'id=ID,src=FILE')}"
    secrets: dict[str, bytes] = {}
    for item in items:
        spec: dict[str, str] = {}
        for part in item.split(","):
            key, sep, value = part.partition("=")
            key = {"source": "src", "name": "id"}.get(key.strip().lower(), key.strip().lower())
            if not sep or not value or key not in ("id", "env", "src", "type"):
                # Not repeated (and the cell leaves the history): a value typed in by
                # mistake may be the secret itself.
                raise MaybeSecretArgument(
                    f"Invalid {option('--secret')} (not shown: it may hold a secret)", usage
                )
            spec[key] = value
        secret_id, kind = spec.get("id"), spec.get("type")
        if not secret_id or kind not in (None, "env", "file"):
            raise BadArgument("Invalid --secret: it needs id=ID (and type env or file)", usage)
        if kind == "file" or (kind is None and "src" in spec):
            path = Path(os.path.expanduser(spec.get("src", "")))
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise BadArgument(
                    f"{_secret(secret_id)}: cannot read {path} ({exc.strerror or exc})",
                    "Give a readable file with src=FILE",
                ) from None
        else:
            name = spec.get("env") or spec.get("src") or secret_id
            if name not in os.environ:
                # Not named (nor the id when it names the variable): it may be the secret
                # itself, typed where a name goes.
                which = (
                    f"{_secret(secret_id)}: its"
                    if "env" in spec
                    else how("A --secret's", "A secret's")
                )
                raise MaybeSecretArgument(
                    f"{which} environment variable is not set",
                    "Set it before the build (os.environ in the kernel), or use src=FILE",
                )
            data = os.environ[name].encode()
        if len(data) > MAX_SECRET:
            raise BadArgument(
                f"{_secret(secret_id)} is {human_size(len(data))}: BuildKit takes at most 500 KiB"
            )
        text = data.decode("utf-8", "replace")
        protect_value(text)
        lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 8]
        if 1 < len(lines) <= 50:  # a small credentials file: each key masked on its own too
            for line in lines:
                protect_value(line)
        secrets[secret_id] = data
    return secrets


def _secret(secret_id: str) -> str:
    return how(f"--secret {secret_id}", f"The secret {secret_id!r}")


def secret_build_values(names: Iterable[str]) -> dict[str, str]:
    """``--secret-build-arg NAME``: the values of these environment variables, masked in
    every output from now on."""
    from docker_magics.redaction import protect_value

    values = {}
    for name in names:
        if name not in os.environ:
            # Not repeated (and the cell leaves the history): it might be the secret
            # itself, typed in the wrong place.
            raise MaybeSecretArgument(
                f"An environment variable given to {option('--secret-build-arg')} is not set",
                "Set it before starting the kernel (or in the kernel with os.environ)",
            )
        protect_value(os.environ[name])
        values[name] = os.environ[name]
    return values
