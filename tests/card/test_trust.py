"""The shipped real JPKI roots: the published files, checked by fingerprint."""

from __future__ import annotations

import pytest
from cryptography import x509

from card import trust
from card.trust import TrustAnchorError, jpki_signing_roots

REAL_DN = (
    "OU=Japan Agency for Local Authority Information Systems,"
    "OU=JPKI for digital signature,O=JPKI,C=JP"
)


def test_three_generations_load_and_are_the_real_roots() -> None:
    roots = jpki_signing_roots()
    assert sorted(roots) == ["jpki-sign-ca-01", "jpki-sign-ca-02", "jpki-sign-ca-03"]
    for der in roots.values():
        certificate = x509.load_der_x509_certificate(der)
        assert certificate.subject.rfc4514_string() == REAL_DN
        assert certificate.issuer == certificate.subject
        certificate.verify_directly_issued_by(certificate)


def test_a_swapped_file_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    published = dict(trust.JPKI_SIGNING_ROOT_FINGERPRINTS)
    published["jpki-sign-ca-01"], published["jpki-sign-ca-02"] = (
        published["jpki-sign-ca-02"],
        published["jpki-sign-ca-01"],
    )
    monkeypatch.setattr(trust, "JPKI_SIGNING_ROOT_FINGERPRINTS", published)
    with pytest.raises(TrustAnchorError, match="jpki-sign-ca-01"):
        jpki_signing_roots()
