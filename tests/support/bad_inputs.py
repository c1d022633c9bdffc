"""Bad inputs across all magics (at least 40: tests/unit/test_bad_inputs.py counts them),
each of which must end in exactly one clear line and change nothing
(tests/engine/test_bad_inputs.py runs them on an engine). ``{B}`` stands for a busybox
image the engine has."""

from __future__ import annotations

GARBAGE = "\x00\x01\x02\xff\xfe binary \x7f\x1b[31m"


HUGE = "X" * 200_000


BAD = [
    # %docker_connect
    "%docker_connect --bogus",
    "%docker_connect --timeout",
    "%docker_connect --timeout -3",
    "%docker_connect --timeout nan",
    "%docker_connect --timeout inf",
    "%docker_connect --api-version one",
    "%docker_connect gopher://x",
    "%docker_connect tcp://h:99999",
    "%docker_connect ünïcödé-alias-that-does-not-exist",
    f"%docker_connect {HUGE}",
    "%docker_connect --tlscacert /nonexistent/ca.pem tcp://127.0.0.1:1",
    "%docker_connect --header 'no equals sign'",
    "%docker_connect --close nothing-open",
    "%docker_connect --context nope",
    "%docker_info not-a-connection",
    # %%docker_build
    f"%%docker_build\n{GARBAGE}\n",
    f"%%docker_build\nFROM busybox\n{HUGE} arguments\n",
    "%%docker_build\nFRM busybox\n",
    "%%docker_build\nRUN before from\n",
    "%%docker_build -t 'UPPER/Case'\nFROM busybox\n",  # UPPER is a registry; Case is bad
    "%%docker_build -t 'ünïcode:tag'\nFROM busybox\n",
    "%%docker_build -t bad:tag:twice\nFROM busybox\n",
    "%%docker_build --build-arg '=novalue'\nFROM busybox\n",
    "%%docker_build --label ' '\nFROM busybox\n",
    "%%docker_build --add /no/such/file\nFROM busybox\n",
    "%%docker_build --context /no/such/dir\nFROM busybox\n",
    "%%docker_build --file /no/such/Dockerfile\n",
    "%docker_build --file /proc/self/mem",  # a file that cannot be read
    "%%docker_build --progress loud\nFROM busybox\n",
    "%%docker_build --builder magic\nFROM busybox\n",
    "%%docker_build --secret-build-arg DM_SURELY_UNSET_VAR\nFROM busybox\n",
    "%%docker_build --rm=sometimes\nFROM busybox\n",
    "%%docker_build 'unclosed\nFROM busybox\n",
    # %docker_run and friends
    "%docker_run",
    "%docker_run -p notaport {B} true",
    "%docker_run -v relative-without-colon {B} true",
    "%docker_run -e '=x' {B} true",
    "%docker_run --env-file /no/such.env {B} true",
    "%docker_run 'Bad Image Name' true",
    "%docker_run -d --get /x {B} true",
    "%%docker_run {B}\n\n",
    "%%docker_run {B} --add /no/such/file\necho hi\n",
    "%docker_logs no-such-container",
    "%docker_stop no-such-container",
    "%docker_rm no-such-container",
    "%docker_rmi no-such-image:1",
    "%docker_images --filter nonsense",
    "%docker_ps --filter nonsense",
    # registries
    "%docker_push",
    "%docker_push 'not a name'",
    "%docker_push {B} --all-tags",
    "%docker_pull ''",
    "%docker_pull 'x@sha256:short'",
    "%docker_tag only-one-argument",
    "%docker_tag no-such-image:1 target:1",
    "%docker_login 127.0.0.1:1 -u someone --password-env DM_SURELY_UNSET_VAR",
    "%docker_login 127.0.0.1:1 -p typed-secret",
    "%docker_login -u someone typed-secret",
    "%docker_logout --bogus",
]
