"""No credential in any log: a full run of `mynasign dev`, card signing included, grepped.

The service runs as `mynasign dev` in a subprocess (its access log and application log on
its output); a sender uploads and sends through the API, the party opens the link (a wrong
access code first), starts a card session, opens the bridge page, and `jpki-bridge` signs
with a simulated card (`--sim`: the server side is the same as through PC/SC, which
`tests/webapp/card_signing/test_end_to_end.py` covers). Then no line of the output holds a
link token, a session token, the bridge token, the API token, the access code or the card's
password, while the access log shows each request with the token cut to its prefix.
"""

from __future__ import annotations

import logging
import re
import secrets
import socket
import string
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

from tests.webapp.conftest import make_pdf
from webapp.log_redaction import ELLIPSIS, PREFIX_LENGTH, RedactingFilter, redact

BIN = Path(sys.executable).parent
TIMEOUT = 180
_OUTBOX_LINK = re.compile(r"/r/([A-Za-z0-9_-]{40,})")


def test_redact_keeps_a_prefix_of_tokens_and_nothing_of_passwords() -> None:
    token = secrets.token_urlsafe(32)
    for line in (f"GET /r/{token} HTTP/1.1", f"/b/{token}", f"/ws/bridge/{token}",
                 f"/api/v1/r/{token}/open", f"Authorization: Bearer {token}",
                 f"GET /x?session_token={token}&a=1", f'{{"claim_key": "{token}"}}'):  # fmt: skip
        shown = redact(line)
        assert token not in shown and token[:PREFIX_LENGTH] + ELLIPSIS in shown, shown
    assert redact("password=TEST1234 and more") == "password=*** and more"
    assert (
        redact("/documents/ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "/documents/ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    )


def test_the_filter_redacts_uvicorn_access_records() -> None:
    token = secrets.token_urlsafe(32)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/r/{token}?lang=en", "1.1", 200), None,
    )  # fmt: skip
    assert RedactingFilter().filter(record)
    assert isinstance(record.args, tuple) and record.args[4] == 200  # the status stays a number
    assert token not in record.getMessage() and f"/r/{token[:PREFIX_LENGTH]}" in record.getMessage()
    try:
        raise ValueError(f"cannot open /ws/bridge/{token}")
    except ValueError:
        failed = logging.LogRecord(
            "webapp", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    RedactingFilter().filter(failed)
    assert failed.exc_text is not None and token not in failed.exc_text


@dataclass
class DevServer:
    """`mynasign dev` in a subprocess, every line it writes kept."""

    process: subprocess.Popen[str]
    url: str
    data_dir: Path
    lines: list[str] = field(default_factory=list)
    listening: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    """Set once the output has been read to its end (the server and its children gone)."""

    def follow(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if "Uvicorn running on" in line:
                self.listening.set()
        self.listening.set()
        self.ended.set()


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[DevServer]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data_dir = tmp_path / "var"
    process = subprocess.Popen(
        [str(BIN / "mynasign"), "dev", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    server = DevServer(process, f"http://127.0.0.1:{port}", data_dir)
    follower = threading.Thread(target=server.follow, daemon=True)
    follower.start()
    try:
        assert server.listening.wait(TIMEOUT) and process.poll() is None, "\n".join(server.lines)
        yield server
    finally:
        process.terminate()
        process.wait(60)
        follower.join(30)


def _pdf_workers_of(pid: int) -> list[int]:
    """The PDF worker processes among `pid`'s children (multiprocessing's spawned ones)."""
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return [
        child for child in children
        if b"multiprocessing.spawn" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]  # fmt: skip


def _card_password() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(12))


@pytest.mark.timeout(600)
def test_a_full_run_with_card_signing_logs_no_credential(
    dev_server: DevServer, tmp_path: Path
) -> None:
    api_token = (dev_server.data_dir / "dev-api-token").read_text().strip()
    access_code = "ZX81-" + secrets.token_hex(6)
    password = _card_password()
    secrets_seen: dict[str, str] = {"API token": api_token, "access code": access_code,
                                    "card password": password}  # fmt: skip
    auth = {"Authorization": f"Bearer {api_token}"}
    with httpx2.Client(base_url=dev_server.url, timeout=TIMEOUT) as client:
        uploaded = client.post(
            "/api/v1/documents", headers=auth, data={"title": "業務委託契約書"},
            files={"file": ("c.pdf", make_pdf(), "application/pdf")},
        )  # fmt: skip
        assert uploaded.status_code == 201, uploaded.text
        document_id = uploaded.json()["id"]
        added = client.post(
            f"/api/v1/documents/{document_id}/recipients", headers=auth,
            json={"name": "丙 三郎", "email": "saburo@example.jp", "access_code": access_code,
                  "require_mynumber_card": True},
        )  # fmt: skip
        assert added.status_code == 201, added.text
        sent = client.post(f"/api/v1/documents/{document_id}/send", headers=auth)
        assert sent.status_code == 200, sent.text
        assert client.get(f"/api/v1/documents?token={api_token}", headers=auth).status_code == 200

        link = _OUTBOX_LINK.findall(client.get("/dev/outbox").text)[-1]
        secrets_seen["link token"] = link
        assert client.get(f"/r/{link}").status_code == 200
        wrong = client.post(
            f"/api/v1/r/{link}/open", json={"accept_terms": True, "access_code": "WRONG-1"}
        )
        assert wrong.status_code == 401
        opened = client.post(
            f"/api/v1/r/{link}/open", json={"accept_terms": True, "access_code": access_code}
        )
        assert opened.status_code == 200, opened.text
        session = opened.json()["session_token"]
        secrets_seen["session token"] = session
        party = {"Authorization": f"Bearer {session}"}
        started = client.post(f"/api/v1/r/{link}/card-session", headers=party)
        assert started.status_code == 201, started.text
        bridge_url = started.json()["bridge_url"]
        secrets_seen["bridge token"] = bridge_url.rsplit("/", 1)[1]
        assert client.get(bridge_url.removeprefix(dev_server.url)).status_code == 200

        card = tmp_path / "card.json"
        subprocess.run(
            [str(BIN / "jpki-sim"), "card", "new", "--pki", str(dev_server.data_dir / "pki"),
             "--password", password, "--name", "丙 三郎", "--out", str(card)],
            check=True, capture_output=True, timeout=TIMEOUT,
        )  # fmt: skip
        bridge = subprocess.run(
            [str(BIN / "jpki-bridge"), "sign", bridge_url, "--sim", str(card),
             "--password-stdin", "--order", "password-first", "--lang", "en"],
            input=password + "\n", capture_output=True, text=True, timeout=TIMEOUT, check=False,
        )  # fmt: skip
        assert bridge.returncode == 0, bridge.stdout + bridge.stderr
        status = client.get(f"/api/v1/r/{link}/card-session", headers=party).json()
        assert status["state"] == "completed", status

    workers = _pdf_workers_of(dev_server.process.pid)
    assert workers, "the flow ran PDF steps in worker processes"
    dev_server.process.terminate()
    dev_server.process.wait(60)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert not alive, f"PDF workers {alive} outlived the server it stopped"  # stopped, reaped
    assert dev_server.ended.wait(30), "the server's children still hold its output"
    output = "\n".join(dev_server.lines)
    leaks = {name: value for name, value in secrets_seen.items() if value in output}
    assert not leaks, f"in the log: {sorted(leaks)}"
    access = [line for line in dev_server.lines if '"POST /api/v1/r/' in line]
    assert access, output[-3000:]  # the access log was on, and shows the redacted link
    assert any(f"/r/{link[:PREFIX_LENGTH]}{ELLIPSIS}" in line for line in access), access
    assert any(f"/b/{secrets_seen['bridge token'][:PREFIX_LENGTH]}" in line
               for line in dev_server.lines)  # fmt: skip
