"""What a verification reports: typed, for the JSON API and the page alike."""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import BaseModel, Field

SignerKind = Literal["card", "platform", "tsa", "other"]
PadesLevel = Literal["B-B", "B-T", "B-LT", "B-LTA"]


class Problem(BaseModel):
    """Why a signature is not intact or not trusted."""

    code: Literal["modified", "invalid", "untrusted", "revoked", "malformed"]
    message_ja: str
    message_en: str


class SignatureReport(BaseModel):
    """One signature or document timestamp in the PDF, oldest first."""

    field_name: str
    kind: Literal["signature", "document_timestamp"]
    signer_kind: SignerKind = Field(
        description="card: a My Number Card (JPKI) signature; platform: this service's seal; "
        "tsa: a document timestamp; other: anyone else"
    )
    signer: str | None = Field(
        description="the signer's name (never a card's address or birth date)"
    )
    certificate_serial: str | None = Field(description="the signer certificate's serial, hex")
    certificate_issuer: str | None
    signed_at: datetime.datetime | None
    time_source: Literal["timestamp", "claimed"] | None = Field(
        description="timestamp: the time comes from a timestamp token; claimed: the signer's own"
    )
    intact: bool = Field(description="the signed bytes are unchanged and the signature is sound")
    trusted: bool = Field(description="the certificate chains to a root this service trusts")
    covers_whole_file: bool = Field(description="nothing was appended after this one")
    level: PadesLevel | None = Field(description="PAdES baseline level; None for timestamps")
    problems: list[Problem] = Field(default_factory=list, description="why not intact or trusted")


class RecordMatch(BaseModel):
    """The file compared with the revisions this service keeps (by SHA-256)."""

    found: bool
    document_id: str | None = None
    revision: int | None = None
    current_revision: int | None = None
    is_final: bool = Field(
        default=False, description="the completed document's last revision on record"
    )
    message_ja: str
    message_en: str


class VerificationReport(BaseModel):
    """Every signature and timestamp of one PDF, and whether this service made it."""

    sha256: str
    size: int
    signatures: list[SignatureReport]
    all_valid: bool = Field(description="at least one signature, and every one intact and trusted")
    record: RecordMatch
    summary_ja: str
    summary_en: str
