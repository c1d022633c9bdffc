"""Pure: image references (``[registry/]name[:tag][@digest]``), validated with the grammar of
distribution/reference so a bad name fails before anything is sent, with a precise reason."""

from __future__ import annotations

import re
from dataclasses import dataclass

from docker_magics.errors import BadArgument

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = re.compile(rf"^{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*$")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)  # Go's \w: ASCII only
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
NAME_MAX = 255


def is_registry_host(name: str) -> bool:
    """Whether ``name`` can be a registry in an image reference: a host with a dot or a
    port, or ``localhost`` (anything else reads as a Docker Hub repository)."""
    host = name.split("/", 1)[0]
    return bool(_DOMAIN.match(host)) and ("." in host or ":" in host or host == "localhost")


@dataclass(frozen=True)
class Reference:
    domain: str | None
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(
    value: str, *, what: str = "image name", allow_digest: bool = True
) -> Reference:
    """Parse and validate; the error says which part is wrong and how to fix it."""
    text = value.strip()
    if not text:
        raise BadArgument(f"Empty {what}", "Give a name such as myapp:1.0")
    name, digest = text, None
    if "@" in text:
        name, _, digest = text.partition("@")
        if not allow_digest:
            raise BadArgument(
                f"Invalid {what} {value!r}: a digest (@...) cannot be used here", "Give NAME[:TAG]"
            )
        if not _DIGEST.match(digest):
            raise BadArgument(
                f"Invalid {what} {value!r}: malformed digest",
                "A digest looks like sha256:<64 hex digits>",
            )
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise BadArgument(
                f"Invalid {what} {value!r}: bad tag {tag!r}",
                "A tag has up to 128 letters, digits, '_', '.' or '-' and does not start with "
                "'.' or '-'",
            )
    domain, path = None, name
    first, sep, rest = name.partition("/")
    # As the engine splits it: a first part without '.' or ':' that is not localhost belongs
    # to the repository name, so the engine refuses "UPPER/case" ("repository name must be
    # lowercase") rather than taking UPPER for a registry host.
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
        if not _DOMAIN.match(domain):
            raise BadArgument(
                f"Invalid {what} {value!r}: bad registry host {domain!r}",
                "Use HOST[:PORT]/NAME, e.g. 127.0.0.1:5000/myapp",
            )
    if not path:
        raise BadArgument(
            f"Invalid {what} {value!r}: the name is empty", "Give a name such as myapp:1.0"
        )
    for component in path.split("/"):
        if not _PATH_COMPONENT.match(component):
            hint = (
                "Repository names must be lowercase"
                if component.lower() != component
                else "Use lowercase letters, digits and separators (. _ __ -) between them"
            )
            raise BadArgument(f"Invalid {what} {value!r}: {component!r} is not allowed", hint)
    if len(name) > NAME_MAX:
        raise BadArgument(f"Invalid {what}: the name is longer than {NAME_MAX} characters")
    return Reference(domain, path, tag, digest)


_HUB_DOMAINS = ("docker.io", "index.docker.io")


def familiar(name: str, *, default_tag: str | None = None) -> str:
    """A reference as the docker CLI shows it (distribution/reference's ``FamiliarString``):
    Docker Hub's domain left out, and its ``library/`` too for one-part names
    (``docker.io/library/x:1`` -> ``x:1``; ``docker.io/library/a/b`` stays ``library/a/b``).
    ``default_tag`` is added to a name with neither tag nor digest, as the engine tags
    ``-t demo/x`` as ``demo/x:latest``. Raises ``BadArgument`` for what is no reference."""
    ref = parse_reference(name)
    domain, path = ref.domain, ref.path
    if domain in _HUB_DOMAINS:
        domain = None
    if domain is None and path.startswith("library/") and path.count("/") == 1:
        path = path[len("library/") :]
    tag = ref.tag or (default_tag if ref.digest is None else None)
    return str(Reference(domain, path, tag, ref.digest))
