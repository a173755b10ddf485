"""Kept CRLs on PostgreSQL: pruning and keeping take row locks there (SKIP LOCKED)."""

from __future__ import annotations

import datetime
import hashlib
import threading

from sqlalchemy import select

from tests.webapp.concurrency.conftest import pg_service  # noqa: F401 - a fixture
from tests.webapp.conftest import Service
from webapp.card_signing.kept_crls import KEEP_UNUSED, keep_crl, prune
from webapp.db.models import RevocationList


def test_a_version_a_signature_is_naming_is_not_pruned_under_it(
    pg_service: Service,  # noqa: F811 - the fixture imported above
) -> None:
    context = pg_service.context
    now = context.now()
    long_ago = now - KEEP_UNUSED - datetime.timedelta(hours=1)
    digest = hashlib.sha256(b"crl").hexdigest()
    with context.sessions() as db, db.begin():
        db.add(RevocationList(sha256=digest, der=b"crl", last_used_at=long_ago))
        db.add(RevocationList(sha256="b" * 64, der=b"other", last_used_at=long_ago))
    pruned: list[int] = []
    with context.sessions() as db, db.begin():
        assert keep_crl(db, b"crl", now) == digest  # holds the row until this commits
        pruning = threading.Thread(target=lambda: pruned.append(prune(context)))
        pruning.start()
        pruning.join(30)  # SKIP LOCKED: the round does not wait for this transaction
        assert not pruning.is_alive() and pruned == [1]
    with context.sessions() as db:
        assert list(db.scalars(select(RevocationList.sha256))) == [digest]
        assert db.get_one(RevocationList, digest).last_used_at == now
