"""Where the platform seal's key lives: a key file (development) or a PKCS#11 token (HSM).

Either way the result is a `SealKey`, whose `signer` is the pyHanko `Signer` the `Sealer`
uses. Everything is loaded and checked when the key is opened, so a misconfigured key
fails at start-up, not at the first seal.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from asn1crypto import keys, x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
from pyhanko.sign.signers import Signer
from pyhanko.sign.signers.pdf_cms import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from webapp.pdf.frozen_asn1 import FrozenSignatures


class SealKeyError(Exception):
    """The seal key or its certificates cannot be used (a configuration error)."""


class SealKey(Protocol):
    """An open platform seal key."""

    @property
    def signer(self) -> Signer:
        """The pyHanko signer that makes the seal's CMS signatures."""
        ...

    def close(self) -> None:
        """Release the key (log out of the token); the signer must not be used afterwards."""
        ...


class _ClosingMixin:
    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class FileSealKey(_ClosingMixin):
    """A seal key held in memory, loaded from PEM files (development and tests)."""

    def __init__(self, signer: SimpleSigner) -> None:
        self._signer = signer

    @property
    def signer(self) -> Signer:
        return self._signer


class Pkcs11SealKey(_ClosingMixin):
    """A seal key inside a PKCS#11 token; the session stays open until `close`."""

    def __init__(self, session: Any, signer: PKCS11Signer) -> None:
        self._session = session
        self._signer = signer

    @property
    def signer(self) -> Signer:
        return self._signer

    def close(self) -> None:
        self._session.close()


def seal_signer_from_files(
    key_pem_path: Path, cert_pem_path: Path, chain_pem_paths: Sequence[Path] = ()
) -> FileSealKey:
    """Open a seal key from an unencrypted PEM key, its certificate and CA certificates."""
    try:
        private = serialization.load_pem_private_key(Path(key_pem_path).read_bytes(), None)
        cert = _one_cert(Path(cert_pem_path))
        chain = [c for path in chain_pem_paths for c in _certs(Path(path))]
    except (OSError, ValueError, TypeError) as exc:
        raise SealKeyError(f"cannot load the seal key or certificates: {exc}") from exc
    key_der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if public_der != cert.public_key.dump():
        raise SealKeyError(f"{key_pem_path} is not the key of {cert_pem_path}")
    signer = _FileSigner(
        signing_cert=cert,
        signing_key=keys.PrivateKeyInfo.load(key_der),
        cert_registry=_store(chain),
    )
    return FileSealKey(signer)


def seal_signer_from_pkcs11(
    module_path: str,
    token_label: str,
    key_label: str,
    pin: str,
    *,
    cert_label: str | None = None,
    chain_pem_paths: Sequence[Path] = (),
) -> Pkcs11SealKey:
    """Log in to the token labelled `token_label` and find the key (and certificate) there.

    The certificate is looked up by `cert_label`, which defaults to `key_label`. CA
    certificates not on the token can be given as PEM files.
    """
    try:
        chain = [c for path in chain_pem_paths for c in _certs(Path(path))]
    except (OSError, ValueError) as exc:
        raise SealKeyError(f"cannot load the seal's CA certificates: {exc}") from exc
    try:
        session = open_pkcs11_session(
            module_path, token_criteria=TokenCriteria(label=token_label), user_pin=pin
        )
    except Exception as exc:  # python-pkcs11 and pyHanko raise many kinds
        raise SealKeyError(f"cannot log in to PKCS#11 token {token_label!r}: {exc}") from exc
    try:
        signer = _SerialPkcs11Signer(
            session, key_label=key_label, cert_label=cert_label or key_label, ca_chain=chain
        )
        # loads the certificate and the key handle now, in this thread
        if signer.signing_cert.public_key.algorithm == "ec":
            # hash here, sign with plain CKM_ECDSA: every token has it (SoftHSM2 has no
            # CKM_ECDSA_SHA256)
            signer.use_raw_mechanism = True
    except Exception as exc:
        session.close()
        raise SealKeyError(f"cannot find the seal key {key_label!r} on the token: {exc}") from exc
    return Pkcs11SealKey(session, signer)


class _SerialPkcs11Signer(FrozenSignatures, PKCS11Signer):
    """A PKCS#11 signer whose signatures never overlap on the one session.

    A PKCS#11 session runs one signing operation at a time, and seals may run in several
    threads at once; the lock is taken in a worker thread so no event loop waits on it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing = threading.Lock()

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return await super().async_sign_raw(data, digest_algorithm, dry_run=True)
        acquiring = asyncio.ensure_future(asyncio.to_thread(self._signing.acquire))
        try:
            await asyncio.shield(acquiring)
        except asyncio.CancelledError:  # the lock arrives anyway: hand it straight back
            acquiring.add_done_callback(lambda _: self._signing.release())
            raise
        try:
            return await super().async_sign_raw(data, digest_algorithm)
        finally:
            self._signing.release()


class _FileSigner(FrozenSignatures, SimpleSigner):
    """pyHanko's in-memory signer, its CMS frozen (see `webapp.pdf.frozen_asn1`)."""


def _one_cert(path: Path) -> x509.Certificate:
    certs = _certs(path)
    if len(certs) != 1:
        raise ValueError(f"{path} must hold exactly one certificate, not {len(certs)}")
    return certs[0]


def _certs(path: Path) -> list[x509.Certificate]:
    """The certificates in a PEM file."""
    der = serialization.Encoding.DER
    return [
        x509.Certificate.load(cert.public_bytes(der))
        for cert in pyca_x509.load_pem_x509_certificates(path.read_bytes())
    ]


def _store(certs: Sequence[x509.Certificate]) -> SimpleCertificateStore:
    store = SimpleCertificateStore()  # type: ignore[no-untyped-call]
    for cert in certs:
        store.register(cert)
    return store
