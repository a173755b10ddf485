"""Every model of the service, imported from one place (the tables live in small modules)."""

from __future__ import annotations

from webapp.db.accounts import ApiToken, User, normalize_email
from webapp.db.archive import ArchiveState  # issue 12: timestamp renewal
from webapp.db.base import Base
from webapp.db.documents import Document, DocumentRevision
from webapp.db.enums import (
    ActorKind,
    CardSessionState,
    DocumentStatus,
    RecipientStatus,
    RevisionKind,
)
from webapp.db.evidence import AgreementCertificate, AuditAnchor  # issue 12: records
from webapp.db.leases import Lease
from webapp.db.parties import CardSession, Recipient, RecipientSession, RevocationList
from webapp.db.records import AuditEvent, AuditLogIsAppendOnlyError, OutgoingMail
from webapp.db.types import new_document_id, new_id, utc_now

__all__ = [
    "ActorKind",
    "AgreementCertificate",
    "ApiToken",
    "ArchiveState",
    "AuditAnchor",
    "AuditEvent",
    "AuditLogIsAppendOnlyError",
    "Base",
    "CardSession",
    "CardSessionState",
    "Document",
    "DocumentRevision",
    "DocumentStatus",
    "Lease",
    "OutgoingMail",
    "Recipient",
    "RecipientSession",
    "RecipientStatus",
    "RevisionKind",
    "RevocationList",
    "User",
    "new_document_id",
    "new_id",
    "normalize_email",
    "utc_now",
]
