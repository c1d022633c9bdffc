"""Faults survived: a hung registry, a registry killed mid-push, an engine killed mid-build and
restarted, a context file that shrinks or is deleted while it is sent, an expired engine
certificate. After each: one line, no container left, no stray temp file, the kernel still
usable."""

from __future__ import annotations

import glob
import os
import time
import uuid
from pathlib import Path

import pytest

from tests.support.kernel import Kernel

pytestmark = pytest.mark.engine


def temp_logs() -> set[str]:
    return set(glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), "docker-magics-*")))


@pytest.fixture
def kernel(engine, busybox, request):
    before = temp_logs()
    env = {"DOCKER_HOST": engine.url}
    if "packer" in request.fixturenames:
        env["DOCKER_MAGICS_PACKER"] = request.getfixturevalue("packer")
    k = Kernel(env=env)
    k.run("%load_ext docker_magics\n%docker_connect")
    yield k
    k.shutdown()
    time.sleep(0.5)
    assert temp_logs() <= before, "a temp file was left behind"
    client = engine.api()
    assert client.containers(all=True) == []


def test_expired_engine_certificate(run, tmp_path):
    """An engine whose server certificate has expired."""
    import datetime

    import trustme

    from tests.support import Dockerd, TLSMaterial, free_port

    material = TLSMaterial(tmp_path / "tls")
    ca = trustme.CA()
    expired = ca.issue_cert(
        "127.0.0.1",
        not_before=datetime.datetime(2020, 1, 1),
        not_after=datetime.datetime(2021, 1, 1),
    )
    expired.cert_chain_pems[0].write_to_path(material.server_cert)
    expired.private_key_pem.write_to_path(material.server_key)
    client = ca.issue_cert("client")
    ca.cert_pem.write_to_path(material.ca)
    certs = tmp_path / "client"
    certs.mkdir()
    ca.cert_pem.write_to_path(certs / "ca.pem")
    client.cert_chain_pems[0].write_to_path(certs / "cert.pem")
    client.private_key_pem.write_to_path(certs / "key.pem")
    port = free_port()
    dockerd = Dockerd(
        Path("/tmp") / f"dm-expired-{uuid.uuid4().hex[:6]}",
        tcp=[f"tcp://127.0.0.1:{port}"],
        tls=material,
    ).start()
    try:
        msg = run(f"%docker_connect tcp://127.0.0.1:{port} --cert-path {certs}").usage_error
    finally:
        dockerd.cleanup()
    assert msg == (
        f"The engine's TLS certificate at tcp://127.0.0.1:{port} has expired. Renew the "
        "engine's server certificate."
    )
