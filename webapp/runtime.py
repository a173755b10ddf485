"""Everything the service opens at start and closes at stop, from validated settings."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Engine

from webapp.archive import renewal_task  # issue 12: timestamp renewal
from webapp.audit.anchors import audit_anchoring
from webapp.card_signing import kept_crls
from webapp.card_signing import sessions as card_sessions
from webapp.card_signing.hub_postgres import PostgresCardEventHub
from webapp.card_signing.validation import (
    CardSignatureValidator,
    card_trust_anchors,
    revocation_checker_for,
)
from webapp.certificate.render import prepare_renderer
from webapp.db.engine import (
    is_postgresql,
    libpq_conninfo,
    make_engine,
    make_session_factory,
    sqlite_url,
)
from webapp.db.migrate import current_revision, head_revision, upgrade
from webapp.db.models import Document, OutgoingMail
from webapp.http_client import close_shared_client
from webapp.loop_watchdog import LoopWatchdog
from webapp.mail.outbox import AttachmentLoader, OutboxWorker
from webapp.mail.smtp import SmtpConfig
from webapp.offload import off_loop, set_pdf_concurrency, size_thread_pool
from webapp.pdf import Sealer, SealKey, create_development_seal
from webapp.pdf.dev_seal import publish_development_seal_crl
from webapp.pdf.workers import PdfWorkers, SealerSpec, SealKeySource
from webapp.services.completion_retry import completion_retry
from webapp.services.context import ServiceContext
from webapp.services.periodic import shared_round
from webapp.settings import ConfigurationError, Settings
from webapp.storage import EncryptedFileStore, KeyEncryptionKey, blob_store_for

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
    watchdog: LoopWatchdog
    """How late the event loop has run (a stall delays every request)."""


def database_url(settings: Settings) -> str:
    return settings.database_url or sqlite_url(Path(settings.data_dir) / "mynasign.db")


def _pem_der(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open database, files, seal key, TSA (the dev PKI's in development) and mail.

    The blocking parts of opening and closing (migrations, key files, the development PKI,
    joining its threads, closing the database pool) run in a worker thread, not on the
    event loop: an instance starting or stopping beside others still answers its feeds
    and bridges until the server closes them."""
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = database_url(settings)
    await off_loop(_migrated, settings, url)
    engine = make_engine(
        url,
        pool_size=settings.database_pool_size,
        write_wait_seconds=settings.database_write_wait_seconds,
    )
    size_thread_pool(settings.worker_threads)
    set_pdf_concurrency(settings.pdf_concurrency)
    trust_roots: list[bytes] = []
    stack = contextlib.ExitStack()
    try:
        stack.callback(engine.dispose)  # last, after everything that uses it has stopped
        tsa_url, dev_pki_url, dev_sign_root = settings.tsa_url, None, None
        if tsa_url is None:
            dev_pki_url, tsa_root, dev_sign_root = await off_loop(
                stack.enter_context, _development_pki(data_dir / "pki")
            )
            tsa_url = f"{dev_pki_url}/tsa"
            trust_roots.append(tsa_root)
        card_anchors = card_trust_anchors(
            settings.card_trust_anchor_files,
            production=settings.is_production,
            development_root_der=dev_sign_root,
        )
        trust_roots.extend(card_anchors)
        seal_source, seal_root = await off_loop(_seal_key, settings, data_dir, dev_pki_url)
        seal_key = await off_loop(seal_source.open)
        stack.callback(seal_key.close)
        if seal_root is not None:
            trust_roots.append(seal_root)
        kek = KeyEncryptionKey(settings.kek_bytes)
        files = EncryptedFileStore(blob_store_for(settings))  # issue 9: local or S3
        stack.callback(close_shared_client)  # the TSA/OCSP/CRL client, made on first use
        sessions = make_session_factory(engine)
        context = ServiceContext(
            settings=settings, sessions=sessions, files=files, kek=kek,
            sealer=Sealer(seal_key.signer, tsa_url, trust_roots),
            card_validator=_card_validator(settings, card_anchors, dev_pki_url),
            card_trust_anchors=tuple(card_anchors),
        )  # fmt: skip
        context.pdf = PdfWorkers(
            SealerSpec(seal_source, tsa_url, tuple(trust_roots)),
            processes=settings.pdf_processes, in_thread_sealer=context.sealer,
        )  # fmt: skip
        async with _running(context, url, trust_roots) as (outbox, watchdog):
            yield Runtime(
                context, engine, seal_key, outbox, dev_pki_url, trust_roots, card_anchors,
                watchdog,
            )  # fmt: skip
    finally:
        await off_loop(stack.close)


def _migrated(settings: Settings, url: str) -> None:
    """Development: migrate the database; production: refuse one that is not up to date."""
    if settings.is_production:
        if current_revision(url) != head_revision():
            raise ConfigurationError(["the database is not up to date: run `mynasign db upgrade`"])
    else:
        upgrade(url)


@contextlib.asynccontextmanager
async def _running(
    context: ServiceContext, url: str, trust_roots: list[bytes]
) -> AsyncIterator[tuple[OutboxWorker | None, LoopWatchdog]]:
    """What runs beside the requests: card status across instances, the loop's watchdog,
    the mail outbox and the background rounds; stopped in the reverse order."""
    settings = context.settings
    if is_postgresql(url):  # several instances may run: card status crosses them
        context.card_events = PostgresCardEventHub(
            libpq_conninfo(url), functools.partial(card_sessions.status_for, context)
        )
    prepare_renderer()  # issue 12: the certificate's layout engine and font, before serving
    async with contextlib.AsyncExitStack() as stack:
        await context.card_events.start()
        stack.push_async_callback(context.card_events.stop)
        watchdog = LoopWatchdog(  # started when serving begins
            settings.loop_stall_warning_ms, step_timing=settings.loop_step_timing
        )
        stack.push_async_callback(watchdog.stop)
        outbox = None
        if settings.smtp_host:
            outbox = OutboxWorker(
                context.sessions, _smtp_config(settings), _attachment_loader(context)
            )
            outbox.start()
            stack.push_async_callback(outbox.stop)
            context.wake_mail = outbox.wake
        background = [
            completion_retry(context),
            audit_anchoring(context),  # issue 12: the audit chain's head, timestamped daily
            renewal_task(context),  # issue 12: document timestamps renewed in time
            shared_round(
                context, "card-session-expiry", card_sessions.expire_due, CARD_EXPIRY_SECONDS
            ),
            kept_crls.pruning_task(context),  # CRL mode: versions no open document needs
        ]
        for task in background:
            task.start()
            stack.push_async_callback(task.stop)
        yield outbox, watchdog


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


@contextlib.contextmanager
def _development_pki(directory: Path) -> Iterator[tuple[str, bytes, bytes]]:
    """The development PKI (`jpki-sim pki init`) and its services, shared by every instance
    on this data directory: made once (under a file lock), never rewritten afterwards, and
    served at the URL its certificates name by whichever instance holds that port."""
    from jpkisim.pki import DEFAULT_BASE_URL, TestPki  # noqa: PLC0415 - development only
    from jpkisim.pki_server import SharedPkiServer  # noqa: PLC0415

    directory.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(directory.parent / ".dev-pki.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # one instance makes it; the others wait
        if (directory / "pki.json").exists():
            pki = TestPki.load(directory)
            served = SharedPkiServer(directory).start()
        else:
            pki = TestPki.init(directory, base_url=_bindable_base_url(DEFAULT_BASE_URL))
            served = SharedPkiServer(directory).start()
            for _ in range(3):  # lost the port between choosing and binding it: nothing
                if served.serving.is_set():  # names the new PKI's URL yet, so choose again
                    break
                served.stop()
                pki.set_base_url(_bindable_base_url(pki.base_url, any_port=True))
                served = SharedPkiServer(directory).start()
            log.info("development PKI made in %s for %s", directory, pki.base_url)
    finally:
        os.close(descriptor)  # releases the lock
    try:
        yield served.url, pki.tsa_root_cert.public_bytes(Encoding.DER), pki.sign_root_der
    finally:
        served.stop()


def _bindable_base_url(preferred: str, *, any_port: bool = False) -> str:
    """`preferred` if its port can be bound now, else the same host on a free port."""
    parts = urlsplit(preferred)
    host = parts.hostname or "127.0.0.1"
    with socket.socket() as probe:
        try:
            probe.bind((host, 0 if any_port else parts.port or 80))
        except OSError:
            probe.bind((host, 0))
        return f"http://{host}:{probe.getsockname()[1]}"


def _seal_key(
    settings: Settings, data_dir: Path, dev_pki_url: str | None
) -> tuple[SealKeySource, bytes | None]:
    """The platform seal: PKCS#11, key files, or (development) a generated key: where it
    is (each PDF worker process opens it too) and its root."""
    mode = settings.seal_mode
    chain = tuple(settings.seal_chain_files)
    if mode == "pkcs11":
        assert settings.seal_pkcs11_module and settings.seal_pkcs11_token  # noqa: S101 - validated
        assert settings.seal_pkcs11_key_label and settings.seal_pkcs11_pin  # noqa: S101
        source = SealKeySource(
            chain_files=chain, pkcs11_module=str(settings.seal_pkcs11_module),
            pkcs11_token=settings.seal_pkcs11_token, pkcs11_label=settings.seal_pkcs11_key_label,
            pkcs11_pin=settings.seal_pkcs11_pin.get_secret_value(),
        )  # fmt: skip
        return source, _last_root(settings.seal_chain_files)
    if mode == "key_file":
        assert settings.seal_key_file and settings.seal_cert_file  # noqa: S101 - validated
        source = SealKeySource(settings.seal_key_file, settings.seal_cert_file, chain)
        return source, _last_root(settings.seal_chain_files)
    crl_url: str | None = None
    published_crl: Path | None = None
    if dev_pki_url:  # the development PKI serves the seal root's CRL for validators, at the
        # base URL its pki.json names (the same for every instance on this data directory)
        from jpkisim.pki_files import read_base_url  # noqa: PLC0415 - development only
        from jpkisim.pki_server import EXTRA_DIR  # noqa: PLC0415

        crl_url = f"{read_base_url(data_dir / 'pki')}/{EXTRA_DIR}/{DEV_SEAL_CRL}"
        published_crl = data_dir / "pki" / EXTRA_DIR / DEV_SEAL_CRL
    files = create_development_seal(data_dir / "seal", crl_url=crl_url)
    if published_crl is not None:
        publish_development_seal_crl(data_dir / "seal", published_crl)
    source = SealKeySource(files.seal_key, files.seal_cert, (files.root_cert,))
    return source, _pem_der(files.root_cert)


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
