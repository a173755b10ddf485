"""Revocation by a CRL file the operator keeps current (JPKI CRLs come by LDAP or a platform).

The file is PEM (one or more CRLs, e.g. one per root generation, which share one name)
or DER (one CRL). It is read again whenever its modification time changes, so the
operator replaces it atomically and the service picks it up without a restart. A CRL
counts for a certificate only when its issuer is the certificate's issuer by name and by
signature, it is current (lastUpdate at most `CLOCK_SKEW` ahead, nextUpdate to come), and
it is a complete CRL (no delta CRL, no partitioned or indirect scope).
"""

from __future__ import annotations

import asyncio
import datetime
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from webapp.card_validation.revocation import (
    CLOCK_SKEW,
    RevocationEvidence,
    RevocationUnavailableError,
)

_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)


@dataclass(frozen=True)
class _LoadedFile:
    stamp: tuple[int, int, int]
    crls: tuple[tuple[x509.CertificateRevocationList, bytes], ...]
    """Each CRL with its DER."""
    verified: dict[bytes, int] = field(default_factory=dict)
    """Issuer certificate (DER) -> index of the CRL it signed: a big CRL is verified once."""


class CrlFileRevocationChecker:
    """Looks certificates up in the CRL(s) of `crl_path`, re-read when the file changes."""

    def __init__(self, crl_path: Path) -> None:
        self.crl_path = Path(crl_path)
        self._loaded: _LoadedFile | None = None

    async def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime.datetime
    ) -> RevocationEvidence:
        return await asyncio.to_thread(self._check, certificate, issuer, at)

    def _check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime.datetime
    ) -> RevocationEvidence:
        crl, der = self._crl_of(issuer)
        next_update = crl.next_update_utc
        if next_update is None or next_update <= at:
            raise RevocationUnavailableError(
                "the CRL is stale (nextUpdate has passed or is absent)"
            )
        if crl.last_update_utc > at + CLOCK_SKEW:
            raise RevocationUnavailableError("the CRL's lastUpdate is in the future")
        entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
        if entry is None:
            return RevocationEvidence(method="crl", status="good", crl=der)
        return RevocationEvidence(
            method="crl", status="revoked", crl=der, revoked_at=entry.revocation_date_utc
        )

    def _crl_of(self, issuer: x509.Certificate) -> tuple[x509.CertificateRevocationList, bytes]:
        loaded = self._current_file()
        issuer_der = issuer.public_bytes(Encoding.DER)
        index = loaded.verified.get(issuer_der)
        if index is None:
            index = next(
                (
                    i
                    for i, (crl, _) in enumerate(loaded.crls)
                    if crl.issuer == issuer.subject and _is_signed_by(crl, issuer)
                ),
                None,
            )
        if index is not None:
            loaded.verified[issuer_der] = index
            crl, der = loaded.crls[index]
            _check_complete(crl)
            return crl, der
        raise RevocationUnavailableError("the CRL file holds no CRL signed by the issuer")

    def _current_file(self) -> _LoadedFile:
        try:
            status = self.crl_path.stat()
            stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
            loaded = self._loaded
            if loaded is not None and loaded.stamp == stamp:
                return loaded
            data = self.crl_path.read_bytes()
        except OSError as exc:
            raise RevocationUnavailableError(f"the CRL file cannot be read: {exc}") from exc
        loaded = _LoadedFile(stamp, _parse_crls(data))
        self._loaded = loaded
        return loaded


def _parse_crls(data: bytes) -> tuple[tuple[x509.CertificateRevocationList, bytes], ...]:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            crls = [x509.load_pem_x509_crl(block) for block in _PEM_CRL.findall(data)]
        else:
            return ((x509.load_der_x509_crl(data), data),)
    except ValueError as exc:
        raise RevocationUnavailableError(f"the CRL file is not a CRL: {exc}") from exc
    if not crls:
        raise RevocationUnavailableError("the CRL file holds no CRL")
    return tuple((crl, crl.public_bytes(Encoding.DER)) for crl in crls)


def _is_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return False


def _check_complete(crl: x509.CertificateRevocationList) -> None:
    try:
        extensions = crl.extensions
        delta = any(isinstance(ext.value, x509.DeltaCRLIndicator) for ext in extensions)
        scope = next(
            (e.value for e in extensions if isinstance(e.value, x509.IssuingDistributionPoint)),
            None,
        )
    except ValueError as exc:
        raise RevocationUnavailableError(f"the CRL's extensions are unreadable: {exc}") from exc
    if delta:
        raise RevocationUnavailableError("the CRL is a delta CRL, not a complete one")
    if scope is not None and (
        scope.only_some_reasons is not None
        or scope.indirect_crl
        or scope.only_contains_ca_certs
        or scope.only_contains_attribute_certs
    ):
        raise RevocationUnavailableError("the CRL covers only part of the issuer's certificates")
