"""Every combination of the search filters against a seeded database, on SQLite and PostgreSQL.

The expected result of each search is worked out in Python from the seeded rows (the
oracle), so a filter that is dropped, inverted or applied to another owner's documents
fails here.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.webapp.db.factories import add_document, add_user
from webapp.db.models import DocumentStatus
from webapp.errors import DomainError
from webapp.search import DocumentSearch, search_documents
from webapp.search.export import csv_rows

D = datetime.date
COUNTERPARTIES = ["株式会社テスト", "テスト商事", "Acme Corp", "ACME japan", "100%_Rabbit", None]
AMOUNTS = [Decimal("0"), Decimal("5000"), Decimal("120000.50"), Decimal("999999"), None]
DATES = [D(2024, 12, 31), D(2025, 1, 1), D(2025, 6, 15), D(2025, 12, 31), None]
STATUSES = [DocumentStatus.DRAFT, DocumentStatus.SENT, DocumentStatus.COMPLETED]


@dataclass(frozen=True)
class Seeded:
    id: str
    title: str
    counterparty: str | None
    amount: Decimal | None
    transaction_date: datetime.date | None
    status: DocumentStatus
    created_at: datetime.datetime


def seed(db: Session) -> tuple[str, list[Seeded]]:
    """60 documents of one sender with every kind of value, and a stranger's look-alikes."""
    owner, stranger = add_user(db), add_user(db, email="stranger@example.jp")
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    rows: list[Seeded] = []
    for n in range(60):
        fields = {
            "title": f"契約書 {n:02d}" + (" =SUM(A1)" if n == 7 else ""),
            "counterparty": COUNTERPARTIES[n % len(COUNTERPARTIES)],
            "amount": AMOUNTS[n % len(AMOUNTS)],
            "transaction_date": DATES[(n // 2) % len(DATES)],
            "status": STATUSES[(n // 3) % len(STATUSES)],
            "created_at": start + datetime.timedelta(hours=n),
        }
        document = add_document(db, owner, **fields)
        rows.append(Seeded(document.id, **fields))  # type: ignore[arg-type]
        add_document(db, stranger, **fields)
    db.commit()
    return owner.id, rows


def matches(row: Seeded, search: DocumentSearch) -> bool:
    def contains(value: str | None, text: str | None) -> bool:
        return text is None or (value is not None and text.casefold() in value.casefold())

    date, amount = row.transaction_date, row.amount
    return (
        (search.status is None or row.status == search.status)
        and contains(row.counterparty, search.counterparty)
        and (
            search.q is None
            or contains(row.title, search.q)
            or contains(row.counterparty, search.q)
        )
        and (search.date_from is None or (date is not None and date >= search.date_from))
        and (search.date_to is None or (date is not None and date <= search.date_to))
        and (search.amount_min is None or (amount is not None and amount >= search.amount_min))
        and (search.amount_max is None or (amount is not None and amount <= search.amount_max))
    )


FILTERS: dict[str, list[object]] = {
    "status": [DocumentStatus.SENT],
    "q": ["テスト", "acme"],
    "counterparty": ["テスト", "ACME", "%_", "Corp"],
    "date_from": [D(2025, 1, 1)],
    "date_to": [D(2025, 6, 15)],
    "amount_min": [Decimal("5000")],
    "amount_max": [Decimal("120000.50")],
}


def all_searches() -> list[DocumentSearch]:
    """Each filter alone, each pair, and all of them at once (every value of each)."""
    names = list(FILTERS)
    searches = [DocumentSearch()]
    for size in (1, 2, len(names)):
        for chosen in itertools.combinations(names, size):
            for values in itertools.product(*(FILTERS[name] for name in chosen)):
                searches.append(DocumentSearch(**dict(zip(chosen, values, strict=True))))  # type: ignore[arg-type]
    return searches


def test_every_combination_finds_exactly_the_matching_documents(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as db:
        owner_id, rows = seed(db)
        searches = all_searches()
        assert len(searches) > 60
        nonempty = 0
        for search in searches:
            found = search_documents(db, owner_id, search, limit=200, offset=0)
            expected = {row.id for row in rows if matches(row, search)}
            assert {d.id for d in found.documents} == expected, search
            assert found.total == len(expected)
            nonempty += bool(expected)
        assert nonempty > len(searches) // 3  # the seed makes most searches find something


def test_percent_and_underscore_mean_themselves(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as db:
        owner_id, rows = seed(db)
        found = search_documents(
            db, owner_id, DocumentSearch(counterparty="0%_R"), limit=200, offset=0
        )
        assert found.total == sum(row.counterparty == "100%_Rabbit" for row in rows) > 0
        none = search_documents(db, owner_id, DocumentSearch(counterparty="_"), limit=200, offset=0)
        assert {d.counterparty for d in none.documents} == {"100%_Rabbit"}


@pytest.mark.parametrize(
    "sort", ["created_at", "transaction_date", "amount", "counterparty", "title"]
)
@pytest.mark.parametrize("descending", [True, False])
def test_sorted_and_paged_with_empty_values_last(
    session_factory: sessionmaker[Session], sort: str, descending: bool
) -> None:
    with session_factory() as db:
        owner_id, rows = seed(db)
        search = DocumentSearch(sort=sort, descending=descending, date_from=D(2024, 1, 1))
        pages = [
            search_documents(db, owner_id, search, limit=7, offset=offset)
            for offset in range(0, 70, 7)
        ]
        seen = [d for page in pages for d in page.documents]
        expected = [row for row in rows if matches(row, search)]
        assert [d.id for d in seen] == list(dict.fromkeys(d.id for d in seen))  # no repeats
        assert {d.id for d in seen} == {row.id for row in expected}
        assert pages[0].total == len(expected) and pages[0].has_next
        values = [getattr(d, sort) for d in seen]
        present = [v for v in values if v is not None]
        assert values[: len(present)] == present  # empty values come last
        assert present == sorted(present, reverse=descending)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"date_from": D(2025, 2, 1), "date_to": D(2025, 1, 1)}, "search_date_range_invalid"),
        ({"amount_min": Decimal(10), "amount_max": Decimal(9)}, "search_amount_range_invalid"),
        ({"amount_min": Decimal(-1)}, "amount_invalid"),
        ({"amount_max": Decimal("NaN")}, "amount_invalid"),
        ({"sort": "password_hash"}, "search_sort_invalid"),
        ({"q": "x" * 201}, "search_text_too_long"),
    ],
)
def test_a_wrong_search_is_refused_with_a_code(fields: dict[str, object], code: str) -> None:
    with pytest.raises(DomainError) as caught:
        DocumentSearch(**fields)  # type: ignore[arg-type]
    assert caught.value.code == code
    assert caught.value.text("ja") and caught.value.text("en")


def test_csv_has_every_match_and_no_formula(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as db:
        owner_id, _rows = seed(db)
        lines = list(csv_rows(db, owner_id, DocumentSearch(q="契約書 07")))
    assert lines[0].startswith("\ufeff文書ID")
    assert len(lines) == 2
    assert "'契約書 07 =SUM(A1)" not in lines[1]  # only a cell that starts with = is guarded
    assert lines[1].endswith("\r\n")
