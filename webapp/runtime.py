"""Everything the service opens at start and closes at stop, from validated settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Engine

from jpkisim.pki_server import EXTRA_DIR
from webapp.card_validation import (
    CardSignatureValidator,
    card_trust_anchors,
    revocation_checker_for,
)
from webapp.db.engine import make_engine, make_session_factory, sqlite_url
from webapp.db.migrate import current_revision, head_revision, upgrade
from webapp.db.models import Document, OutgoingMail
from webapp.files import EncryptedFileStore, KeyEncryptionKey
from webapp.mail.outbox import AttachmentLoader, OutboxWorker
from webapp.mail.smtp import SmtpConfig
from webapp.pdf import Sealer, SealKey, create_development_seal, seal_signer_from_files
from webapp.pdf.dev_seal import development_seal_crl
from webapp.pdf.seal_keys import seal_signer_from_pkcs11
from webapp.services import card_sessions
from webapp.services.completion_retry import completion_retry
from webapp.services.context import ServiceContext
from webapp.services.periodic import PeriodicTask
from webapp.settings import ConfigurationError, Settings

log = logging.getLogger(__name__)
DEV_SEAL_CRL = "seal-root.crl"
CARD_EXPIRY_SECONDS = 1.0
"""How often open card sessions are checked for their ten minutes being over."""


@dataclass
class Runtime:
    """The opened service: its context, and what must be closed."""

    context: ServiceContext
    engine: Engine
    seal_key: SealKey
    outbox: OutboxWorker | None
    dev_pki_url: str | None
    trust_roots: list[bytes]
    """Roots of the seal, the TSA and the cards: what a finished document is validated against."""
    card_anchors: list[bytes]
    """The JPKI signing roots a card's certificate must chain to."""


def database_url(settings: Settings) -> str:
    return settings.database_url or sqlite_url(Path(settings.data_dir) / "mynasign.db")


def _pem_der(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open database, files, seal key, TSA (the dev PKI's in development) and mail."""
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = database_url(settings)
    if settings.is_production:
        if current_revision(url) != head_revision():
            raise ConfigurationError(["the database is not up to date: run `mynasign db upgrade`"])
    else:
        upgrade(url)
    engine = make_engine(url)
    trust_roots: list[bytes] = []
    with contextlib.ExitStack() as stack:
        tsa_url, dev_pki_url, dev_sign_root = settings.tsa_url, None, None
        if tsa_url is None:
            dev_pki_url, tsa_root, dev_sign_root = stack.enter_context(
                _development_pki(data_dir / "pki")
            )
            tsa_url = f"{dev_pki_url}/tsa"
            trust_roots.append(tsa_root)
        card_anchors = card_trust_anchors(
            settings.card_trust_anchor_files,
            production=settings.is_production,
            development_root_der=dev_sign_root,
        )
        trust_roots.extend(card_anchors)
        seal_key, seal_root = _seal_key(settings, data_dir, dev_pki_url)
        stack.callback(seal_key.close)
        if seal_root is not None:
            trust_roots.append(seal_root)
        kek = KeyEncryptionKey(settings.kek_bytes)
        files = EncryptedFileStore(data_dir / "files")
        sessions = make_session_factory(engine)
        context = ServiceContext(
            settings=settings, sessions=sessions, files=files, kek=kek,
            sealer=Sealer(seal_key.signer, tsa_url, trust_roots),
            card_validator=_card_validator(settings, card_anchors, dev_pki_url),
        )  # fmt: skip
        outbox = None
        if settings.smtp_host:
            outbox = OutboxWorker(sessions, _smtp_config(settings), _attachment_loader(context))
            outbox.start()
            context.wake_mail = outbox.wake
        background = [
            completion_retry(context),
            PeriodicTask(
                "card-session-expiry", _expire_card_sessions(context), CARD_EXPIRY_SECONDS
            ),
        ]
        for task in background:
            task.start()
        try:
            yield Runtime(context, engine, seal_key, outbox, dev_pki_url, trust_roots, card_anchors)
        finally:
            for task in background:
                await task.stop()
            if outbox is not None:
                await outbox.stop()
            engine.dispose()


def _card_validator(
    settings: Settings, anchors: list[bytes], dev_pki_url: str | None
) -> CardSignatureValidator | None:
    """The card signature check as configured; None (card signing off) when it cannot be."""
    method = settings.revocation_method
    if method == "development" and dev_pki_url is None:
        log.warning(
            "My Number Card signing is off: set MYNASIGN_REVOCATION (an OCSP URL or a CRL file)"
        )
        return None
    if not anchors:
        log.warning("My Number Card signing is off: no JPKI trust anchors are configured")
        return None
    checker = revocation_checker_for(
        method,
        settings.revocation,
        development_ocsp_url=f"{dev_pki_url}/ocsp" if dev_pki_url else None,
    )
    if method == "none":
        log.warning("card certificates are NOT checked for revocation (explicit opt-out)")
    return CardSignatureValidator(anchors, checker)


def _expire_card_sessions(context: ServiceContext) -> Callable[[], Awaitable[int]]:
    async def expire() -> int:
        return await asyncio.to_thread(card_sessions.expire_due, context)

    return expire


@contextlib.contextmanager
def _development_pki(directory: Path) -> Iterator[tuple[str, bytes, bytes]]:
    """The development PKI (`jpki-sim pki init`) and its services, served in-process."""
    from jpkisim.pki import TestPki  # noqa: PLC0415 - development only
    from jpkisim.pki_server import PkiServer  # noqa: PLC0415

    pki = TestPki.load(directory) if (directory / "pki.json").exists() else TestPki.init(directory)
    port = int(pki.base_url.rsplit(":", 1)[1].split("/")[0])
    try:
        server = PkiServer(directory, port=port).start()
    except OSError:
        server = PkiServer(directory, port=0).start()
        pki.set_base_url(server.url)
        log.warning("port %d is taken: the development PKI now serves on %s", port, server.url)
    try:
        yield server.url, pki.tsa_root_cert.public_bytes(Encoding.DER), pki.sign_root_der
    finally:
        server.stop()


def _seal_key(
    settings: Settings, data_dir: Path, dev_pki_url: str | None
) -> tuple[SealKey, bytes | None]:
    """The platform seal: PKCS#11, key files, or (development) a generated key."""
    mode = settings.seal_mode
    if mode == "pkcs11":
        assert settings.seal_pkcs11_module and settings.seal_pkcs11_token  # noqa: S101 - validated
        assert settings.seal_pkcs11_key_label and settings.seal_pkcs11_pin  # noqa: S101
        key: SealKey = seal_signer_from_pkcs11(
            str(settings.seal_pkcs11_module), settings.seal_pkcs11_token,
            settings.seal_pkcs11_key_label, settings.seal_pkcs11_pin.get_secret_value(),
            chain_pem_paths=settings.seal_chain_files,
        )  # fmt: skip
        return key, _last_root(settings.seal_chain_files)
    if mode == "key_file":
        assert settings.seal_key_file and settings.seal_cert_file  # noqa: S101 - validated
        key = seal_signer_from_files(
            settings.seal_key_file, settings.seal_cert_file, settings.seal_chain_files
        )
        return key, _last_root(settings.seal_chain_files)
    crl_url = f"{dev_pki_url}/{EXTRA_DIR}/{DEV_SEAL_CRL}" if dev_pki_url else None
    files = create_development_seal(data_dir / "seal", crl_url=crl_url)
    if dev_pki_url:  # the development PKI serves the seal root's CRL for validators
        extra = data_dir / "pki" / EXTRA_DIR
        extra.mkdir(exist_ok=True)
        (extra / DEV_SEAL_CRL).write_bytes(development_seal_crl(data_dir / "seal"))
    key = seal_signer_from_files(files.seal_key, files.seal_cert, [files.root_cert])
    return key, _pem_der(files.root_cert)


def _last_root(chain: list[Path]) -> bytes | None:
    return _pem_der(chain[-1]) if chain else None


def _smtp_config(settings: Settings) -> SmtpConfig:
    assert settings.smtp_host is not None  # noqa: S101 - checked by the caller
    return SmtpConfig(
        host=settings.smtp_host, mail_from=settings.mail_from, port=settings.smtp_port,
        security=settings.smtp_security, username=settings.smtp_username,
        password=settings.smtp_password, timeout=settings.smtp_timeout_seconds,
        ca_file=settings.smtp_ca_file,
    )  # fmt: skip


def _attachment_loader(context: ServiceContext) -> AttachmentLoader:
    """Reads a mail's attachment (a finished PDF) with its document's key."""

    def load(mail: OutgoingMail) -> tuple[str, bytes] | None:
        if mail.attachment_blob_name is None or mail.document_id is None:
            return None
        with context.sessions() as db:
            document = db.get_one(Document, mail.document_id)
            key = context.kek.unwrap(document.data_key_wrapped)
        with context.files.open_read(key, mail.attachment_blob_name) as reader:
            return mail.attachment_filename or "document.pdf", reader.read()

    return load
