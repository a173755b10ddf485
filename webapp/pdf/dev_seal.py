"""A development platform seal: its own root CA, a seal certificate and a CRL, kept in a dir.

Nothing here is for production, and the certificates say so in their names. Production
seals come from an HSM through PKCS#11 (`webapp.pdf.seal_keys.seal_signer_from_pkcs11`).
Keys are written 0600 in a 0700 directory; a second call reuses what is there.

A seal that should pass long-term (LTA) validation needs a revocation source: give
`create_development_seal` the URL where the application serves `development_seal_crl`.
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from webapp.pdf.dev_certs import (
    DOCUMENT_SIGNING_EKU,
    Root,
    build_crl,
    build_root,
    build_seal,
    crl_url_of,
)

__all__ = [
    "DOCUMENT_SIGNING_EKU",
    "DevelopmentSealFiles",
    "create_development_seal",
    "development_seal_crl",
    "development_seal_files",
    "publish_development_seal_crl",
]

RENEW_BEFORE = datetime.timedelta(days=30)
CRL_RENEW_BEFORE = datetime.timedelta(days=1)
_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class DevelopmentSealFiles:
    """Where the development seal lives (PEM files; the CRL is DER)."""

    root_cert: Path
    root_key: Path
    seal_cert: Path
    seal_key: Path
    crl: Path


def development_seal_files(directory: Path) -> DevelopmentSealFiles:
    """The file names `create_development_seal` uses in `directory`."""
    directory = Path(directory)
    return DevelopmentSealFiles(
        root_cert=directory / "seal-root.crt",
        root_key=directory / "seal-root.key",
        seal_cert=directory / "seal.crt",
        seal_key=directory / "seal.key",
        crl=directory / "seal-root.crl",
    )


def create_development_seal(directory: Path, *, crl_url: str | None = None) -> DevelopmentSealFiles:
    """Make (or reuse) the development seal root and seal certificate in `directory`.

    A present seal is reused when its key matches, it chains to the root, it is not about
    to expire and it names `crl_url` as its CRL; otherwise a new seal is issued under the
    existing root. A missing root starts everything afresh.
    """
    files = development_seal_files(directory)
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(directory):
        now = datetime.datetime.now(datetime.UTC)
        root = _load_root(files)
        if root is None:
            root = build_root(now)
            _write_file(files.root_key, _key_pem(root[1]), 0o600)
            _write_file(files.root_cert, root[0].public_bytes(_PEM), 0o644)
            files.crl.unlink(missing_ok=True)
        elif _current_seal(files, root[0], now, crl_url):
            return files
        cert, key = build_seal(root, now, crl_url)
        _write_file(files.seal_key, _key_pem(key), 0o600)
        _write_file(files.seal_cert, cert.public_bytes(_PEM), 0o644)
    return files


def development_seal_crl(directory: Path) -> bytes:
    """The development root's current CRL (DER), issued afresh when it nears its next update."""
    files = development_seal_files(directory)
    with _locked(Path(directory)):
        now = datetime.datetime.now(datetime.UTC)
        number = 1
        if files.crl.is_file():
            stored = x509.load_der_x509_crl(files.crl.read_bytes())
            next_update = stored.next_update_utc
            if next_update is not None and next_update - CRL_RENEW_BEFORE > now:
                return files.crl.read_bytes()
            number = stored.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
            number += 1
        root = _load_root(files)
        if root is None:
            raise FileNotFoundError(f"no development seal root in {directory}")
        der = build_crl(root, now, number).public_bytes(serialization.Encoding.DER)
        _write_file(files.crl, der, 0o644)
        return der


def publish_development_seal_crl(directory: Path, target: Path) -> bytes:
    """Put the development root's current CRL at `target` (where a server serves it).

    `target` is replaced (atomically) only when its content differs: several instances on
    one data directory may start while another serves the file.
    """
    der = development_seal_crl(directory)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(Path(directory)):
        if not (target.is_file() and target.read_bytes() == der):
            _write_file(target, der, 0o644)
    return der


def _load_root(files: DevelopmentSealFiles) -> Root | None:
    if not (files.root_cert.is_file() and files.root_key.is_file()):
        return None
    cert = x509.load_pem_x509_certificate(files.root_cert.read_bytes())
    key = serialization.load_pem_private_key(files.root_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise ValueError(f"{files.root_key} does not belong to {files.root_cert}")
    return cert, key


def _current_seal(
    files: DevelopmentSealFiles, root: x509.Certificate, now: datetime.datetime, crl_url: str | None
) -> bool:
    """Whether the stored seal matches its key, chains to `root`, stays valid, names `crl_url`."""
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
        and crl_url_of(cert) == crl_url
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
    """One writer at a time per directory, across processes."""
    descriptor = os.open(directory / ".seal.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
