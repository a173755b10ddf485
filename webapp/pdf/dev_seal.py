"""A development platform seal: its own root CA and a seal certificate, made once per data dir.

Nothing here is for production, and the certificates say so in their names. Production
seals come from an HSM through PKCS#11 (`webapp.pdf.seal_keys.seal_signer_from_pkcs11`).
Keys are EC P-256, written 0600 in a 0700 directory; a second call reuses what is there.
"""

from __future__ import annotations

import datetime
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
ROOT_VALIDITY = datetime.timedelta(days=10 * 365)
SEAL_VALIDITY = datetime.timedelta(days=3 * 365)
RENEW_BEFORE = datetime.timedelta(days=30)
_BACKDATE = datetime.timedelta(minutes=5)
_ORGANIZATION = "mynasign DEVELOPMENT - not for production"
_Root = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


@dataclass(frozen=True)
class DevelopmentSealFiles:
    """Where the development seal lives (PEM files)."""

    root_cert: Path
    root_key: Path
    seal_cert: Path
    seal_key: Path


def development_seal_files(directory: Path) -> DevelopmentSealFiles:
    """The file names `create_development_seal` uses in `directory`."""
    directory = Path(directory)
    return DevelopmentSealFiles(
        root_cert=directory / "seal-root.crt",
        root_key=directory / "seal-root.key",
        seal_cert=directory / "seal.crt",
        seal_key=directory / "seal.key",
    )


def create_development_seal(directory: Path) -> DevelopmentSealFiles:
    """Make (or reuse) the development seal root and seal certificate in `directory`.

    A present, matching and not nearly expired seal is reused; a missing or expiring seal
    certificate is issued again under the existing root; a missing root starts afresh.
    """
    files = development_seal_files(directory)
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(directory):
        now = datetime.datetime.now(datetime.UTC)
        root = _load_root(files)
        if root is None:
            root = _issue_root(files, now)
        elif _current_seal(files, root[0], now):
            return files
        _issue_seal(files, root, now)
    return files


def _load_root(
    files: DevelopmentSealFiles,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    if not (files.root_cert.is_file() and files.root_key.is_file()):
        return None
    cert = x509.load_pem_x509_certificate(files.root_cert.read_bytes())
    key = serialization.load_pem_private_key(files.root_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise ValueError(f"{files.root_key} does not belong to {files.root_cert}")
    return cert, key


def _current_seal(
    files: DevelopmentSealFiles, root: x509.Certificate, now: datetime.datetime
) -> bool:
    """Whether the stored seal certificate and key match, chain to `root` and stay valid."""
    if not (files.seal_cert.is_file() and files.seal_key.is_file()):
        return False
    cert = x509.load_pem_x509_certificate(files.seal_cert.read_bytes())
    key = serialization.load_pem_private_key(files.seal_key.read_bytes(), password=None)
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return bool(
        isinstance(key, ec.EllipticCurvePrivateKey)
        and key.public_key() == cert.public_key()
        and cert.not_valid_after_utc - RENEW_BEFORE > now
    )


def _issue_root(files: DevelopmentSealFiles, now: datetime.datetime) -> _Root:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("mynasign DEV platform seal root CA (DEVELOPMENT)")
    cert = (
        _builder(name, name, key.public_key(), now, ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_file(files.root_key, _key_pem(key), 0o600)
    _write_file(files.root_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def _issue_seal(
    files: DevelopmentSealFiles,
    root: _Root,
    now: datetime.datetime,
) -> None:
    root_cert, root_key = root
    key = ec.generate_private_key(ec.SECP256R1())
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        _builder(
            _name("mynasign DEV platform seal (DEVELOPMENT)"),
            root_cert.subject,
            key.public_key(),
            now,
            SEAL_VALIDITY,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING_EKU]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    _write_file(files.seal_key, _key_pem(key), 0o600)
    _write_file(files.seal_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
    validity: datetime.timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` atomically with permissions `mode` (no window with wider ones)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)  # left by a crash: never reuse its permissions
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One creator at a time per directory, across processes."""
    descriptor = os.open(directory / ".seal.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
