"""The development seal: its own root, a seal certificate fit for signing, made once."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webapp.pdf import (
    SealKeyError,
    create_development_seal,
    development_seal_crl,
    seal_signer_from_files,
)
from webapp.pdf.dev_certs import CRL_VALIDITY, DOCUMENT_SIGNING_EKU, build_crl, crl_url_of


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_files_and_permissions(tmp_path: Path) -> None:
    files = create_development_seal(tmp_path / "seal")
    assert stat.S_IMODE((tmp_path / "seal").stat().st_mode) == 0o700
    for key in (files.seal_key, files.root_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not [p for p in (tmp_path / "seal").iterdir() if p.name.endswith(".tmp")]


def test_certificates_say_development_and_fit_signing(tmp_path: Path) -> None:
    files = create_development_seal(tmp_path / "seal")
    root, seal = load(files.root_cert), load(files.seal_cert)
    for cert in (root, seal):
        (name,) = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        assert "DEVELOPMENT" in str(name.value)
    seal.verify_directly_issued_by(root)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = seal.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    eku = seal.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [DOCUMENT_SIGNING_EKU]
    assert ExtendedKeyUsageOID.SERVER_AUTH not in eku
    assert not seal.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_second_call_reuses_everything(tmp_path: Path) -> None:
    first = create_development_seal(tmp_path / "seal")
    before = {p: p.read_bytes() for p in (first.root_cert, first.root_key, first.seal_cert)}
    second = create_development_seal(tmp_path / "seal")
    assert second == first
    assert {p: p.read_bytes() for p in before} == before


def test_lost_seal_is_issued_again_under_the_same_root(tmp_path: Path) -> None:
    files = create_development_seal(tmp_path / "seal")
    root, old_seal = files.root_cert.read_bytes(), load(files.seal_cert)
    files.seal_key.unlink()
    create_development_seal(tmp_path / "seal")
    assert files.root_cert.read_bytes() == root
    new_seal = load(files.seal_cert)
    assert new_seal.serial_number != old_seal.serial_number
    new_seal.verify_directly_issued_by(load(files.root_cert))
    seal_signer_from_files(files.seal_key, files.seal_cert, [files.root_cert]).close()


def test_seal_from_another_root_is_replaced(tmp_path: Path) -> None:
    mine = create_development_seal(tmp_path / "mine")
    other = create_development_seal(tmp_path / "other")
    mine.seal_cert.write_bytes(other.seal_cert.read_bytes())
    mine.seal_key.write_bytes(other.seal_key.read_bytes())
    create_development_seal(tmp_path / "mine")
    load(mine.seal_cert).verify_directly_issued_by(load(mine.root_cert))


def test_key_files_must_match(tmp_path: Path) -> None:
    mine = create_development_seal(tmp_path / "mine")
    other = create_development_seal(tmp_path / "other")
    with pytest.raises(SealKeyError, match="not the key"):
        seal_signer_from_files(other.seal_key, mine.seal_cert)
    with pytest.raises(SealKeyError, match="cannot load"):
        seal_signer_from_files(tmp_path / "missing.key", mine.seal_cert)
    with pytest.raises(SealKeyError, match="cannot load"):
        seal_signer_from_files(mine.seal_key, mine.seal_key)  # a key is not a certificate


def test_crl_url_goes_into_the_seal_and_a_new_url_means_a_new_seal(tmp_path: Path) -> None:
    first = create_development_seal(tmp_path / "seal", crl_url="http://127.0.0.1:1/a.crl")
    assert crl_url_of(load(first.seal_cert)) == "http://127.0.0.1:1/a.crl"
    serial = load(first.seal_cert).serial_number
    create_development_seal(tmp_path / "seal", crl_url="http://127.0.0.1:1/a.crl")
    assert load(first.seal_cert).serial_number == serial
    create_development_seal(tmp_path / "seal", crl_url="http://127.0.0.1:2/b.crl")
    assert crl_url_of(load(first.seal_cert)) == "http://127.0.0.1:2/b.crl"
    assert load(first.seal_cert).serial_number != serial


def test_crl_is_signed_by_the_root_and_renewed_before_it_runs_out(tmp_path: Path) -> None:
    files = create_development_seal(tmp_path / "seal")
    der = development_seal_crl(tmp_path / "seal")
    crl = x509.load_der_x509_crl(der)
    root = load(files.root_cert)
    assert crl.issuer == root.subject
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    assert len(crl) == 0
    assert development_seal_crl(tmp_path / "seal") == der  # still fresh: the same CRL

    key = serialization.load_pem_private_key(files.root_key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    old = datetime.datetime.now(datetime.UTC) - CRL_VALIDITY + datetime.timedelta(hours=1)
    files.crl.write_bytes(build_crl((root, key), old, 41).public_bytes(serialization.Encoding.DER))
    renewed = x509.load_der_x509_crl(development_seal_crl(tmp_path / "seal"))
    assert renewed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    assert renewed.next_update_utc is not None
    assert renewed.next_update_utc > datetime.datetime.now(datetime.UTC) + CRL_VALIDITY / 2


def test_crl_needs_a_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        development_seal_crl(tmp_path)
