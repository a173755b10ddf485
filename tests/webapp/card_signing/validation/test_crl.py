"""Revocation by a CRL file: the test PKI's CRL, re-read when replaced; stale or foreign CRLs."""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from jpkisim.pki import IssuedCard, TestPki
from tests.webapp.card_signing.validation.conftest import (
    Authority,
    card_cms,
    make_authority,
    rejection,
    validate,
)
from webapp.card_signing.validation import CardSignatureValidator, CrlFileRevocationChecker

MakeValidator = Callable[..., CardSignatureValidator]
DAY = datetime.timedelta(days=1)
NO_CRL = "an applicable CRL could not be found"


def _crl(
    issuer: Authority,
    *,
    name: x509.Name | None = None,
    last_update: datetime.datetime | None = None,
    next_update: datetime.datetime | None = None,
    revoked: Sequence[int] = (),
    revoked_at: datetime.datetime | None = None,
    reason: x509.ReasonFlags | None = None,
    extensions: Sequence[x509.ExtensionType] = (),
) -> x509.CertificateRevocationList:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name or issuer.certificate.subject)
        .last_update(last_update or now)
        .next_update(next_update or now + DAY)
    )
    for serial in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial)
        entry = entry.revocation_date(revoked_at or now)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    for extension in extensions:
        builder = builder.add_extension(extension, critical=True)
    return builder.sign(issuer.key, hashes.SHA256())


def _write(path: Path, data: bytes, *, mtime_ns: int) -> Path:
    """Write `data` and set a modification time the test chooses (no waiting for the clock)."""
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def test_the_test_pki_crl_accepts_a_good_card(
    make_validator: MakeValidator, issued_card: IssuedCard, test_pki: TestPki, tmp_path: Path
) -> None:
    crl_der = test_pki.crl_der()
    path = _write(tmp_path / "sign.crl", crl_der, mtime_ns=1_000_000_000)
    accepted = validate(make_validator(CrlFileRevocationChecker(path)), card_cms(issued_card))
    assert (accepted.revocation_method, accepted.crl, accepted.ocsp_response) == (
        "crl",
        crl_der,
        None,
    )


def test_a_replaced_crl_is_read_again_and_a_revoked_card_refused(
    make_validator: MakeValidator, fresh_card: IssuedCard, test_pki: TestPki, tmp_path: Path
) -> None:
    crl_der = test_pki.crl_der()
    path = _write(tmp_path / "sign.crl", crl_der, mtime_ns=1_000_000_000)
    checker = CrlFileRevocationChecker(path)
    validator = make_validator(checker)
    signed = card_cms(fresh_card)
    assert validate(validator, signed).revocation_method == "crl"
    test_pki.revoke(TestPki.card_serial(fresh_card), "affiliationChanged")
    pem = test_pki.crl().public_bytes(Encoding.PEM)
    _write(path, pem, mtime_ns=2_000_000_000)
    # the new version is read meanwhile; the previous, verified and current, still answers
    assert validate(validator, signed).crl == crl_der
    assert checker.wait_until_read(timeout=60)
    refused = rejection(validator, signed)
    assert refused.code == "certificate_revoked"
    assert "reason affiliationChanged" in refused.detail


def test_a_broken_replacement_is_revocation_unknown_once_read(
    make_validator: MakeValidator, issued_card: IssuedCard, test_pki: TestPki, tmp_path: Path
) -> None:
    path = _write(tmp_path / "sign.crl", test_pki.crl_der(), mtime_ns=1_000_000_000)
    checker = CrlFileRevocationChecker(path)
    validator = make_validator(checker)
    signed = card_cms(issued_card)
    assert validate(validator, signed).revocation_method == "crl"
    _write(path, b"truncated", mtime_ns=2_000_000_000)
    validate(validator, signed)  # served by the previous version while the new one is read
    assert checker.wait_until_read(timeout=60)
    refused = rejection(validator, signed)
    assert (refused.code, "not a CRL" in refused.detail) == ("revocation_unknown", True)


def test_a_stale_previous_version_is_not_served_while_the_new_one_is_read(
    make_validator: MakeValidator, issued_card: IssuedCard, sign_root: Authority, tmp_path: Path
) -> None:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    stale = _crl(sign_root, last_update=now - 2 * DAY, next_update=now - DAY)
    path = _write(tmp_path / "sign.crl", stale.public_bytes(Encoding.DER), mtime_ns=1_000_000_000)
    validator = make_validator(CrlFileRevocationChecker(path))
    signed = card_cms(issued_card)
    assert rejection(validator, signed).code == "revocation_unknown"
    serial = sign_root.certificate.serial_number  # not the card's
    fresh = _crl(sign_root, revoked=[serial]).public_bytes(Encoding.DER)
    _write(path, fresh, mtime_ns=2_000_000_000)
    assert validate(validator, signed).crl == fresh  # waited for the new version


def test_a_pem_file_may_hold_several_crls_of_look_alike_roots(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    test_pki: TestPki,
    sign_root: Authority,
    tmp_path: Path,
) -> None:
    other_generation = make_authority("another generation")
    look_alike = _crl(other_generation, name=sign_root.certificate.subject)
    pem = look_alike.public_bytes(Encoding.PEM) + test_pki.crl().public_bytes(Encoding.PEM)
    path = _write(tmp_path / "crls.pem", pem, mtime_ns=1_000_000_000)
    accepted = validate(make_validator(CrlFileRevocationChecker(path)), card_cms(issued_card))
    assert accepted.crl == test_pki.crl_der()


def test_unusable_crls_are_revocation_unknown(
    make_validator: MakeValidator, issued_card: IssuedCard, sign_root: Authority, tmp_path: Path
) -> None:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    foreign = make_authority("foreign")
    cases: dict[str, tuple[bytes, str]] = {
        "stale": (
            _crl(sign_root, last_update=now - 2 * DAY, next_update=now - DAY).public_bytes(
                Encoding.DER
            ),
            "not recent enough",
        ),
        "from-the-future": (
            _crl(sign_root, last_update=now + datetime.timedelta(minutes=10)).public_bytes(
                Encoding.DER
            ),
            "in the future",
        ),
        "same-name-other-key": (
            _crl(foreign, name=sign_root.certificate.subject).public_bytes(Encoding.DER),
            "CRL signature could not be verified",
        ),
        "other-issuer": (_crl(foreign).public_bytes(Encoding.DER), NO_CRL),
        "delta": (
            _crl(sign_root, extensions=[x509.DeltaCRLIndicator(1)]).public_bytes(Encoding.DER),
            NO_CRL,  # a delta CRL is no complete CRL
        ),
        "garbage": (b"not a CRL", "not a CRL"),
        "empty-pem": (b"-----BEGIN NOTHING-----\n", "not a CRL"),
    }
    signed = card_cms(issued_card)
    for number, (case, (data, reason)) in enumerate(cases.items(), start=1):
        path = _write(tmp_path / f"{case}.crl", data, mtime_ns=number * 1_000_000_000)
        refused = rejection(make_validator(CrlFileRevocationChecker(path)), signed)
        assert (case, refused.code) == (case, "revocation_unknown")
        assert reason in refused.detail, (case, refused.detail)
    missing = CrlFileRevocationChecker(tmp_path / "absent.crl")
    refused = rejection(make_validator(missing), signed)
    assert (refused.code, "cannot be read" in refused.detail) == ("revocation_unknown", True)


def test_a_revoked_entry_in_a_crl_signed_by_the_root_is_found(
    make_validator: MakeValidator, issued_card: IssuedCard, sign_root: Authority, tmp_path: Path
) -> None:
    serial = issued_card.sign_cert.serial_number
    revoked_at = datetime.datetime(2024, 4, 1, 9, 30, tzinfo=datetime.UTC)
    crl = _crl(
        sign_root,
        revoked=[serial - 1, serial, serial + 1],
        revoked_at=revoked_at,
        reason=x509.ReasonFlags.key_compromise,
    ).public_bytes(Encoding.DER)
    path = _write(tmp_path / "revoked.crl", crl, mtime_ns=1_000_000_000)
    refused = rejection(make_validator(CrlFileRevocationChecker(path)), card_cms(issued_card))
    assert refused.code == "certificate_revoked"
    assert "revoked on 2024-04-01T09:30:00+00:00, reason keyCompromise" in refused.detail


def test_a_removed_from_crl_entry_is_not_a_revocation(
    make_validator: MakeValidator, issued_card: IssuedCard, sign_root: Authority, tmp_path: Path
) -> None:
    serial = issued_card.sign_cert.serial_number
    crl = _crl(sign_root, revoked=[serial], reason=x509.ReasonFlags.remove_from_crl)
    path = _write(tmp_path / "removed.crl", crl.public_bytes(Encoding.DER), mtime_ns=1_000_000_000)
    accepted = validate(make_validator(CrlFileRevocationChecker(path)), card_cms(issued_card))
    assert accepted.revocation_method == "crl"


def test_a_crl_scoped_to_another_distribution_point_does_not_apply(
    make_validator: MakeValidator, issued_card: IssuedCard, sign_root: Authority, tmp_path: Path
) -> None:
    elsewhere = x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier("http://crl.invalid/partition-2.crl")],
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    crl = _crl(sign_root, extensions=[elsewhere]).public_bytes(Encoding.DER)
    path = _write(tmp_path / "partition.crl", crl, mtime_ns=1_000_000_000)
    refused = rejection(make_validator(CrlFileRevocationChecker(path)), card_cms(issued_card))
    assert (refused.code, NO_CRL in refused.detail) == ("revocation_unknown", True)
