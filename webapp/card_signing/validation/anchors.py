"""Which roots card signatures must chain to, and which revocation checker the settings name.

Trust anchors:

- production: the real JPKI signing roots shipped in `card.trust` (checked against their
  published fingerprints), plus any configured PEM files;
- development and tests: the configured PEM files plus the development PKI's signing
  root, never the real roots, so a real card cannot sign on a development service.

Each PEM file may hold several certificates. Duplicates are dropped, order is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from card.trust import jpki_signing_roots
from webapp.card_signing.validation.crl import CrlFileRevocationChecker
from webapp.card_signing.validation.ocsp import OcspRevocationChecker
from webapp.card_signing.validation.revocation import NoRevocationChecker, RevocationChecker


def card_trust_anchors(
    configured_pem_files: Sequence[Path],
    *,
    production: bool,
    development_root_der: bytes | None,
) -> list[bytes]:
    """The DER trust anchors for card signatures (see the module docstring for which)."""
    anchors: list[bytes] = list(jpki_signing_roots().values()) if production else []
    for path in configured_pem_files:
        anchors.extend(_pem_certificates(Path(path)))
    if not production and development_root_der is not None:
        x509.load_der_x509_certificate(development_root_der)  # fail now, not at first use
        anchors.append(development_root_der)
    return list(dict.fromkeys(anchors))


def _pem_certificates(path: Path) -> list[bytes]:
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"card trust anchor file {path} is not PEM certificates: {exc}") from exc
    return [certificate.public_bytes(Encoding.DER) for certificate in certificates]


def revocation_checker_for(
    method: str, value: str | None, *, development_ocsp_url: str | None
) -> RevocationChecker:
    """The checker for `Settings.revocation_method` and `Settings.revocation`.

    "ocsp": `value` is the responder URL; "crl": `value` is the CRL file; "none": the
    explicit opt-out; "development": the development PKI's responder at
    `development_ocsp_url` (its full URL, e.g. `f"{dev_pki_url}/ocsp"`).
    """
    if method == "ocsp":
        return OcspRevocationChecker(_required(method, value))
    if method == "crl":
        return CrlFileRevocationChecker(Path(_required(method, value)))
    if method == "none":
        return NoRevocationChecker()
    if method == "development":
        if development_ocsp_url is None:
            raise ValueError("revocation method 'development' needs the development PKI's OCSP URL")
        return OcspRevocationChecker(development_ocsp_url)
    raise ValueError(f"unknown revocation method {method!r}")


def _required(method: str, value: str | None) -> str:
    if not value:
        raise ValueError(f"revocation method {method!r} needs a value")
    return value
