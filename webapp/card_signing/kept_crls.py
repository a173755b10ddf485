"""The CRLs that let card signatures in, kept until their documents carry them (CRL mode).

When cards are checked against a CRL file, the CRL that said a card's certificate was
good goes into the finished document's DSS (`webapp.services.recipients.card_crls`), as
the OCSP answer does in OCSP mode. Between the signature and the document's completion
(other parties may sign days later) it is kept in the database, once per CRL version
(`revocation_lists`, by its SHA-256). A JPKI CRL can be tens of megabytes and the file is
replaced as J-LIS publishes new ones, so versions that no document still out for
signature needs, and that no signature used for `KEEP_UNUSED`, are removed by an hourly
round (`pruning_task`); the sessions that named one keep the signature, not the link.
"""

from __future__ import annotations

import datetime
import hashlib

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.db.models import CardSession, Document, DocumentStatus, Recipient, RevocationList
from webapp.services.context import ServiceContext
from webapp.services.periodic import PeriodicTask, shared_round

KEEP_UNUSED = datetime.timedelta(days=2)
"""How long a CRL version no open document names is kept after its last use: a signature
being judged right now may be about to name it."""
PRUNE_SECONDS = 3600.0


def keep_crl(db: Session, der: bytes | None, now: datetime.datetime) -> str | None:
    """Keep the CRL that judged a card (in the caller's transaction); its SHA-256, or None
    when the card was judged by OCSP. Any instance may be adding the same version."""
    if der is None:
        return None
    digest = hashlib.sha256(der).hexdigest()
    kept = db.get(RevocationList, digest, with_for_update=True)  # not pruned meanwhile
    if kept is not None:
        kept.last_used_at = now
        return digest
    try:
        with db.begin_nested():
            db.add(RevocationList(sha256=digest, der=der, last_used_at=now))
    except IntegrityError:  # added meanwhile by another instance
        db.get_one(RevocationList, digest).last_used_at = now
    return digest


def prune(ctx: ServiceContext) -> int:
    """Remove the CRL versions no document out for signature needs and no signature used
    for `KEEP_UNUSED`; how many went."""
    needed = (
        select(CardSession.crl_sha256)
        .join(Recipient)
        .join(Document)
        .where(CardSession.crl_sha256.is_not(None), Document.status == DocumentStatus.SENT)
    )
    with ctx.sessions() as db, db.begin():
        unused = db.scalars(
            select(RevocationList.sha256)
            .where(
                RevocationList.last_used_at < ctx.now() - KEEP_UNUSED,
                RevocationList.sha256.not_in(needed),
            )
            .with_for_update(skip_locked=True)  # a signature naming one now keeps it
        ).all()
        if unused:
            db.execute(
                update(CardSession)
                .where(CardSession.crl_sha256.in_(unused))
                .values(crl_sha256=None)
                .execution_options(synchronize_session=False)
            )
            db.execute(
                delete(RevocationList)
                .where(RevocationList.sha256.in_(unused))
                .execution_options(synchronize_session=False)
            )
    return len(unused)


def pruning_task(ctx: ServiceContext, interval: float = PRUNE_SECONDS) -> PeriodicTask:
    """The lifespan's background round running `prune`, on one instance at a time."""
    return shared_round(ctx, "revocation-list-pruning", prune, interval)
