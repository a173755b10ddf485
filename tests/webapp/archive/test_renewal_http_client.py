"""Renewal fetches its validation data through the process's one HTTP client
(`webapp.http_client`), like the rest of the service: no HTTP session of its own."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import pytest

from tests.webapp.archive.conftest import CRL_PATH, ShortLivedTsa
from tests.webapp.conftest import Service
from tests.webapp.verification.flow import completed_document
from webapp.archive import newest_timestamp, renew_archive_timestamp
from webapp.http_client import shared_client


def test_the_tsa_certificate_status_is_fetched_with_the_shared_client(
    service: Service, short_lived_tsa: ShortLivedTsa, monkeypatch: pytest.MonkeyPatch
) -> None:
    _document_id, _sent, final_pdf = completed_document(service)
    sealer = service.context.sealer
    session = shared_client().session
    through_shared: list[str] = []
    send = session.request

    def counted(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        through_shared.append(url)
        return send(method, url, *args, **kwargs)

    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("renewal opened an HTTP session of its own")

    monkeypatch.setattr(session, "request", counted)
    monkeypatch.setattr(aiohttp.ClientSession, "__init__", refused)
    output = io.BytesIO()
    asyncio.run(
        renew_archive_timestamp(
            io.BytesIO(final_pdf), output, sealer.timestamper, sealer.trust_roots,
            existing_timestamps=1,
        )
    )  # fmt: skip
    assert newest_timestamp(output).count == 2  # renewed, in this process
    crl_fetches = [url for url in through_shared if url.endswith(CRL_PATH)]
    assert crl_fetches, through_shared  # the TSA certificate's CRL, through the shared client
    assert any(url.endswith("/tsa") for url in through_shared)  # and the new timestamp
