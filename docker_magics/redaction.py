"""Secret masking: every secret the package learns (registry passwords, secret build
arguments, build secrets, credential headers) is remembered here, with its base64, JSON and
URL-encoded forms, and masked in every text it shows: event texts, error lines, log records.

Imports nothing from the package: everything else may use it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from typing import TypeVar

_SECRETS: set[str] = set()
_SORTED: list[str] = []
_LOCK = threading.Lock()


# Loggers that write request URLs or auth details at DEBUG level: a secret build argument
# travels in the /build URL's query string, which urllib3 logs.
_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "docker.api.build",
    "docker.api.client",
    "docker.api.image",
    "docker.auth",
    "docker.utils.config",
)


def _remember_secret(*values: str) -> None:
    from urllib.parse import quote, quote_plus

    # Shorter values would mask every occurrence of common words and letters.
    found = {v for v in values if v and len(v) >= 4}
    # Inside JSON (build args travel as JSON in the /build URL), then as URLs encode them.
    found |= {json.dumps(v, ensure_ascii=a)[1:-1] for v in found for a in (True, False)}
    found |= {f(v) for v in found for f in (quote, quote_plus)}
    with _LOCK:
        _SECRETS.update(found)
        _SORTED[:] = sorted(_SECRETS, key=len, reverse=True)  # longest first, for redact
    if found:
        _install_log_filter()


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = _RedactingFilter()


def _install_log_filter() -> None:
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def protect(username: str, password: str) -> None:
    """Keep ``password`` (and ``user:password`` and itself in base64) out of every output
    from now on."""
    _remember_secret(password, *_b64_forms(username, password), *_b64_forms(password))


def redact(text: str) -> str:
    """``text`` with every known secret (and its base64 forms) replaced by ``******``."""
    if not _SECRETS or not text:
        return text
    with _LOCK:
        secrets = list(_SORTED)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "******")
    return text


def longest() -> int:
    """The length of the longest known secret (in any of its forms); 0 when none is known.
    A text cut into pieces must keep this much minus one back to never split one."""
    with _LOCK:
        return len(_SORTED[0]) if _SORTED else 0


def _b64_forms(*parts: str) -> list[str]:
    raw = ":".join(parts).encode()
    return [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]


def protect_value(value: str) -> None:
    """Treat ``value`` (e.g. a secret build argument) as a secret from now on (and its base64
    forms)."""
    if value and len(value) >= 4:
        _remember_secret(value, *_b64_forms(value))


_Event = TypeVar("_Event")  # an engine event (a dataclass), whichever


def redact_event(event: _Event) -> _Event:
    """An event with known secrets masked in every text it carries: output lines, the raw
    output, step names (BuildKit writes ARG values into them), messages (the event itself
    when there are none)."""
    import dataclasses

    if not _SECRETS or not dataclasses.is_dataclass(event) or isinstance(event, type):
        return event
    changes: dict[str, str | list[str]] = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, str):
            masked = redact(value)
            if masked != value:
                changes[f.name] = masked
        elif isinstance(value, list) and value and isinstance(value[0], str):
            lines = [redact(v) for v in value]
            if lines != value:
                changes[f.name] = lines
    return dataclasses.replace(event, **changes) if changes else event
