"""The audit chain's head, timestamped by the TSA: daily, and whenever a document completes.

An anchor is an RFC 3161 timestamp token over SHA-256 of `anchor_message(seq, hash)`: it
proves that the chain's entry `seq` had hash `hash` at the token's time. An insider who
later rewrites any entry up to `seq` (and recomputes every hash after it) cannot make
the chain meet the anchor again, and cannot make a new token for an old time.

`anchor_round` is the background job: once a day (Japan time) it anchors the head, and it
anchors any completion whose own anchor failed (a TSA outage). It runs once across all
instances: a lease (`webapp.db.leases`) keeps a second instance out while one works, and
the unique `day` / `document_id` columns refuse a second anchor for the same day or
completion even if two got past the lease.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.audit import ChainHead, canonical_json, chain_head
from webapp.db.leases import leased
from webapp.db.models import AuditAnchor, AuditEvent
from webapp.mail.messages import JST
from webapp.offload import off_loop, run_pdf_step
from webapp.pdf import TimestampUnavailable
from webapp.services.context import ServiceContext
from webapp.services.periodic import PeriodicTask

log = logging.getLogger(__name__)
ANCHOR_FORMAT_VERSION = 1
DIGEST_ALGORITHM = "sha256"
ROUND_SECONDS = 300.0
"""How often the job looks whether today's anchor or a completion's anchor is missing."""
LEASE = datetime.timedelta(minutes=10)
LEASE_NAME = "audit-anchor-round"
DAILY = "daily"
COMPLETION = "completion"
COMPLETED_ACTION = "document.completed"

__all__ = [
    "InvalidAnchorError",
    "anchor_completion",
    "anchor_digest",
    "anchor_message",
    "anchor_round",
    "audit_anchoring",
    "token_time",
    "verify_anchor_token",
]


class InvalidAnchorError(Exception):
    """A timestamp token that does not prove what its anchor says."""


def anchor_message(seq: int, head_hash: str) -> bytes:
    """The bytes whose SHA-256 the TSA timestamps for the chain's entry `seq`."""
    fields = {"purpose": "mynasign audit anchor", "v": ANCHOR_FORMAT_VERSION, "seq": seq,
              "hash": head_hash}  # fmt: skip
    return canonical_json(fields)


def anchor_digest(seq: int, head_hash: str) -> bytes:
    return hashlib.sha256(anchor_message(seq, head_hash)).digest()


def token_time(token_der: bytes) -> datetime.datetime:
    """The genTime of a timestamp token (a CMS ContentInfo with a TSTInfo)."""
    return _tst_info(token_der)["gen_time"].native  # type: ignore[no-any-return]


def _tst_info(token_der: bytes) -> tsp.TSTInfo:
    try:
        content = cms.ContentInfo.load(token_der)["content"]
        info = content["encap_content_info"]["content"].parsed
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidAnchorError("the timestamp token cannot be read") from exc
    if not isinstance(info, tsp.TSTInfo):
        raise InvalidAnchorError("the timestamp token holds no TSTInfo")
    return info


# --- making anchors (in worker threads: database, then the TSA, then the database) --------


@dataclass(frozen=True)
class _Token:
    der: bytes
    at: datetime.datetime


def _timestamp(ctx: ServiceContext, head: ChainHead) -> _Token:
    digest = anchor_digest(head.seq, head.hash)
    token = run_pdf_step(ctx.sealer.timestamper.async_timestamp(digest, DIGEST_ALGORITHM))
    der = token.dump()
    return _Token(der, token_time(der))


def _make_anchor(
    ctx: ServiceContext, kind: str, *, day: datetime.date | None = None,
    document_id: str | None = None,
) -> AuditAnchor | None:  # fmt: skip
    """Timestamp the current head and keep it; None when the log is empty or another
    instance made the same anchor first."""
    with ctx.sessions() as db:
        head = chain_head(db)
    if head is None:
        return None
    token = _timestamp(ctx, head)  # TimestampUnavailable / TimestampRequestError propagate
    anchor = AuditAnchor(
        kind=kind, day=day, document_id=document_id, head_seq=head.seq, head_hash=head.hash,
        token=token.der, timestamped_at=token.at, created_at=ctx.now(),
    )  # fmt: skip
    try:
        with ctx.sessions() as db, db.begin():
            db.add(anchor)
    except IntegrityError:
        return None
    return anchor


def anchor_completion(ctx: ServiceContext, document_id: str) -> AuditAnchor | None:
    """Anchor the head right after `document_id` completed (its `document.completed` event
    included). A failure is logged, not raised: `anchor_round` makes the anchor later."""
    try:
        return _make_anchor(ctx, COMPLETION, document_id=document_id)
    except Exception as exc:  # the TSA is down: the round tries again
        log.warning("audit anchor after completing %s not made yet: %s", document_id, exc)
        return None


def anchor_round(ctx: ServiceContext) -> list[AuditAnchor]:
    """Today's anchor if missing, and one for completions no anchor covers yet."""
    made: list[AuditAnchor] = []
    with leased(ctx.sessions, LEASE_NAME, clock=ctx.now, length=LEASE) as mine:
        if not mine:
            return made
        today = ctx.now().astimezone(JST).date()
        with ctx.sessions() as db:
            has_today = db.scalar(select(AuditAnchor.id).where(AuditAnchor.day == today))
            uncovered = _uncovered_completion(db)
        try:
            if has_today is None and (anchor := _make_anchor(ctx, DAILY, day=today)):
                made.append(anchor)
                uncovered = None  # the daily anchor covers every completion before it
            if uncovered is not None:
                anchor = _make_anchor(ctx, COMPLETION, document_id=uncovered)
                made.extend([anchor] if anchor is not None else [])
        except (TimestampUnavailable, TimestampRequestError, OSError) as exc:
            log.warning("audit anchor not made this round (the TSA): %s", exc)
    return made


def _uncovered_completion(db: Session) -> str | None:
    """The newest completed document whose `document.completed` event no anchor covers."""
    covered = db.scalar(select(func.max(AuditAnchor.head_seq))) or 0
    return db.scalar(
        select(AuditEvent.document_id)
        .where(AuditEvent.action == COMPLETED_ACTION, AuditEvent.seq > covered)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )


def audit_anchoring(ctx: ServiceContext, interval: float = ROUND_SECONDS) -> PeriodicTask:
    """The lifespan's background task running `anchor_round` every few minutes."""

    async def round_() -> None:
        await off_loop(anchor_round, ctx)

    return PeriodicTask("audit-anchoring", round_, interval)


# --- checking a token offline -----------------------------------------------------------


def verify_anchor_token(
    token_der: bytes, seq: int, head_hash: str, tsa_certificates: Sequence[bytes]
) -> datetime.datetime:
    """The token's time, once it is shown to be a TSA signature, by a certificate chaining
    to one of `tsa_certificates` (DER; the TSA's own or its root), over this anchor.

    Offline: nothing is fetched, and the certificates are judged at the token's time.
    Raises `InvalidAnchorError` saying why not.
    """
    info = _tst_info(token_der)
    when: datetime.datetime = info["gen_time"].native
    imprint = info["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm != DIGEST_ALGORITHM:
        raise InvalidAnchorError(f"the token's imprint uses {algorithm}, not {DIGEST_ALGORITHM}")
    if imprint["hashed_message"].native != anchor_digest(seq, head_hash):
        raise InvalidAnchorError(f"the token is not over entry {seq} with hash {head_hash}")
    roots = [asn1_x509.Certificate.load(der) for der in tsa_certificates]
    signed_data = cms.ContentInfo.load(token_der)["content"]
    context = ValidationContext(
        trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail", moment=when
    )
    expected = imprint["hashed_message"].native
    try:
        checked = asyncio.run(validate_tst_signed_data(signed_data, context, lambda _: expected))
        status = TimestampSignatureStatus(**checked)
    except Exception as exc:  # pyHanko's many ways of saying "not a valid signature"
        raise InvalidAnchorError(
            f"the timestamp token's signature cannot be checked: {exc}"
        ) from exc
    if not (status.intact and status.valid):
        raise InvalidAnchorError("the timestamp token's signature is not intact: it was changed")
    if not status.trusted:
        raise InvalidAnchorError("the timestamp token is not signed by the given TSA certificate")
    return when
