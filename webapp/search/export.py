"""The search result as CSV for Excel: UTF-8 with a BOM, and no cell read as a formula.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return as a formula (CSV injection, OWASP): such a text cell is written with a leading
`'`, which Excel shows as text. Numbers and dates are written as they are.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from sqlalchemy.orm import Session

from webapp.db.models import Document
from webapp.search.query import DocumentSearch, search_statement

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 500
JST = datetime.timezone(datetime.timedelta(hours=9), "JST")
HEADER = (
    "文書ID (document_id)",
    "件名 (title)",
    "取引先 (counterparty)",
    "取引年月日 (transaction_date)",
    "取引金額 (amount)",
    "状態 (status)",
    "作成日時 JST (created_at)",
    "送信日時 JST (sent_at)",
    "締結日時 JST (completed_at)",
)


def safe_cell(value: str | None) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    if not value:
        return ""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _time(moment: datetime.datetime | None) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _amount(amount: Decimal | None) -> str:
    if amount is None:
        return ""
    return f"{amount:.0f}" if amount == amount.to_integral_value() else f"{amount:.2f}"


def _row(document: Document) -> tuple[str, ...]:
    return (
        document.id,
        safe_cell(document.title),
        safe_cell(document.counterparty),
        document.transaction_date.isoformat() if document.transaction_date else "",
        _amount(document.amount),
        document.status.value,
        _time(document.created_at),
        _time(document.sent_at),
        _time(document.completed_at),
    )


def csv_rows(db: Session, owner_id: str, search: DocumentSearch) -> Iterator[str]:
    """The BOM and header, then one CSV line (CRLF) per matching document, in order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    yield BOM + buffer.getvalue()
    statement = search_statement(owner_id, search).execution_options(yield_per=BATCH)
    for document in db.scalars(statement):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(_row(document))
        yield buffer.getvalue()


def write_csv(db: Session, owner_id: str, search: DocumentSearch, out: IO[bytes]) -> None:
    """The whole result, UTF-8 encoded, into `out` (a spooled temporary file, say)."""
    for line in csv_rows(db, owner_id, search):
        out.write(line.encode("utf-8"))


def csv_filename(today: datetime.date) -> str:
    return f"mynasign-documents-{today.isoformat()}.csv"
