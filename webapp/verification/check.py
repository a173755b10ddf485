"""Checking every signature and document timestamp of a PDF with pyHanko's validation.

Offline on purpose: a PDF from anywhere names OCSP and CRL addresses, and fetching them
would let an uploader make the server call addresses of their choosing. Revocation is
judged from what the PDF carries (its DSS), "soft-fail" when it carries nothing; the
certificates must chain to the roots the service trusts (seal, TSA, JPKI).

Levels (PAdES baseline), per signature: B-B signed; B-T with a signature timestamp or a
later document timestamp; B-LT when a later revision adds validation data (DSS); B-LTA
when a document timestamp covers that validation data.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext

from card.certificate import CertificateParseError, JpkiCertificate
from webapp.errors import DomainError
from webapp.i18n import text
from webapp.verification.models import PadesLevel, Problem, SignatureReport, SignerKind

log = logging.getLogger(__name__)
MAX_SIGNATURES = 64
"""More than this is not a contract from anyone sensible: refused, not ground through."""


class VerificationRefusedError(DomainError):
    """The file cannot be verified at all (not a PDF, too large, encrypted, too complex)."""

    status_code = 400


class VerificationTooLargeError(VerificationRefusedError):
    status_code = 413


@dataclass(frozen=True)
class TrustedRoots:
    """What the service trusts, by role: DER certificates."""

    all_roots: list[bytes]
    card_roots: list[bytes]
    platform_certs: list[bytes] = field(default_factory=list)
    """The seal certificate(s): a signature by one of them is the platform's."""


@dataclass
class _Revisions:
    dss_revisions: list[int]
    """Revisions (0-based) whose trailer's catalog has a /DSS."""


def read_pdf(data: bytes) -> PdfFileReader:
    """The PDF, or `VerificationRefusedError` saying why it cannot be read."""
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise VerificationRefusedError("verify_not_pdf")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        encrypted = reader.encrypted
        signatures = reader.embedded_signatures
    except RecursionError:
        raise VerificationRefusedError("verify_too_complex") from None
    except Exception as exc:
        log.info("verification: unreadable PDF (%s)", type(exc).__name__)
        raise VerificationRefusedError("verify_not_pdf") from None
    if encrypted:
        raise VerificationRefusedError("verify_encrypted")
    if len(signatures) > MAX_SIGNATURES:
        raise VerificationRefusedError("verify_too_complex")
    return reader


def _dss_revisions(reader: PdfFileReader) -> list[int]:
    found = []
    for revision in range(reader.xrefs.total_revisions):
        try:
            if "/DSS" in reader.get_historical_root(revision):
                found.append(revision)
        except Exception:  # noqa: S112 - a damaged old revision has no DSS to speak of
            continue
    return found


def _context(reader: PdfFileReader, roots: TrustedRoots) -> ValidationContext:
    anchors = [asn1_x509.Certificate.load(der) for der in roots.all_roots]
    settings: dict[str, Any] = {
        "trust_roots": anchors, "allow_fetching": False, "revocation_mode": "soft-fail",
    }  # fmt: skip
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:
        return ValidationContext(**settings)
    try:
        return dss.as_validation_context(settings)
    except Exception:
        return ValidationContext(**settings)


def _name(cert: asn1_x509.Certificate | None, card: bool) -> str | None:
    """The signer's name: a card's holder name only (the address and birth date stay out)."""
    if cert is None:
        return None
    if card:
        try:
            name = JpkiCertificate.from_der(cert.dump()).name
        except CertificateParseError:
            name = None
        if name:
            return name
    common = cert.subject.native.get("common_name")
    organisation = cert.subject.native.get("organization_name")
    return str(common or organisation or cert.subject.human_friendly)


def _signer_kind(
    cert: asn1_x509.Certificate | None, path_root: bytes | None, roots: TrustedRoots
) -> SignerKind:
    if cert is None:
        return "other"
    if cert.dump() in roots.platform_certs:
        return "platform"
    if path_root is not None and path_root in roots.card_roots:
        return "card"
    if path_root is None and any(
        asn1_x509.Certificate.load(der).subject == cert.issuer for der in roots.card_roots
    ):
        return "card"
    return "other"


def _utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _root_of(status: Any) -> bytes | None:
    path = getattr(status, "validation_path", None)
    if path is None:
        return None
    try:
        anchor = path.trust_anchor.to_certificate()  # pyHanko's certvalidator path
    except Exception:
        try:
            anchor = path.first
        except Exception:
            return None
    dump: bytes = anchor.dump()
    return dump


def _problem(code: str) -> Problem:
    key = f"verify_problem_{code}"
    return Problem(code=code, message_ja=text("ja", key), message_en=text("en", key))  # type: ignore[arg-type]


def _problems(status: Any) -> list[Problem]:
    codes = []
    if not status.intact:
        codes.append("modified")
    elif not status.valid:
        codes.append("invalid")
    if not status.trusted:
        codes.append("untrusted")
    if getattr(status, "revoked", False):
        codes.append("revoked")
    return [_problem(code) for code in codes]


def _one(
    signature: EmbeddedPdfSignature, context: ValidationContext, roots: TrustedRoots
) -> tuple[SignatureReport, bool]:
    """The report of one signature, and whether it is a valid document timestamp."""
    is_timestamp = signature.sig_object_type == "/DocTimeStamp"
    kind_name: Literal["signature", "document_timestamp"] = (
        "document_timestamp" if is_timestamp else "signature"
    )
    field_name = signature.field_name or ""
    try:
        cert = signature.signer_cert
    except Exception:
        cert = None
    try:
        if is_timestamp:
            ts_status = validate_pdf_timestamp(signature, validation_context=context)
            status: Any = ts_status
            signed_at, source = ts_status.timestamp, "timestamp"
        else:
            status = validate_pdf_signature(
                signature, signer_validation_context=context, ts_validation_context=context
            )
            ts = status.timestamp_validity
            if ts is not None:
                signed_at, source = ts.timestamp, "timestamp"
            else:
                signed_at, source = status.signer_reported_dt, "claimed"
    except Exception as exc:
        log.info("verification: signature %s failed: %s", signature.field_name, type(exc).__name__)
        report = SignatureReport(
            field_name=field_name, kind=kind_name,
            signer_kind="tsa" if is_timestamp else _signer_kind(cert, None, roots),
            signer=_name(cert, False), certificate_serial=_serial(cert),
            certificate_issuer=_issuer(cert), signed_at=None, time_source=None, intact=False,
            trusted=False, covers_whole_file=False, level=None,
            problems=[_problem("malformed")],
        )  # fmt: skip
        return report, False
    kind: SignerKind = "tsa" if is_timestamp else _signer_kind(cert, _root_of(status), roots)
    intact = bool(status.intact and status.valid)
    report = SignatureReport(
        field_name=field_name, kind=kind_name, signer_kind=kind, signer=_name(cert, kind == "card"),
        certificate_serial=_serial(cert), certificate_issuer=_issuer(cert),
        signed_at=_utc(signed_at), time_source=source if signed_at else None,  # type: ignore[arg-type]
        intact=intact, trusted=bool(status.trusted),
        covers_whole_file=str(getattr(status.coverage, "name", "")) == "ENTIRE_FILE",
        level="B-T" if (not is_timestamp and source == "timestamp") else None,
        problems=_problems(status),
    )  # fmt: skip
    return report, is_timestamp and intact and bool(status.trusted)


def _serial(cert: asn1_x509.Certificate | None) -> str | None:
    return format(cert.serial_number, "x") if cert is not None else None


def _issuer(cert: asn1_x509.Certificate | None) -> str | None:
    return cert.issuer.human_friendly if cert is not None else None


def verify_signatures(reader: PdfFileReader, roots: TrustedRoots) -> list[SignatureReport]:
    """Every signature and document timestamp, oldest first, with its PAdES level."""
    context = _context(reader, roots)
    dss_revisions = _dss_revisions(reader)
    signatures = sorted(reader.embedded_signatures, key=lambda s: s.signed_revision)
    results = [(_one(s, context, roots), s.signed_revision) for s in signatures]
    good_timestamps = [rev for (_report, good), rev in results if good]
    reports = []
    for (report, _good), revision in results:
        if report.kind == "signature" and report.intact:
            report.level = _level(report, revision, dss_revisions, good_timestamps)
        reports.append(report)
    return reports


def _level(
    report: SignatureReport, revision: int, dss_revisions: list[int], timestamps: list[int]
) -> PadesLevel:
    later_timestamp = any(ts > revision for ts in timestamps)
    if report.time_source != "timestamp" and not later_timestamp:
        return "B-B"
    dss_after = [d for d in dss_revisions if d > revision]
    if not dss_after:
        return "B-T"
    if any(ts >= min(dss_after) for ts in timestamps):
        return "B-LTA"
    return "B-LT"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
