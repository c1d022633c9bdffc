"""Faults survived in-process: an engine whose TLS certificate has expired is one line.
(tests/e2e/test_faults.py has the faults seen from a real kernel.)"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine


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
