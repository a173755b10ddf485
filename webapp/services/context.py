"""The long-lived things every service function needs, opened once at start."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from webapp.card_signing.hub import CardEventHub
from webapp.card_signing.validation import CardSignatureValidator
from webapp.db.engine import SQLITE_DEFERRED
from webapp.pdf import Sealer
from webapp.pdf.workers import PdfWorkers
from webapp.settings import Settings
from webapp.storage import EncryptedFileStore, KeyEncryptionKey


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class ServiceContext:
    """Settings, the database, the encrypted files, the sealer, the clock, card signing."""

    settings: Settings
    sessions: sessionmaker[Session]
    files: EncryptedFileStore
    kek: KeyEncryptionKey
    sealer: Sealer
    clock: Callable[[], datetime.datetime] = field(default=_utc_now)
    wake_mail: Callable[[], None] = field(default=lambda: None)
    card_validator: CardSignatureValidator | None = None
    """Checks card signatures (trust, validity, revocation); None: card signing is off."""
    card_trust_anchors: tuple[bytes, ...] = ()
    """The JPKI signing roots (DER) the validator trusts, for the quick check of a
    certificate a v2 bridge announces before the card signs."""
    card_events: CardEventHub = field(default_factory=CardEventHub)
    pdf: PdfWorkers | None = None
    """Where PDF jobs run (worker processes); None: in the calling thread."""

    def pdf_workers(self) -> PdfWorkers:
        if self.pdf is None:
            self.pdf = PdfWorkers(None, processes=0, in_thread_sealer=self.sealer)
        return self.pdf

    def now(self) -> datetime.datetime:
        return self.clock()

    def reading(self) -> Session:
        """A session for work that only reads: on SQLite a plain (deferred) `BEGIN`, so it
        neither waits for nor holds the one writer's turn (`webapp.db.engine`), and SQLite
        refuses a write in it (`query_only`); use `sessions()` for anything that writes."""
        return self.sessions(bind=self._read_engine)

    @functools.cached_property
    def _read_engine(self) -> Engine:
        engine: Engine = self.sessions.kw["bind"]
        return engine.execution_options(**SQLITE_DEFERRED)

    def link(self, path: str) -> str:
        """An absolute URL on this service."""
        return self.settings.base_url.rstrip("/") + path
