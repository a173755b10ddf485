"""The sender's search (電子帳簿保存法) at 100,000 documents on PostgreSQL, with and without
its indexes.

A fresh PostgreSQL database (the test server, `MYNASIGN_TEST_POSTGRES_URL`), migrated to
head, gets 100,000 documents of one sender (plus 20,000 of another): 3,000 counterparties,
amounts up to ¥50,000,000, transaction dates over ten years, every status. Each search runs
as the list page and the API run it (`webapp.search.search_documents`: one page of 50 and
the total count). Baseline in the same run: the same searches after dropping the indexes
migration 0005 adds (the ones on owner and created_at, status and transaction date stay).
Medians of ROUNDS, after one warm-up run each.
"""

from __future__ import annotations

import datetime
import os
import random
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

from sqlalchemy import create_engine, insert, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from webapp.db.engine import make_engine
from webapp.db.migrate import upgrade
from webapp.db.models import Document, DocumentStatus, User
from webapp.search import DocumentSearch, search_documents

DOCUMENTS = 100_000
OTHER_DOCUMENTS = 20_000
ROUNDS = 15
TARGET_MS = 100.0
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ISSUE_12_INDEXES = ("ix_documents_owner_id_amount", "ix_documents_counterparty_trgm",
                    "ix_documents_title_trgm")  # fmt: skip
D = datetime.date
SEARCHES: dict[str, DocumentSearch] = {
    "no filter (newest first)": DocumentSearch(),
    "counterparty contains": DocumentSearch(counterparty="山田商"),
    "transaction date range (1 month)": DocumentSearch(
        date_from=D(2024, 3, 1), date_to=D(2024, 3, 31), sort="transaction_date"
    ),
    "amount range": DocumentSearch(
        amount_min=Decimal("1000000"), amount_max=Decimal("1010000"), sort="amount"
    ),
    "counterparty + date + amount": DocumentSearch(
        counterparty="商事",
        date_from=D(2022, 1, 1),
        date_to=D(2023, 12, 31),
        amount_min=Decimal("100000"),
        amount_max=Decimal("5000000"),
    ),
    "q (title or counterparty)": DocumentSearch(q="山田商"),
    "status + amount, by amount": DocumentSearch(
        status=DocumentStatus.COMPLETED, amount_min=Decimal("49000000"), sort="amount"
    ),
}


def _names(rng: random.Random) -> list[str]:
    family = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤"]
    kinds = ["商事", "工業", "物産", "建設", "電機", "システムズ", "Holdings", "Trading"]
    return [
        f"{rng.choice(['株式会社', '合同会社', ''])}{rng.choice(family)}{rng.choice(kinds)}"
        f"{rng.randrange(1000):03d}"
        for _ in range(3000)
    ]


def _amount(rng: random.Random) -> Decimal | None:
    return Decimal(rng.randrange(0, 5_000_000_000)) / 100 if rng.random() > 0.05 else None


def _rows(
    owner: str, count: int, rng: random.Random, names: list[str]
) -> Iterator[dict[str, object]]:
    start = datetime.datetime(2016, 1, 1, tzinfo=datetime.UTC)
    statuses = list(DocumentStatus)
    for n in range(count):
        yield {
            "id": secrets.token_hex(13).upper(), "owner_id": owner,
            "title": f"{rng.choice(['業務委託', '売買', '秘密保持', '賃貸借'])}契約書 第{n}号",
            "counterparty": rng.choice(names) if rng.random() > 0.05 else None,
            "amount": _amount(rng),
            "transaction_date": D(2016, 1, 1) + datetime.timedelta(days=rng.randrange(3650)),
            "status": rng.choice(statuses),
            "created_at": start + datetime.timedelta(minutes=n * 50),
            "data_key_wrapped": b"\x01" * 49, "current_revision": 1,
            "attach_pdf_to_completion_mail": True,
        }  # fmt: skip


def _seed(engine: Engine) -> str:
    rng = random.Random(12)  # noqa: S311 - test data
    names = _names(rng)
    with Session(engine) as db:
        owner = User(email="bench@example.jp", display_name="ベンチ", password_hash="x")
        other = User(email="other@example.jp", display_name="他", password_hash="x")
        db.add_all([owner, other])
        db.commit()
        owner_id, other_id = owner.id, other.id
    for who, count in ((owner_id, DOCUMENTS), (other_id, OTHER_DOCUMENTS)):
        rows = list(_rows(who, count, rng, names))
        with engine.begin() as connection:
            for start in range(0, len(rows), 5000):
                connection.execute(insert(Document), rows[start : start + 5000])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE documents"))
    return owner_id


def _median_ms(engine: Engine, owner_id: str, search: DocumentSearch) -> tuple[float, int]:
    def once() -> int:
        with Session(engine) as db:
            return search_documents(db, owner_id, search, limit=50, offset=0).total

    total = once()
    times = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        once()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), total


def _measure(engine: Engine, owner_id: str) -> dict[str, tuple[float, int]]:
    return {name: _median_ms(engine, owner_id, search) for name, search in SEARCHES.items()}


def _with_database(body: Callable[[str], Iterator[str]]) -> Iterator[str]:
    admin_url = make_url(os.environ.get("MYNASIGN_TEST_POSTGRES_URL", DEFAULT_URL))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"mynasign_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield from body(admin_url.set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _run(url: str) -> Iterator[str]:
    upgrade(url)
    engine = make_engine(url)
    try:
        began = time.perf_counter()
        owner_id = _seed(engine)
        seconds = time.perf_counter() - began
        yield (
            f"document_search: seeded {DOCUMENTS:,} + {OTHER_DOCUMENTS:,} documents in "
            f"{seconds:.0f} s; medians of {ROUNDS} (page of 50 + total)"
        )
        indexed = _measure(engine, owner_id)
        with engine.begin() as connection:
            for index in ISSUE_12_INDEXES:
                connection.execute(text(f"DROP INDEX {index}"))
            connection.execute(text("ANALYZE documents"))
        plain = _measure(engine, owner_id)
    finally:
        engine.dispose()
    yield (
        "| search | matches | indexed ms | without 0005's indexes ms | ratio "
        f"| under {TARGET_MS:.0f} ms |"
    )
    yield "|---|---:|---:|---:|---:|---|"
    for name, (ms, total) in indexed.items():
        base = plain[name][0]
        verdict = "yes" if ms < TARGET_MS else "NO"
        yield f"| {name} | {total:,} | {ms:.1f} | {base:.1f} | {ms / base:.2f} | {verdict} |"


def run() -> Iterator[str]:
    yield from _with_database(_run)
