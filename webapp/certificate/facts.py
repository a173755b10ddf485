"""What an agreement certificate states, gathered from the records and the final PDF.

Every party's steps come from the audit chain (time, IP address), the way each party was
identified from the party's record (mail link, access code, My Number Card), and a card
signer's certificate details from the signature in the final PDF itself: the name (as the
card check read it), the certificate's serial number and its issuer. Nothing else is read
from a card's certificate: never the address or the date of birth it also holds.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import BinaryIO

from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.audit import events_for_document
from webapp.db.models import AuditEvent, CardSession, CardSessionState, Document, Recipient

PARTY_ACTIONS = (
    "recipient.opened", "recipient.agreed", "recipient.rejected", "recipient.forwarded",
    "recipient.card_signed",
)  # fmt: skip


@dataclass(frozen=True)
class Step:
    """One thing a party did, as the certificate lists it."""

    at: datetime.datetime
    what: tuple[str, str]
    """Japanese, English."""
    method: tuple[str, str]
    ip: str | None


@dataclass(frozen=True)
class CardSigner:
    """A card signature's certificate as the certificate shows it (no address, no birth date)."""

    name: str
    serial: str
    issuer: str


@dataclass(frozen=True)
class PartyFacts:
    position: int
    name: str
    email: str
    is_sender: bool
    forwarded_from: str | None
    steps: list[Step] = field(default_factory=list)
    card: CardSigner | None = None


@dataclass(frozen=True)
class CertificateFacts:
    certificate_id: str
    document_id: str
    title: str
    final_sha256: str
    final_revision: int
    sender_name: str
    sender_email: str
    sent_at: datetime.datetime | None
    closing_timestamp_at: datetime.datetime | None
    """The time in the final PDF's document timestamp (from the TSA)."""
    timestamp_authority: str | None
    issued_at: datetime.datetime
    service_url: str
    parties: list[PartyFacts]


@dataclass(frozen=True)
class PdfEvidence:
    """What the final PDF itself shows: card signers' certificates, the closing timestamp."""

    card_signers: dict[str, CardSigner]
    """By signature field name."""
    closing_at: datetime.datetime | None
    tsa: str | None


def read_pdf_evidence(final_pdf: BinaryIO, card_names: dict[str, str]) -> PdfEvidence:
    """Card signers' certificate serial and issuer (by field), the last document timestamp."""
    reader = PdfFileReader(final_pdf, strict=False)
    signers: dict[str, CardSigner] = {}
    for signature in reader.embedded_regular_signatures:
        name = card_names.get(signature.field_name)
        if name is None:
            continue
        certificate = signature.signer_cert
        signers[signature.field_name] = CardSigner(
            name=name, serial=format(certificate.serial_number, "X"),
            issuer=certificate.issuer.human_friendly,
        )  # fmt: skip
    closing_at, tsa = None, None
    stamps = reader.embedded_timestamp_signatures
    if stamps:
        newest = stamps[-1]
        tst_info = newest.signed_data["encap_content_info"]["content"].parsed
        closing_at = tst_info["gen_time"].native
        tsa = newest.signer_cert.subject.human_friendly
    return PdfEvidence(signers, closing_at, tsa)


def gather(
    db: Session,
    document: Document,
    *,
    certificate_id: str,
    evidence: PdfEvidence,
    final_sha256: str,
    final_revision: int,
    issued_at: datetime.datetime,
    service_url: str,
) -> CertificateFacts:
    """Everything the certificate of `document` says (`evidence`: from its final PDF)."""
    rows = db.execute(
        select(CardSession.recipient_id, CardSession.field_name)
        .join(Recipient)
        .where(
            Recipient.document_id == document.id,
            CardSession.state == CardSessionState.COMPLETED,
            CardSession.field_name.is_not(None),
        )
    )
    card_fields = {row.recipient_id: row.field_name for row in rows}
    events = events_for_document(db, document.id)
    by_id = {r.id: r for r in document.recipients}
    parties = []
    for recipient in document.recipients:
        party_events = [e for e in events if e.detail.get("recipient_id") == recipient.id]
        card_field = card_fields.get(recipient.id)
        previous = by_id.get(recipient.forwarded_from_id or "")
        party = PartyFacts(
            position=recipient.position, name=recipient.name, email=recipient.email,
            is_sender=recipient.is_sender,
            forwarded_from=previous.name if previous is not None else None,
            steps=_steps(party_events, recipient, by_id),
            card=evidence.card_signers.get(card_field) if card_field else None,
        )  # fmt: skip
        parties.append(party)
    return CertificateFacts(
        certificate_id=certificate_id, document_id=document.id, title=document.title,
        final_sha256=final_sha256, final_revision=final_revision,
        sender_name=document.owner.display_name, sender_email=document.owner.email,
        sent_at=document.sent_at, closing_timestamp_at=evidence.closing_at,
        timestamp_authority=evidence.tsa, issued_at=issued_at, service_url=service_url,
        parties=parties,
    )  # fmt: skip


MAIL_LINK = ("メールのリンク", "Mail link")
ACCESS_CODE = ("アクセスコード", "Access code")
PLATFORM_SEAL = ("メールのリンク（サービスの電子印）", "Mail link (the service's seal)")
CARD = ("マイナンバーカード（署名用電子証明書）", "My Number Card (signing certificate)")


def _steps(
    events: list[AuditEvent], recipient: Recipient, parties: dict[str, Recipient]
) -> list[Step]:
    steps: list[Step] = []
    for event in events:
        if event.action not in PARTY_ACTIONS:
            continue
        at, ip = event.occurred_at, event.ip
        if event.action == "recipient.opened":
            steps.append(Step(at, ("開封", "Opened"), MAIL_LINK, ip))
            if recipient.access_code_hash is not None:  # opening needs the right code
                steps.append(
                    Step(at, ("アクセスコード認証", "Access code passed"), ACCESS_CODE, ip)
                )
        elif event.action == "recipient.card_signed":
            steps.append(Step(at, ("カード署名", "Signed with the card"), CARD, ip))
        elif event.action == "recipient.agreed":
            method = CARD if recipient.require_card else PLATFORM_SEAL
            steps.append(Step(at, ("同意", "Agreed"), method, ip))
        elif event.action == "recipient.rejected":
            steps.append(Step(at, ("却下", "Rejected"), MAIL_LINK, ip))
        elif event.action == "recipient.forwarded":
            successor = parties.get(str(event.detail.get("to_recipient_id")))
            to = successor.name if successor is not None else str(event.detail.get("to_email"))
            steps.append(Step(at, (f"転送（{to} 様へ）", f"Forwarded (to {to})"), MAIL_LINK, ip))
    return steps
