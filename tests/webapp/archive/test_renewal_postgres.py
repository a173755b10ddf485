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
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from jpkisim.pki import TestPki
from tests.webapp.conftest import Service, with_sender
from tests.webapp.db.databases import PostgresDatabases, postgres_admin_url
from tests.webapp.verification.flow import completed_document
from webapp.app import create_app
from webapp.archive import RENEWED_ACTION, RenewalReport, renew_due
from webapp.db.models import ArchiveState, AuditEvent, DocumentRevision
from webapp.settings import load_settings


@pytest.fixture
def postgres_service(tmp_path: Path) -> Iterator[Service]:
    databases = PostgresDatabases(postgres_admin_url())
    try:
        url = databases.create(migrated=True)
        settings = load_settings(
            environment="development", data_dir=tmp_path / "var", database_url=url
        )
        with TestClient(create_app(settings)) as client:
            yield with_sender(client)
    finally:
        databases.close()


async def _rounds(service: Service, count: int) -> list[RenewalReport]:
    return list(
        await asyncio.gather(*(renew_due(service.context, window_days=1095) for _ in range(count)))
    )


def test_racing_rounds_renew_once(postgres_service: Service) -> None:
    pki = TestPki.load(Path(postgres_service.context.settings.data_dir) / "pki")
    pki.reissue_tsa(lifetime=datetime.timedelta(days=730))
    document_id, _sent, _final = completed_document(postgres_service)
    pki.reissue_tsa()
    reports = asyncio.run(_rounds(postgres_service, 3))
    renewed = [d for report in reports for d in report.renewed]
    assert renewed == [document_id]
    assert not any(report.failed for report in reports)
    with postgres_service.context.sessions() as db:
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
