"""HTTPS: trentd serves TLS (rustls) with a self-signed certificate for development, boto3
verifies it against that certificate, and a new certificate is picked up on SIGHUP."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import ssl
import time

import botocore.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import make_service_client

pytestmark = pytest.mark.slow


def kms_client(base_url, verify):
    return make_service_client("kms", base_url, verify=verify)


def served_cert_der(base_url) -> bytes:
    host, port = base_url.removeprefix("https://").rsplit(":", 1)
    pem = ssl.get_server_certificate((host, int(port)))
    return ssl.PEM_cert_to_DER_cert(pem)


def test_boto3_over_https_with_the_self_signed_certificate(trent_factory):
    srv = trent_factory({"TRENT_TLS_SELF_SIGNED": "true"})
    assert srv.base_url.startswith("https://127.0.0.1:")
    cert = srv.data_dir / "tls" / "cert.pem"
    kms = kms_client(srv.base_url, str(cert))
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"over tls")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over tls"
    with pytest.raises(botocore.exceptions.SSLError):
        kms_client(srv.base_url, True).list_keys()
    assert oct(os.stat(srv.data_dir / "tls" / "key.pem").st_mode & 0o777) == "0o600"


def new_self_signed(cert_path, key_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reloaded")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert.public_bytes(serialization.Encoding.DER)


def test_a_new_certificate_is_served_after_sighup(trent_factory):
    srv = trent_factory({"TRENT_TLS_SELF_SIGNED": "true"})
    before = served_cert_der(srv.base_url)
    tls = srv.data_dir / "tls"
    new_der = new_self_signed(tls / "cert.pem", tls / "key.pem")
    assert new_der != before
    os.kill(srv.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while served_cert_der(srv.base_url) != new_der:
        assert time.monotonic() < deadline, "the new certificate was not served"
        time.sleep(0.1)
    kms = kms_client(srv.base_url, str(tls / "cert.pem"))
    assert "Keys" in kms.list_keys()
