"""Pure: known secrets are masked in every text an event or an error carries."""

from __future__ import annotations

import os

from docker_magics.engine import events as ev
from docker_magics.errors import EngineError
from docker_magics.redaction import protect_value, redact_event


def test_every_text_of_an_event_is_masked():
    secret = "s3cr3t-" + os.urandom(6).hex()
    protect_value(secret)
    # Shown lines and the raw text differ: a secret only in the raw text is masked too.
    log = redact_event(ev.Log(["        "], None, "stdout", f"{secret}\r        \n"))
    assert secret not in log.raw and "******" in log.raw
    step = redact_event(ev.StepStarted("k", f"RUN echo {secret}"))
    assert secret not in step.name
    plain = ev.Log(["nothing to see"], None, "stdout", "nothing to see\n")
    assert redact_event(plain) is plain


def test_errors_never_show_a_known_secret():
    secret = "tok-" + os.urandom(6).hex()
    protect_value(secret)
    error = EngineError(f"POST /build?buildargs={{%22T%22:%22{secret}%22}} failed")
    assert secret not in str(error) and secret not in "".join(error._render_traceback_())
