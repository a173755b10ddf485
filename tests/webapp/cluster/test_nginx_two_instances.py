"""The whole card flow through nginx in front of two instances (round robin, not sticky).

The bridge's websocket and the page's status feed may land on different instances: the
page is told all the same (PostgreSQL LISTEN/NOTIFY). The document completes once, each
mail goes out once, and an instance killed in the middle leaves the other to finish.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from tests.webapp.cluster.processes import BIN, Cluster, wait_until
from tests.webapp.conftest import make_pdf
from webapp.cli import DEMO_CARD_PASSWORD
from webapp.db.models import AuditEvent, Document

PARTY = "丙 三郎"
PARTY_EMAIL = "saburo@example.jp"
LINK = re.compile(r"/r/([A-Za-z0-9_-]{40,})")
FLOW_TIMEOUT = 120.0


class Feed:
    """A party's status feed (server-sent events) read in a thread until it ends."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.statuses: list[dict[str, Any]] = []
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with httpx.stream("GET", url, headers=headers, timeout=FLOW_TIMEOUT) as answer:
                answer.raise_for_status()
                for line in answer.iter_lines():
                    if line.startswith("data: "):
                        self.statuses.append(json.loads(line.removeprefix("data: ")))
        except BaseException as exc:
            self.error = exc
        finally:
            self.ended.set()


def sent_card_document(cluster: Cluster, client: httpx.Client) -> tuple[str, str, str]:
    """A sent document whose one party must sign with the card: (id, link, session token)."""
    uploaded = client.post(
        "/api/v1/documents", headers=cluster.auth, data={"title": "業務委託契約書"},
        files={"file": ("c.pdf", make_pdf(), "application/pdf")},
    )  # fmt: skip
    assert uploaded.status_code == 201, uploaded.text
    document_id = uploaded.json()["id"]
    added = client.post(
        f"/api/v1/documents/{document_id}/recipients", headers=cluster.auth,
        json={"name": PARTY, "email": PARTY_EMAIL, "require_mynumber_card": True},
    )  # fmt: skip
    assert added.status_code == 201, added.text
    sent = client.post(f"/api/v1/documents/{document_id}/send", headers=cluster.auth)
    assert sent.status_code == 200, sent.text
    wait_until(lambda: bool(cluster.mails_to(PARTY_EMAIL)), 60, "the request mail")
    link = LINK.findall(cluster.mails_to(PARTY_EMAIL)[0])[-1]
    opened = client.post(f"/api/v1/r/{link}/open", json={"accept_terms": True})
    assert opened.status_code == 200, opened.text
    return document_id, link, opened.json()["session_token"]


def new_card(cluster: Cluster, path: Path) -> Path:
    subprocess.run(
        [str(BIN / "jpki-sim"), "card", "new", "--pki", str(cluster.data_dir / "pki"),
         "--password", DEMO_CARD_PASSWORD, "--name", PARTY, "--out", str(path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return path


def sign_with_bridge(bridge_url: str, card: Path) -> tuple[int, str]:
    done = subprocess.run(
        [str(BIN / "jpki-bridge"), "sign", bridge_url, "--sim", str(card), "--password-stdin",
         "--order", "password-first", "--lang", "en"],
        input=DEMO_CARD_PASSWORD + "\n", capture_output=True, text=True, timeout=FLOW_TIMEOUT,
        check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def audit_count(cluster: Cluster, document_id: str, action: str) -> int:
    engine = create_engine(cluster.database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    select(func.count()).where(
                        AuditEvent.document_id == document_id, AuditEvent.action == action
                    )
                )
                or 0
            )
    finally:
        engine.dispose()


def document_status(cluster: Cluster, document_id: str) -> str:
    engine = create_engine(cluster.database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return str(connection.scalar(select(Document.status).where(Document.id == document_id)))
    finally:
        engine.dispose()


def sign_through_the_cluster(
    cluster: Cluster, tmp_path: Path, *, kill_one_after_the_qr_code: bool = False
) -> tuple[str, Feed]:
    client = httpx.Client(base_url=cluster.url, timeout=FLOW_TIMEOUT)
    document_id, link, session = sent_card_document(cluster, client)
    party = {"Authorization": f"Bearer {session}"}
    started = client.post(f"/api/v1/r/{link}/card-session", headers=party)
    assert started.status_code == 201, started.text
    bridge_url = started.json()["bridge_url"]
    assert bridge_url.startswith(cluster.url + "/b/"), bridge_url
    if kill_one_after_the_qr_code:
        cluster.instances[0].kill()
    feed = Feed(f"{cluster.url}/api/v1/r/{link}/card-session/events", party)
    wait_until(lambda: bool(feed.statuses) or feed.ended.is_set(), 60, "the feed's first status")
    code, printed = sign_with_bridge(bridge_url, new_card(cluster, tmp_path / "card.json"))
    assert code == 0, printed
    assert DEMO_CARD_PASSWORD not in printed
    assert feed.ended.wait(FLOW_TIMEOUT), f"the feed did not end: {feed.statuses}"
    assert feed.error is None, feed.error
    return document_id, feed


def test_the_card_flow_through_nginx_completes_once_and_mails_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    document_id, feed = sign_through_the_cluster(cluster, tmp_path)
    final = feed.statuses[-1]
    assert final.get("done") or final.get("recipient_status") == "agreed", feed.statuses
    wait_until(lambda: document_status(cluster, document_id) == "completed", 60, "completion")
    assert audit_count(cluster, document_id, "document.completed") == 1
    assert audit_count(cluster, document_id, "recipient.card_signed") == 1
    # the completion mail reaches the party once (and the request mail was once)
    wait_until(lambda: len(cluster.mails_to(PARTY_EMAIL)) >= 2, 60, "the completion mail")
    assert len(cluster.mails_to(PARTY_EMAIL)) == 2
    # the files are in the bucket, not in the instances' data directory
    local = cluster.data_dir / "files"
    assert not local.exists() or not any(local.iterdir())
    # both instances served this flow (round robin): neither was idle
    served = [instance.log().count('HTTP/1.1" 2') for instance in cluster.instances]
    assert all(count > 0 for count in served), served


def test_an_instance_killed_in_the_middle_leaves_the_other_to_finish(
    cluster: Cluster, tmp_path: Path
) -> None:
    document_id, feed = sign_through_the_cluster(cluster, tmp_path, kill_one_after_the_qr_code=True)
    assert feed.statuses[-1].get("done") or feed.statuses[-1].get("recipient_status") == "agreed"
    wait_until(lambda: document_status(cluster, document_id) == "completed", 60, "completion")
    assert audit_count(cluster, document_id, "document.completed") == 1
    survivor = cluster.instances[1].log()
    assert "/ws/bridge/" in survivor, "the bridge did not reach the surviving instance"
