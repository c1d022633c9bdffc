"""Pure: image references (``[registry/]name[:tag][@digest]``) read as the engine reads
them, with current distribution/reference (``Parse``, ``ParseNormalizedNamed``,
``ParseAnyReference``) and go-digest, so a bad name fails before anything is sent, with a
precise reason; and Docker Hub's names, in one place.

Older engines (Docker 20.10 here; 26 accepts them) used an older grammar and refuse a few
names this one accepts (an IPv6 registry, an upper-case first part that is a registry, a long
name under a registry): :func:`older_engine_refusal` explains their error in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docker_magics.errors import BadArgument

# --- Docker Hub --------------------------------------------------------------------------

DOCKER_HUB = "docker.io"  # the registry of a name without one (distribution/reference)
DOCKER_HUB_INDEX = "https://index.docker.io/v1/"  # Docker Hub's key in the Docker config
# Every name Docker Hub goes by: references (docker.io, and index.docker.io, which
# normalizes to it), the host the engine and BuildKit pull from, and the config's key.
DOCKER_HUB_ALIASES = frozenset(
    {DOCKER_HUB, "index.docker.io", "registry-1.docker.io", DOCKER_HUB_INDEX}
)


def is_docker_hub(registry: str) -> bool:
    """Whether ``registry`` (a host, a reference's domain or a config key) is Docker Hub."""
    return registry in DOCKER_HUB_ALIASES or registry.rstrip("/") + "/" == DOCKER_HUB_INDEX


def registry_key(registry: str) -> str:
    """The Docker config's key for a registry host (Docker Hub's is its index URL)."""
    return DOCKER_HUB_INDEX if is_docker_hub(registry) else registry


# --- The grammar (distribution/reference regexp.go) --------------------------------------

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
TAG = r"[\w][\w.-]{0,127}"
DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
NAME = rf"(?:{DOMAIN}/)?{_REMOTE_NAME}"
# Go's \w is ASCII and $ is the end of the text: re.ASCII, \Z.
ANCHORED_NAME = re.compile(rf"(?:({DOMAIN})/)?({_REMOTE_NAME})\Z", re.ASCII)
REFERENCE = re.compile(rf"({NAME})(?::({TAG}))?(?:@({DIGEST}))?\Z", re.ASCII)
IDENTIFIER = re.compile(r"[a-f0-9]{64}\Z")  # an image ID
_DOMAIN = re.compile(rf"{DOMAIN}\Z", re.ASCII)
_PATH_PART = re.compile(rf"{_PATH_COMPONENT}\Z", re.ASCII)
_TAG = re.compile(rf"{TAG}\Z", re.ASCII)
NAME_MAX = 255  # the path's length, the registry not included
# go-digest: the algorithms dockerd has (crypto/sha256 and crypto/sha512 are linked in),
# with the length of their hex digests.
DIGEST_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}
_ANY_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")


class ReferenceError(ValueError):
    """distribution/reference's (or go-digest's) error; ``code`` names the Go error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_ERRORS = {
    "ErrNameEmpty": "repository name must have at least one component",
    "ErrReferenceInvalidFormat": "invalid reference format",
    "ErrNameContainsUppercase": "repository name must be lowercase",
    "ErrNameTooLong": f"repository name must not be more than {NAME_MAX} characters",
    "ErrNameNotCanonical": "repository name must be canonical",
    "digest.ErrDigestInvalidFormat": "invalid checksum digest format",
    "digest.ErrDigestInvalidLength": "invalid checksum digest length",
    "digest.ErrDigestUnsupported": "unsupported digest algorithm",
}


def _error(code: str) -> ReferenceError:
    return ReferenceError(code, _ERRORS[code])


@dataclass(frozen=True)
class Reference:
    domain: str | None  # None: none was written (Docker Hub)
    path: str  # "" for a digest alone (an image ID)
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def registry(self) -> str:
        """The registry's host, ``docker.io`` for Docker Hub."""
        return self.domain if self.domain and self.domain != "index.docker.io" else DOCKER_HUB

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}" if text else self.digest
        return text


def validate_digest(digest: str) -> None:
    """go-digest's ``Digest.Validate``."""
    algorithm, colon, encoded = digest.partition(":")
    if not algorithm or not colon or not encoded:
        raise _error("digest.ErrDigestInvalidFormat")
    if algorithm not in DIGEST_ALGORITHMS:
        if not _ANY_DIGEST.match(digest):
            raise _error("digest.ErrDigestInvalidFormat")
        raise _error("digest.ErrDigestUnsupported")
    if len(encoded) != DIGEST_ALGORITHMS[algorithm]:
        raise _error("digest.ErrDigestInvalidLength")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise _error("digest.ErrDigestInvalidFormat")


def parse(text: str) -> Reference:
    """``reference.Parse``: a reference as written, not normalized."""
    if not text:
        raise _error("ErrNameEmpty")
    m = REFERENCE.match(text)
    if m is None:
        if text.lower() != text and REFERENCE.match(text.lower()):
            raise _error("ErrNameContainsUppercase")
        raise _error("ErrReferenceInvalidFormat")
    name = ANCHORED_NAME.match(m.group(1))
    if name is None:  # cannot be: REFERENCE's name is this grammar
        raise _error("ErrReferenceInvalidFormat")
    domain, path = name.group(1), name.group(2)
    if len(path) > NAME_MAX:
        raise _error("ErrNameTooLong")
    if m.group(3):
        validate_digest(m.group(3))
    return Reference(domain, path, m.group(2), m.group(3))


def split_docker_domain(name: str) -> tuple[str, str]:
    """``splitDockerDomain``: (registry, path) with Docker Hub's defaults filled in."""
    first, slash, rest = name.partition("/")
    if not slash:
        domain, remote = DOCKER_HUB, name
    elif _is_domain(first):
        domain, remote = first, rest
    else:
        domain, remote = DOCKER_HUB, name
    if domain == "index.docker.io":
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in remote:
        remote = "library/" + remote
    return domain, remote


def parse_normalized(text: str) -> Reference:
    """``reference.ParseNormalizedNamed``, as the engine and the CLI read an image name:
    the registry and ``library/`` filled in for Docker Hub."""
    if IDENTIFIER.match(text):
        raise ReferenceError(
            "ErrIdentifier",
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings",
        )
    domain, remainder = split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise ReferenceError(
            "ErrNameContainsUppercase",
            f"invalid reference format: repository name ({remote}) must be lowercase",
        )
    return parse(f"{domain}/{remainder}")


def parse_any(text: str) -> Reference:
    """``reference.ParseAnyReference``: an image ID (64 hex digits or a digest) or a name."""
    if IDENTIFIER.match(text):
        return Reference(None, "", None, "sha256:" + text)
    try:
        validate_digest(text)
    except ReferenceError:
        return parse_normalized(text)
    return Reference(None, "", None, text)


def familiar_reference(ref: Reference) -> Reference:
    """``FamiliarName``: Docker Hub's registry and ``library/`` left out again."""
    if ref.domain not in (None, DOCKER_HUB):
        return ref
    path = ref.path
    if path.startswith("library/") and "/" not in path.removeprefix("library/"):
        path = path.removeprefix("library/")
    return Reference(None, path, ref.tag, ref.digest)


def familiar(name: str, *, default_tag: str | None = None) -> str:
    """A name as the docker CLI shows it (``FamiliarString``): Docker Hub's registry left
    out, and its ``library/`` too for one-part names (``docker.io/library/x:1`` -> ``x:1``;
    ``docker.io/library/a/b`` stays ``library/a/b``). ``default_tag`` is added to a name with
    neither tag nor digest, as the engine tags ``-t demo/x`` as ``demo/x:latest``. Raises
    ``BadArgument`` for what is no name."""
    ref = parse_reference(name)
    if ref.registry == DOCKER_HUB:
        short = familiar_reference(Reference(DOCKER_HUB, ref.path, ref.tag, ref.digest))
    else:
        short = ref
    tag = short.tag or (default_tag if short.digest is None else None)
    return str(Reference(short.domain, short.path, tag, short.digest))


def is_registry_host(name: str) -> bool:
    """Whether ``name`` reads as a registry in an image reference: a host with a dot or a
    port, ``localhost``, or one with an upper-case letter (anything else reads as a Docker
    Hub namespace)."""
    host = name.split("/", 1)[0]
    return bool(_DOMAIN.match(host)) and _is_domain(host)


def parse_reference(
    value: str, *, what: str = "image name", allow_digest: bool = True, allow_id: bool = False
) -> Reference:
    """Parse and validate an image name the user gave, as the engine will; the error says
    which part is wrong and how to fix it. ``allow_id``: an image ID (64 hex digits, or
    ``sha256:`` and them) is fine too (running or tagging an image, not naming one)."""
    text = value.strip()
    if not text:
        raise BadArgument(f"Empty {what}", "Give a name such as myapp:1.0")
    if allow_id and (IDENTIFIER.match(text) or text.startswith("sha256:")):
        try:
            return parse_any(text)
        except ReferenceError:
            pass
    if "@" in text and not allow_digest:
        raise BadArgument(
            f"Invalid {what} {value!r}: a digest (@...) cannot be used here", "Give NAME[:TAG]"
        )
    try:
        parse_normalized(text)
    except ReferenceError as exc:
        reason, hint = _explain(text, exc)
        raise BadArgument(f"Invalid {what} {value!r}: {reason}", hint) from None
    return _as_written(text)


def _as_written(text: str) -> Reference:
    """The parts of a name the engine accepts, as written (no registry: Docker Hub's)."""
    m = REFERENCE.match(text)
    if m is None:  # cannot happen for a name parse_normalized accepts; keep its reading
        return familiar_reference(parse_normalized(text))
    first, slash, rest = m.group(1).partition("/")
    if slash and _is_domain(first):
        return Reference(first, rest, m.group(2), m.group(3))
    return Reference(None, m.group(1), m.group(2), m.group(3))


def _is_domain(first: str) -> bool:
    """splitDockerDomain's rule for the first part of a name."""
    return first == "localhost" or any(c in first for c in ".:") or first.lower() != first


_DIGEST_HINT = "A digest looks like sha256:<64 hex digits>"
_TAG_HINT = (
    "A tag has up to 128 letters, digits, '_', '.' or '-' and does not start with '.' or '-'"
)


def _explain(text: str, exc: ReferenceError) -> tuple[str, str]:
    """Which part of ``text`` the engine's grammar refuses, and what to do, in words."""
    said = {
        "digest.ErrDigestInvalidLength": ("the digest has the wrong length", _DIGEST_HINT),
        "digest.ErrDigestUnsupported": ("unknown digest algorithm", _DIGEST_HINT),
        "digest.ErrDigestInvalidFormat": ("malformed digest", _DIGEST_HINT),
        "ErrIdentifier": (
            "64 hexadecimal digits are an image ID, not a name",
            "Give a name such as myapp:1.0",
        ),
    }.get(exc.code)
    if said:
        return said
    name, at, digest = text.partition("@")
    if at and not re.fullmatch(DIGEST, digest, re.ASCII):
        return "malformed digest", _DIGEST_HINT
    domain, remainder = split_docker_domain(name)
    repository, colon, tag = remainder.partition(":")
    if colon and not _TAG.match(tag):
        return f"bad tag {tag!r}", _TAG_HINT
    if domain != DOCKER_HUB and not _DOMAIN.match(domain):
        return f"bad registry host {domain!r}", "Use HOST[:PORT]/NAME, e.g. 127.0.0.1:5000/myapp"
    for component in repository.split("/"):
        if not _PATH_PART.match(component):
            return f"{component!r} is not allowed", (
                "Repository names must be lowercase"
                if component.lower() != component
                else "Use lowercase letters, digits and separators (. _ __ -) between them"
            )
    if len(repository) > NAME_MAX:
        return f"the name is longer than {NAME_MAX} characters", "Use a shorter name"
    return str(exc), "Give a name such as myapp:1.0"


def older_grammar_refuses(name: str) -> str | None:
    """Why the grammar of older engines (Docker 20.10, checked against a real one) refuses
    a ``name`` the current one accepts, or None. It took a first part for a registry only
    with a '.' or ':' in it or as ``localhost``, had no IPv6 addresses, and counted the
    registry in the 255-character limit."""
    try:
        parse_normalized(name)
    except ReferenceError:
        return None  # refused by every engine: the usual error says why
    first, slash, _ = name.partition("/")
    if slash and first.startswith("["):
        return "older engines take no IPv6 address for a registry"
    if slash and first.lower() != first and not any(c in first for c in ".:"):
        if first != "localhost":
            return (
                f"older engines read {first!r} as a Docker Hub namespace, which must be "
                "lowercase, not as a registry"
            )
    m = REFERENCE.match(name)
    if m is not None and len(m.group(1)) > NAME_MAX:
        return f"older engines count the registry in the {NAME_MAX}-character limit of a name"
    return None


_REFERENCE_ERRORS = ("invalid reference format", "must be lowercase", "must not be more than")


def older_engine_refusal(message: str, names: list[str], version: str) -> str | None:
    """One line for an engine's refusal of an image name (``message``) when one of
    ``names`` is a name it refuses only because it is older (:func:`older_grammar_refuses`).
    None otherwise: the engine's own message is then the explanation."""
    if not any(error in message for error in _REFERENCE_ERRORS):
        return None
    for name in names:
        why = older_grammar_refuses(name)
        if why is not None:
            return (
                f"The engine (Docker {version}) refused the name {name!r} "
                f"({' '.join(message.split())}): {why}. Use a name it accepts, or a current "
                "engine (Docker 26 accepts it)"
            )
    return None
