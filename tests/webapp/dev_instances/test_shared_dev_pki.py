"""Two development instances on one data directory share one development PKI and seal.

The PKI and the seal are made once and never rewritten: the instance that holds the PKI's
port serves it, the other uses that server, and takes over when it stops.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jpkisim.pki import TestPki
from jpkisim.pki_server import SharedPkiServer, is_served_at
from tests.webapp.conftest import Service, with_sender
from tests.webapp.db.databases import PostgresDatabases, postgres_admin_url
from tests.webapp.test_api_flow import add_recipient, open_link, upload
from webapp.app import create_app
from webapp.runtime import _development_pki
from webapp.settings import Settings, load_settings

TAKEOVER_WAIT_SECONDS = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def snapshot(*directories: Path) -> dict[str, bytes]:
    """Every file under the directories, by path, with its bytes."""
    return {
        str(path): path.read_bytes()
        for directory in directories
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def pki(tmp_path: Path) -> TestPki:
    return TestPki.init(tmp_path / "pki", base_url=f"http://127.0.0.1:{free_port()}")


def test_one_serves_the_other_uses_it_and_takes_over(pki: TestPki) -> None:
    before = snapshot(pki.directory)
    with SharedPkiServer(pki.directory) as first:
        assert first.serving.is_set() and first.url == pki.base_url
        second = SharedPkiServer(pki.directory, takeover_seconds=0.05).start()
        try:
            assert not second.serving.is_set()
            assert second.url == pki.base_url and is_served_at(pki, second.url)
        finally:
            first.stop()  # the one serving goes away ...
        try:
            assert second.serving.wait(TAKEOVER_WAIT_SECONDS)  # ... and the other serves
            assert is_served_at(pki, pki.base_url)
        finally:
            second.stop()
    assert snapshot(pki.directory) == before


def test_a_foreign_program_on_the_port_changes_nothing(pki: TestPki) -> None:
    before = snapshot(pki.directory)
    port = int(pki.base_url.rsplit(":", 1)[1])
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", port))
        foreign.listen()
        with SharedPkiServer(pki.directory, takeover_seconds=0.05) as shared:
            assert not shared.serving.is_set()
            assert shared.url != pki.base_url and is_served_at(pki, shared.url)
            assert not is_served_at(pki, pki.base_url, timeout=0.5)
    assert snapshot(pki.directory) == before
    assert pki.base_url == f"http://127.0.0.1:{port}"


def test_two_instances_starting_at_once_make_one_pki(tmp_path: Path) -> None:
    directory = tmp_path / "var" / "pki"
    together = threading.Barrier(3)  # the two instances and this test
    leave = threading.Event()
    seen: list[tuple[str, bytes, bytes]] = []

    def instance() -> None:
        together.wait(timeout=30)  # start at the same moment
        with _development_pki(directory) as opened:
            seen.append(opened)
            together.wait(timeout=30)  # both are up at the same time
            leave.wait(timeout=30)

    threads = [threading.Thread(target=instance) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        together.wait(timeout=30)
        together.wait(timeout=30)
    finally:
        leave.set()
        for thread in threads:
            thread.join(timeout=30)
    assert len(seen) == 2 and seen[0] == seen[1]  # one URL, one TSA root, one signing root
    assert TestPki.load(directory).base_url == seen[0][0]


@pytest.fixture
def shared_settings(tmp_path: Path) -> Iterator[Settings]:
    """One data directory and one PostgreSQL database, as two `mynasign dev` would have."""
    databases = PostgresDatabases(postgres_admin_url())
    try:
        url = databases.create(migrated=True)
        yield load_settings(environment="development", data_dir=tmp_path / "var", database_url=url)
    finally:
        databases.close()


def complete(sender: Service, recipient_side: Service, email: str) -> dict[str, object]:
    """Upload and send through `sender`'s instance, open and agree through the other."""
    document_id = upload(sender)
    add_recipient(sender, document_id, name="甲 一郎", email=email)
    sent = sender.client.post(f"/api/v1/documents/{document_id}/send", headers=sender.auth)
    assert sent.status_code == 200, sent.text
    token = sender.link_token(email)
    session = open_link(recipient_side, token)
    agreed = recipient_side.client.post(
        f"/api/v1/r/{token}/agree", headers={"Authorization": f"Bearer {session}"}
    )
    assert agreed.status_code == 200, agreed.text
    status: dict[str, object] = sender.client.get(
        f"/api/v1/documents/{document_id}", headers=sender.auth
    ).json()
    return status


def test_two_instances_share_the_pki_and_seal(shared_settings: Settings) -> None:
    data_dir = shared_settings.data_dir
    with TestClient(create_app(shared_settings)) as first_client:
        first = with_sender(first_client)
        made = snapshot(data_dir / "pki", data_dir / "seal")
        assert (data_dir / "pki" / "pki.json").is_file() and (data_dir / "seal").is_dir()
        with TestClient(create_app(shared_settings)) as second_client:
            assert snapshot(data_dir / "pki", data_dir / "seal") == made
            second = Service(second_client, second_client.app.state.context,  # type: ignore[attr-defined]
                             first.sender, first.token)  # fmt: skip
            runtimes = [c.app.state.runtime for c in (first_client, second_client)]  # type: ignore[attr-defined]
            assert runtimes[0].trust_roots == runtimes[1].trust_roots  # one seal, one PKI

            # sealed (sent) through one, completed through the other, both ways
            assert complete(first, second, "ichiro@example.jp")["status"] == "completed"
            assert complete(second, first, "hanako@example.jp")["status"] == "completed"
        assert snapshot(data_dir / "pki", data_dir / "seal") == made
    # a later start on the same directory still changes nothing
    with TestClient(create_app(shared_settings)) as again:
        assert again.app.state.runtime.trust_roots == runtimes[0].trust_roots  # type: ignore[attr-defined]
    assert snapshot(data_dir / "pki", data_dir / "seal") == made
