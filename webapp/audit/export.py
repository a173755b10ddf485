"""`mynasign audit export` / `verify`: the chain and its TSA tokens in one file, checked offline.

The file is UTF-8 JSON Lines: a header, then every anchor (the TSA's token over an entry's
hash), then every event in seq order with exactly the fields its hash covers:

    {"type": "header", "format": "mynasign-audit-export", "version": 1, "hash_format": 1, ...}
    {"type": "anchor", "seq": 41, "hash": "…", "kind": "daily", "token": "<base64 DER>", ...}
    {"type": "event", "seq": 1, "occurred_at": "2026-12-06T12:00:00.000000Z", ..., "hash": "…"}

`verify_export` needs nothing but the file and the TSA's certificate: it recomputes every
hash and link (a changed, removed or reordered entry is named by its seq), checks each
token's signature against the certificate, and checks that each anchored entry still has
the hash the TSA saw (an insider who rewrote entries and recomputed the hashes after them
is caught by the next anchor). Entries after the newest anchor are whole as a chain but
not yet proven against rewriting: the report says from which seq on.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from webapp.audit import (
    GENESIS_HASH,
    HASH_FORMAT_VERSION,
    ChainHead,
    chain_head,
    fields_hash,
    format_occurred_at,
)
from webapp.audit.anchors import InvalidAnchorError, verify_anchor_token
from webapp.db.engine import SQLITE_DEFERRED
from webapp.db.models import AuditAnchor, AuditEvent

EXPORT_FORMAT = "mynasign-audit-export"
EXPORT_VERSION = 1
BATCH = 1000
HASHED_FIELDS = (
    "seq", "occurred_at", "document_id", "actor_kind", "actor", "action", "detail", "ip",
    "user_agent",
)  # fmt: skip


@dataclass(frozen=True)
class ExportSummary:
    events: int
    anchors: int
    head: ChainHead | None


@dataclass(frozen=True)
class VerifyReport:
    """Whole (`ok`), or the first entry that is not, and why."""

    ok: bool
    first_bad_seq: int | None
    reason: str | None
    events: int
    anchors: int
    last_anchored_seq: int | None
    """Entries after this one are whole as a chain but no timestamp proves them yet."""
    last_anchored_at: datetime.datetime | None


def _line(value: dict[str, Any]) -> bytes:
    return (
        json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
        + b"\n"
    )


def export_chain(engine: Engine, output: BinaryIO, *, now: datetime.datetime) -> ExportSummary:
    """Write the whole chain up to its current head, with the anchors that cover it."""
    reader = (
        engine.execution_options(**SQLITE_DEFERRED) if engine.dialect.name == "sqlite" else engine
    )
    with Session(reader) as db:
        head = chain_head(db)
        last = head.seq if head else 0
        anchors = list(
            db.scalars(
                select(AuditAnchor)
                .where(AuditAnchor.head_seq <= last)
                .order_by(AuditAnchor.head_seq)
            )
        )
        output.write(
            _line({
                "type": "header", "format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                "hash_format": HASH_FORMAT_VERSION, "genesis": GENESIS_HASH,
                "exported_at": format_occurred_at(now), "events": last, "anchors": len(anchors),
            })
        )  # fmt: skip
        for anchor in anchors:
            output.write(
                _line({
                    "type": "anchor", "seq": anchor.head_seq, "hash": anchor.head_hash,
                    "kind": anchor.kind, "token": base64.b64encode(anchor.token).decode("ascii"),
                    "timestamped_at": format_occurred_at(anchor.timestamped_at),
                })
            )  # fmt: skip
        table = AuditEvent.__table__
        rows = db.execute(select(table).where(table.c.seq <= last).order_by(table.c.seq)).yield_per(
            BATCH
        )
        count = 0
        for row in rows:
            count += 1
            event = {name: getattr(row, name) for name in HASHED_FIELDS}
            event["occurred_at"] = format_occurred_at(row.occurred_at)
            event["actor_kind"] = str(row.actor_kind)
            output.write(
                _line({"type": "event", **event, "prev_hash": row.prev_hash, "hash": row.hash})
            )
    return ExportSummary(count, len(anchors), head)


# --- verify -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Anchor:
    seq: int
    hash: str
    at: datetime.datetime


class _BrokenError(Exception):
    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


def verify_export(lines: Iterable[bytes], tsa_certificates: Sequence[bytes]) -> VerifyReport:
    """Check an export offline (see the module's docstring); never raises on bad input."""
    state = _Walk()
    try:
        state.walk(iter(lines), tsa_certificates)
    except _BrokenError as broken:
        return state.report(broken.seq, broken.reason)
    return state.report(None, None)


class _Walk:
    """The verifier's progress: what has been checked so far."""

    def __init__(self) -> None:
        self.events = 0
        self.anchors: dict[int, list[_Anchor]] = {}
        self.anchor_count = 0
        self.last_good_anchor: _Anchor | None = None
        self.seq = 0
        self.prev_hash = GENESIS_HASH
        self.line_number = 0

    def report(self, seq: int | None, reason: str | None) -> VerifyReport:
        anchor = self.last_good_anchor
        return VerifyReport(
            ok=reason is None, first_bad_seq=seq, reason=reason, events=self.events,
            anchors=self.anchor_count, last_anchored_seq=anchor.seq if anchor else None,
            last_anchored_at=anchor.at if anchor else None,
        )  # fmt: skip

    def walk(self, lines: Iterator[bytes], tsa_certificates: Sequence[bytes]) -> None:
        header = self._next(lines)
        if (
            header is None
            or header.get("type") != "header"
            or header.get("format") != EXPORT_FORMAT
        ):
            raise _BrokenError(None, "this is not a mynasign audit export (no header line)")
        if (
            header.get("version") != EXPORT_VERSION
            or header.get("hash_format") != HASH_FORMAT_VERSION
        ):
            raise _BrokenError(None, f"unknown export version {header.get('version')!r}")
        expected_events = header.get("events")
        while (item := self._next(lines)) is not None:
            kind = item.get("type")
            if kind == "anchor" and self.events == 0:
                self._anchor(item, tsa_certificates)
            elif kind == "event":
                self._event(item)
            else:
                raise _BrokenError(
                    self.seq + 1, f"line {self.line_number} is not an entry of the chain"
                )
        pending = [seq for seq in self.anchors if seq > self.seq]
        if pending:
            raise _BrokenError(
                self.seq + 1,
                f"entries from seq {self.seq + 1} on are missing, yet a timestamp covers "
                f"entries up to seq {max(pending)}",
            )
        if isinstance(expected_events, int) and expected_events != self.events:
            raise _BrokenError(
                self.seq + 1,
                f"the header announces {expected_events} entries, the file has {self.events}",
            )

    def _next(self, lines: Iterator[bytes]) -> dict[str, Any] | None:
        for raw in lines:
            self.line_number += 1
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise _BrokenError(
                    self.seq + 1 if self.line_number > 1 else None,
                    f"line {self.line_number} cannot be read (changed or cut)",
                ) from None
            if not isinstance(value, dict):
                raise _BrokenError(self.seq + 1, f"line {self.line_number} is not a JSON object")
            return value
        return None

    def _anchor(self, item: dict[str, Any], tsa_certificates: Sequence[bytes]) -> None:
        seq, head_hash, token = item.get("seq"), item.get("hash"), item.get("token")
        if not isinstance(seq, int) or not isinstance(head_hash, str) or not isinstance(token, str):
            raise _BrokenError(None, f"the timestamp on line {self.line_number} is incomplete")
        try:
            der = base64.b64decode(token, validate=True)
            at = verify_anchor_token(der, seq, head_hash, tsa_certificates)
        except (binascii.Error, ValueError, InvalidAnchorError) as exc:
            raise _BrokenError(
                seq, f"the timestamp of entry {seq} (line {self.line_number}) is invalid: {exc}"
            ) from None
        self.anchors.setdefault(seq, []).append(_Anchor(seq, head_hash, at))
        self.anchor_count += 1

    def _event(self, item: dict[str, Any]) -> None:
        expected = self.seq + 1
        seq = item.get("seq")
        if seq != expected:
            raise _BrokenError(
                expected, f"expected entry {expected}, found {seq!r}: entries missing or reordered"
            )
        if item.get("prev_hash") != self.prev_hash:
            raise _BrokenError(
                seq, "prev_hash is not the previous entry's hash: entries removed or reordered"
            )
        fields = {name: item.get(name) for name in HASHED_FIELDS}
        try:
            recomputed = fields_hash(self.prev_hash, {"v": HASH_FORMAT_VERSION, **fields})
        except (TypeError, ValueError, UnicodeEncodeError):
            recomputed = None
        if recomputed is None or recomputed != item.get("hash"):
            raise _BrokenError(seq, "the entry's content does not match its hash: it was changed")
        for anchor in self.anchors.get(seq, []):
            if anchor.hash != recomputed:
                since = self.last_good_anchor.seq + 1 if self.last_good_anchor else 1
                raise _BrokenError(
                    since,
                    f"entries {since} to {seq} were rewritten after the TSA timestamped entry "
                    f"{seq} at {anchor.at.isoformat()}",
                )
            self.last_good_anchor = anchor
        self.seq, self.prev_hash = expected, recomputed
        self.events += 1
