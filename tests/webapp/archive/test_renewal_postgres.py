"""On PostgreSQL, instances racing for the same due document renew it exactly once.

Three rounds run at once against one database (as three instances would): the claims
(`SELECT … FOR UPDATE SKIP LOCKED` with a lease) let one of them renew the document; the
others find nothing to do. The TSA's certificate is made to end in two years before the
document completes, and a window of three years (`--before 1095`) makes it due; the TSA's
next certificate (ten years) is not, so a round that comes late has nothing to do either.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

from sqlalchemy import func, select

from jpkisim.pki import TestPki
from tests.webapp.concurrency import conftest as concurrency_fixtures
from tests.webapp.conftest import Service
from tests.webapp.db import conftest as db_fixtures
from tests.webapp.verification.flow import completed_document
from webapp.archive import RENEWED_ACTION, RenewalReport, renew_due
from webapp.db.models import ArchiveState, AuditEvent, DocumentRevision

# The service on a PostgreSQL database of its own (the concurrency tests' fixture).
postgres_databases = db_fixtures.postgres_databases
pg_service = concurrency_fixtures.pg_service


async def _rounds(service: Service, count: int) -> list[RenewalReport]:
    return list(
        await asyncio.gather(*(renew_due(service.context, window_days=1095) for _ in range(count)))
    )


def test_racing_rounds_renew_once(pg_service: Service) -> None:
    pki = TestPki.load(Path(pg_service.context.settings.data_dir) / "pki")
    pki.reissue_tsa(lifetime=datetime.timedelta(days=730))
    document_id, _sent, _final = completed_document(pg_service)
    pki.reissue_tsa()
    reports = asyncio.run(_rounds(pg_service, 3))
    renewed = [d for report in reports for d in report.renewed]
    assert renewed == [document_id]
    assert not any(report.failed for report in reports)
    with pg_service.context.sessions() as db:
        events = db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == RENEWED_ACTION)
        )
        assert events == 1
        numbers = db.scalars(
            select(DocumentRevision.number).where(DocumentRevision.document_id == document_id)
        ).all()
        assert len(numbers) == len(set(numbers))
        state = db.get_one(ArchiveState, document_id)
        assert state.renewals == 1 and state.claimed_until is None
