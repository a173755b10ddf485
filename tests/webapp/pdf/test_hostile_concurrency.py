"""The whole hostile corpus uploaded by several clients at once, against uvicorn on a
loopback port, while a probe request must keep answering within a second throughout."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2

from tests.webapp.pages.live import LiveService, live
from tests.webapp.pdf.hostile_corpus import CASES, Case, corpus_file
from webapp.pdf.sandbox import start_helper
from webapp.services.accounts import create_api_token, sign_up

__all__ = ["live"]  # the fixture, imported for this module
CLIENTS = 4
PROBE_LIMIT_SECONDS = 1.0
CORPUS = [case for case in CASES if not case.slow]


def api_token(live: LiveService) -> str:
    with live.context.sessions() as db:
        user = sign_up(db, "flood@example.jp", "kiri-sakura-7-tsuki", "送信 花子")
        issued = create_api_token(db, user, "tests")
        db.commit()
    return issued.token


def upload_all(
    url: str, token: str, client_number: int, count: int | None = None
) -> list[tuple[str, int, str]]:
    """Every file of the corpus (or the first `count`), in a different order for each
    client: (name, status, code)."""
    answers = []
    order = (CORPUS[client_number:] + CORPUS[:client_number])[:count]
    with httpx2.Client(base_url=url, timeout=120) as client:
        for case in order:
            response = client.post(
                "/api/v1/documents",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": (f"{case.name}.pdf", corpus_file(case.name), "application/pdf")},
                data={"title": case.name},
            )
            code = response.json().get("error", {}).get("code", "") if response.content else ""
            answers.append((case.name, response.status_code, code))
    return answers


def test_uploads_of_the_whole_corpus_keep_the_service_answering(live: LiveService) -> None:
    token = api_token(live)
    for case in CORPUS:  # build every file, and start the check's helper, before the clock
        corpus_file(case.name)
    start_helper()
    # one upload first: a fresh process imports what the first form and upload need
    assert upload_all(live.url, token, 0, 1) == [(CORPUS[0].name, 400, "pdf_damaged")]
    done = threading.Event()
    latencies: list[float] = []

    def probe() -> None:
        with httpx2.Client(base_url=live.url, timeout=30) as client:
            while not done.is_set():
                started = time.monotonic()
                response = client.get(
                    "/api/v1/documents?limit=1", headers={"Authorization": f"Bearer {token}"}
                )
                latencies.append(time.monotonic() - started)
                assert response.status_code == 200, response.text
                done.wait(0.05)

    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        probing = pool.submit(probe)
        uploads = [pool.submit(upload_all, live.url, token, n) for n in range(CLIENTS)]
        try:
            answers = [answer for upload in uploads for answer in upload.result(timeout=900)]
        finally:
            done.set()
        probing.result(timeout=60)

    expected: dict[str, Case] = {case.name: case for case in CORPUS}
    for name, status, code in answers:
        case = expected[name]
        if case.refused_with is None:
            assert status == 201, (name, status, code)
        else:
            assert (status, code) == (400, f"pdf_{case.refused_with}"), (name, status, code)
    assert len(latencies) > 20, latencies
    assert max(latencies) < PROBE_LIMIT_SECONDS, sorted(latencies)[-5:]
