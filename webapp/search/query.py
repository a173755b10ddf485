"""The one search over a sender's documents: filters, order and paging as a SQL statement.

Indexes that keep it fast (migration 0005): (owner_id, amount), (owner_id, counterparty)
and, on PostgreSQL, trigram (pg_trgm) indexes on counterparty and title, which answer a
"contains" (`ILIKE '%…%'`) without reading every row. The figures are in
docs/performance.md (`python -m benchmarks document_search`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from webapp.db.models import Document, DocumentStatus
from webapp.errors import DomainError

TEXT_MAX_LENGTH = 200
SORT_KEYS = ("created_at", "transaction_date", "amount", "counterparty", "title")
"""What a result can be ordered by; ties are broken by creation time, then ID."""
AMOUNT_LIMIT = Decimal("9999999999999999.99")
_SORT_COLUMNS: dict[str, Any] = {
    "created_at": Document.created_at,
    "transaction_date": Document.transaction_date,
    "amount": Document.amount,
    "counterparty": Document.counterparty,
    "title": Document.title,
}


@dataclass(frozen=True)
class DocumentSearch:
    """What the sender asked for; every given filter must hold (AND). Checked when made."""

    status: DocumentStatus | None = None
    q: str | None = None
    """Title or counterparty contains this (case-insensitive)."""
    counterparty: str | None = None
    """Counterparty contains this (case-insensitive)."""
    date_from: datetime.date | None = None
    """Transaction date on or after."""
    date_to: datetime.date | None = None
    """Transaction date on or before."""
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    sort: str = "created_at"
    descending: bool = True

    def __post_init__(self) -> None:
        for name in ("q", "counterparty"):
            value = getattr(self, name)
            cleaned = value.strip() if value is not None else None
            if cleaned is not None and len(cleaned) > TEXT_MAX_LENGTH:
                raise DomainError("search_text_too_long", limit=TEXT_MAX_LENGTH)
            object.__setattr__(self, name, cleaned or None)
        for amount in (self.amount_min, self.amount_max):
            if amount is not None and (
                not amount.is_finite() or amount < 0 or amount > AMOUNT_LIMIT
            ):
                raise DomainError("amount_invalid")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise DomainError("search_date_range_invalid")
        if (
            self.amount_min is not None
            and self.amount_max is not None
            and self.amount_min > self.amount_max
        ):
            raise DomainError("search_amount_range_invalid")
        if self.sort not in SORT_KEYS:
            raise DomainError("search_sort_invalid", keys=", ".join(SORT_KEYS))

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the result (for "nothing found" against "nothing yet")."""
        return any(
            value is not None
            for value in (
                self.status, self.q, self.counterparty, self.date_from, self.date_to,
                self.amount_min, self.amount_max,
            )
        )  # fmt: skip


@dataclass(frozen=True)
class SearchPage:
    """One page of the result, and how many documents match in all."""

    documents: list[Document]
    total: int
    limit: int
    offset: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.documents) < self.total


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    """`column` contains `text`, any case; `%`, `_` and `\\` in `text` mean themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    condition: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return condition


def _conditions(owner_id: str, search: DocumentSearch) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Document.owner_id == owner_id]
    if search.status is not None:
        where.append(Document.status == search.status)
    if search.q:
        where.append(
            or_(_contains(Document.title, search.q), _contains(Document.counterparty, search.q))
        )
    if search.counterparty:
        where.append(_contains(Document.counterparty, search.counterparty))
    if search.date_from is not None:
        where.append(Document.transaction_date >= search.date_from)
    if search.date_to is not None:
        where.append(Document.transaction_date <= search.date_to)
    if search.amount_min is not None:
        where.append(Document.amount >= search.amount_min)
    if search.amount_max is not None:
        where.append(Document.amount <= search.amount_max)
    return where


def search_statement(owner_id: str, search: DocumentSearch) -> Select[Document]:
    """The owner's documents matching `search`, in the asked order (empty values last)."""
    column = _SORT_COLUMNS[search.sort]
    direction = column.desc() if search.descending else column.asc()
    tie = Document.created_at.desc() if search.descending else Document.created_at.asc()
    ident = Document.id.desc() if search.descending else Document.id.asc()
    order = [direction.nulls_last(), tie, ident]
    if search.sort == "created_at":
        order = [tie, ident]
    return select(Document).where(*_conditions(owner_id, search)).order_by(*order)


def search_documents(
    db: Session, owner_id: str, search: DocumentSearch, *, limit: int, offset: int
) -> SearchPage:
    """One page of the result and the number of matches (two statements, same filters)."""
    rows = list(db.scalars(search_statement(owner_id, search).limit(limit).offset(offset)))
    if offset == 0 and len(rows) < limit:
        total = len(rows)
    else:
        count = select(func.count()).select_from(Document).where(*_conditions(owner_id, search))
        total = db.scalar(count) or 0
    return SearchPage(rows, total, limit, offset)
