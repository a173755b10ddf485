"""A CRL file checked once and indexed by serial, so that a card's status is a set lookup.

`CrlFile.read(data, issuers)` parses the file's CRLs with `cryptography` (Rust: about a
microsecond per entry), keeps, per CRL, the set of its revoked serials, and verifies each
CRL's signature against the `issuers` whose name it bears (the validator's anchors). A CRL
of another issuer (a CA certificate that a CMS carried) is verified the first time a path
needs it, and remembered. What stays for a validation (`CrlFile.status`) is picking the
newest verified complete CRL of the signer's issuer, judging its dates, and one set lookup;
only a listed certificate has its entry read again (date, reason, extensions).

A CRL applies to a certificate only as RFC 5280 6.3.3 says for the cases JPKI has: same
issuer name, signature by the issuer's key (which may sign CRLs), no delta CRL, no partial
CRL (only some reasons, only CA or attribute certificates, indirect), no unrecognised
critical extension, a nextUpdate, and a distribution point in its issuingDistributionPoint
only if the certificate names it.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

from webapp.card_signing.validation.revocation import RevocationUnavailableError, ahead_of

NO_APPLICABLE_CRL = "an applicable CRL could not be found"
_HANDLED_CRL_EXTENSIONS = frozenset(
    {
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    }
)
_HANDLED_ENTRY_EXTENSIONS = frozenset(
    {CRLEntryExtensionOID.CRL_REASON, CRLEntryExtensionOID.INVALIDITY_DATE}
)
IssuerKey = tuple[bytes, bytes]
"""An issuer as (subject DER, subjectPublicKeyInfo DER)."""


class CertificateListedError(Exception):
    """The certificate is on its issuer's current CRL; the message gives date and reason."""


def issuer_key(certificate: x509.Certificate) -> IssuerKey:
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return certificate.subject.public_bytes(), spki


@dataclass(frozen=True)
class IndexedCrl:
    """One CRL of the file: its DER (the evidence), header, scope and revoked serials."""

    der: bytes
    crl: x509.CertificateRevocationList
    issuer_name: bytes
    this_update: datetime.datetime
    next_update: datetime.datetime | None
    unusable: str | None
    """Why this CRL never decides anything (a delta or partial CRL, …); None if it may."""
    scope_names: tuple[x509.GeneralName, ...] = ()
    """The issuingDistributionPoint's full name: the CRL covers certificates naming one."""
    revoked_serials: frozenset[int] = frozenset()

    def covers(self, certificate: x509.Certificate) -> bool:
        if not self.scope_names:
            return True
        try:
            points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
        except x509.ExtensionNotFound:
            return False
        named = {name for point in points.value for name in point.full_name or ()}
        return any(name in named for name in self.scope_names)

    def listed(self, serial: int) -> x509.RevokedCertificate | None:
        """The entry of `serial`, read again from the CRL only if the index lists it."""
        if serial not in self.revoked_serials:
            return None
        return self.crl.get_revoked_certificate_by_serial_number(serial)


def _index(der: bytes) -> IndexedCrl:
    try:
        asn1_crl.CertificateList.load(der, strict=True)["tbs_cert_list"]["this_update"].native  # noqa: B018 - pyhanko-certvalidator reads it too
        loaded = x509.load_der_x509_crl(der)
        this_update = loaded.last_update_utc
        next_update = loaded.next_update_utc
        extensions = loaded.extensions
    except (ValueError, TypeError, KeyError) as exc:
        raise RevocationUnavailableError(f"the CRL file is not a CRL: {exc}") from exc
    header = IndexedCrl(der, loaded, loaded.issuer.public_bytes(), this_update, next_update, None)
    unusable, scope = _scope_problem(extensions)
    if unusable is None and next_update is None:
        unusable = "a CRL without nextUpdate"
    if unusable is not None:
        return dataclasses.replace(header, unusable=unusable)
    serials = frozenset(entry.serial_number for entry in loaded)
    return dataclasses.replace(header, scope_names=scope, revoked_serials=serials)


def _scope_problem(extensions: x509.Extensions) -> tuple[str | None, tuple[x509.GeneralName, ...]]:
    """Why a CRL with these extensions is not a complete CRL of its issuer, and its scope."""
    for extension in extensions:
        if extension.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            return "a delta CRL (not a complete CRL)", ()
        if extension.critical and extension.oid not in _HANDLED_CRL_EXTENSIONS:
            return (
                f"a CRL with the unrecognised critical extension {extension.oid.dotted_string}",
                (),
            )
    try:
        point = extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None, ()
    if point.indirect_crl or point.only_some_reasons or point.relative_name is not None:
        return "a partial or indirect CRL", ()
    if point.only_contains_ca_certs or point.only_contains_attribute_certs:
        return "a CRL of CA or attribute certificates only", ()
    return None, tuple(point.full_name or ())


@dataclass
class CrlFile:
    """The CRLs of one version of the file, with signatures verified per issuer (cached)."""

    crls: tuple[IndexedCrl, ...]
    _verified: dict[IssuerKey, tuple[tuple[IndexedCrl, ...], tuple[str, ...]]] = field(
        default_factory=dict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def read(cls, data: bytes, issuers: Sequence[x509.Certificate] = ()) -> CrlFile:
        """Parse PEM (several CRLs) or DER (one), index them, verify them for `issuers`."""
        try:
            if pem.detect(data):
                ders = [d for kind, _, d in pem.unarmor(data, multiple=True) if kind == "X509 CRL"]
            else:
                ders = [data]
        except (ValueError, TypeError) as exc:
            raise RevocationUnavailableError(f"the CRL file is not a CRL: {exc}") from exc
        if not ders:
            raise RevocationUnavailableError("the CRL file holds no CRL")
        loaded = cls(tuple(_index(der) for der in ders))
        for issuer in issuers:
            loaded.verified_for(issuer)
        return loaded

    @property
    def entries(self) -> int:
        return sum(len(crl.revoked_serials) for crl in self.crls)

    def current_at(self, at: datetime.datetime) -> bool:
        """Whether some verified CRL may still be used at `at` (serving it while reloading)."""
        with self._lock:
            verified = [crl for crls, _ in self._verified.values() for crl in crls]
        return any(_dates_problem(crl, at) is None for crl in verified)

    def verified_for(
        self, issuer: x509.Certificate
    ) -> tuple[tuple[IndexedCrl, ...], tuple[str, ...]]:
        """The usable CRLs that `issuer` signed, and why the others bearing its name are not."""
        key = issuer_key(issuer)
        with self._lock:
            known = self._verified.get(key)
        if known is not None:
            return known
        usable: list[IndexedCrl] = []
        refused: list[str] = []
        for candidate in self.crls:
            if candidate.issuer_name != key[0]:
                continue
            problem = candidate.unusable or _signature_problem(candidate, issuer)
            if problem is None:
                usable.append(candidate)
            else:
                refused.append(problem)
        result = (tuple(usable), tuple(dict.fromkeys(refused)))
        with self._lock:
            self._verified[key] = result
        return result

    def status(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime.datetime
    ) -> IndexedCrl:
        """The CRL saying `certificate` is not revoked at `at`.

        `CertificateListedError` if it is listed, `RevocationUnavailableError` if no
        verified, complete, current CRL of `issuer` covers it.
        """
        usable, refused = self.verified_for(issuer)
        covering = [crl for crl in usable if crl.covers(certificate)]
        if not covering:
            why = "; ".join(refused) or "none of its CRLs is in the file or covers the certificate"
            name = issuer.subject.rfc4514_string()
            raise RevocationUnavailableError(f"{NO_APPLICABLE_CRL} for {name}: {why}")
        dated = [crl for crl in covering if not ahead_of(crl.this_update, at)]
        if not dated:
            raise RevocationUnavailableError("the CRL's thisUpdate is in the future")
        newest = max(dated, key=lambda crl: crl.this_update)
        problem = _dates_problem(newest, at)
        if problem is not None:
            raise RevocationUnavailableError(problem)
        entry = newest.listed(certificate.serial_number)
        if entry is not None:
            _refuse_listed(entry)
        return newest


def _signature_problem(candidate: IndexedCrl, issuer: x509.Certificate) -> str | None:
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.crl_sign:
            return "the issuer's certificate may not sign CRLs"
    except x509.ExtensionNotFound:
        pass
    try:
        valid = candidate.crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (UnsupportedAlgorithm, TypeError, ValueError):
        valid = False
    return None if valid else "the CRL signature could not be verified with the issuer's key"


def _dates_problem(crl: IndexedCrl, at: datetime.datetime) -> str | None:
    if ahead_of(crl.this_update, at):
        return "the CRL's thisUpdate is in the future"
    if crl.next_update is None or crl.next_update < at:
        return f"the CRL is not recent enough: its nextUpdate {crl.next_update} has passed"
    return None


def _refuse_listed(entry: x509.RevokedCertificate) -> None:
    """`CertificateListedError` for a CRL entry (pyhanko-certvalidator's rules for entries)."""
    reason: x509.ReasonFlags | None = None
    for extension in entry.extensions:
        if extension.critical and extension.oid not in _HANDLED_ENTRY_EXTENSIONS:
            raise RevocationUnavailableError(
                "the certificate's CRL entry has an unrecognised critical extension"
            )
        if isinstance(extension.value, x509.CRLReason):
            reason = extension.value.reason
    if reason == x509.ReasonFlags.remove_from_crl:
        return  # not revoked (RFC 5280 6.3.3 k)
    reason_text = reason.value if reason is not None else "unspecified"
    revoked_at = entry.revocation_date_utc.isoformat()
    raise CertificateListedError(f"revoked on {revoked_at}, reason {reason_text}")
