"""Card signing end to end on the real stack, as a person would do it.

`mynasign` under uvicorn on loopback, the party's PC page in Chromium, `jpki-bridge` as a
subprocess, and the simulated card (made with `jpki-sim card new` against the service's
development PKI) behind pcscd + vpcd. The page must switch to "done" by itself; the
finished PDF must pass pyHanko's AdES-LTA validation (the card's signature against the
development JPKI root) and poppler's `pdfsig`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Page, expect

from jpkisim.pcscd import READER_0
from tests.conftest import SIGNING_PASSWORD, SimulatedReader
from tests.webapp.pages.live import LiveService, chromium, live
from tests.webapp.pages.test_card_browser import card_link, ja, page, to_session_page
from tests.webapp.pdf.checks import lta_results, passed, pdfsig
from webapp.db.models import Document, User

__all__ = ["card_link", "chromium", "live", "page"]  # fixtures

BIN = Path(sys.executable).parent
PARTY = "丙 三郎"  # the party of `card_link`
BRIDGE_TIMEOUT = 180


def new_card(live: LiveService, path: Path, *knobs: str) -> Path:
    """`jpki-sim card new` against the service's development PKI, as `mynasign dev` says."""
    pki = live.context.settings.data_dir / "pki"
    subprocess.run(
        [str(BIN / "jpki-sim"), "card", "new", "--pki", str(pki), "--password", SIGNING_PASSWORD,
         "--name", PARTY, "--out", str(path), *knobs],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return path


def session_with_card(
    live: LiveService, page: Page, card_link: str, state: Path
) -> tuple[str, Path]:
    """The party at the QR page: the bridge URL shown, and a new card for them."""
    to_session_page(page, card_link)
    url = page.locator("#bridge-url").inner_text().strip()
    assert re.fullmatch(rf"{re.escape(live.url)}/b/[A-Za-z0-9_-]{{22,}}", url), url
    return url, new_card(live, state)


def start_bridge(url: str, order: str, password: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [str(BIN / "jpki-bridge"), "sign", url, "--reader", READER_0, "--password-stdin",
         "--order", order, "--lang", "en"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(password + "\n")
    process.stdin.close()
    return process


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """The bridge's exit code and everything it printed."""
    assert process.stdout is not None and process.stderr is not None
    process.wait(timeout=BRIDGE_TIMEOUT)
    return process.returncode, process.stdout.read() + process.stderr.read()


def the_document(live: LiveService) -> tuple[str, str]:
    """The only document and its owner's e-mail."""
    with live.context.sessions() as db:
        document = db.query(Document).one()
        owner = db.get_one(User, document.owner_id)
        return document.id, owner.email


@pytest.mark.parametrize("order", ["password-first", "card-first"])
def test_a_party_signs_with_the_card_and_the_page_switches_to_done(
    live: LiveService,
    page: Page,
    card_link: str,
    make_sim_reader: Callable[[Path], SimulatedReader],
    tmp_path: Path,
    order: str,
) -> None:
    url, state_file = session_with_card(live, page, card_link, tmp_path / "card.json")
    reader = make_sim_reader(state_file)

    bridge = start_bridge(url, order, SIGNING_PASSWORD)
    state = page.locator("#card-state")
    try:
        expect(state).to_contain_text(ja("card_page_stage_waiting_for_card"))  # from the bridge
    except AssertionError:
        bridge.kill()
        pytest.fail(f"the bridge did not wait for the card: {finish(bridge)}")
    reader.insert()  # the person holds the card now
    try:
        expect(page).to_have_url(card_link)  # the page went to "done" by itself
    except AssertionError:
        bridge.kill()
        pytest.fail(f"not done: {page.locator('main').inner_text()}; bridge: {finish(bridge)}")
    expect(page.get_by_text(ja("card_page_signed_with_card"))).to_be_visible()
    code, printed = finish(bridge)
    assert code == 0, printed
    assert SIGNING_PASSWORD not in printed

    document_id, _ = the_document(live)
    path = tmp_path / "signed.pdf"
    with live.context.sessions() as db:
        from webapp.services import revisions  # noqa: PLC0415

        document = db.get_one(Document, document_id)
        assert document.status.value == "completed"
        blob = revisions.current_revision(db, document).blob_name
        with revisions.decrypted_copy(live.context, document, blob) as plain:
            path.write_bytes(plain.read())
    verdicts = pdfsig(path)
    card_fields = [name for name in verdicts if name.startswith("mynasign-card-1-")]
    assert len(card_fields) == 1 and verdicts[card_fields[0]] == "Signature is Valid.", verdicts
    runtime = live.app.state.runtime
    with ThreadPoolExecutor(1) as worker:  # Playwright runs an event loop in this thread
        results = worker.submit(lta_results, path, runtime.trust_roots).result()
    assert passed(results[card_fields[0]]), results[card_fields[0]]
    assert all(passed(result) for result in results.values()), results


def test_a_wrong_password_is_shown_on_the_pc_page_with_the_tries_left(
    live: LiveService,
    page: Page,
    card_link: str,
    make_sim_reader: Callable[[Path], SimulatedReader],
    tmp_path: Path,
) -> None:
    url, state_file = session_with_card(live, page, card_link, tmp_path / "card.json")
    make_sim_reader(state_file).insert()
    bridge = start_bridge(url, "password-first", "WRONG123")
    code, printed = finish(bridge)
    assert code == 3, printed  # a wrong password: the non-interactive bridge stops
    expect(page.get_by_role("alert")).to_contain_text(
        ja("card_cancelled_wrong_password", tries_left=4)
    )
    assert "WRONG123" not in printed


def test_a_revoked_card_is_refused_and_the_page_says_why(
    live: LiveService,
    page: Page,
    card_link: str,
    make_sim_reader: Callable[[Path], SimulatedReader],
    tmp_path: Path,
) -> None:
    url, state_file = session_with_card(live, page, card_link, tmp_path / "card.json")
    pki = live.context.settings.data_dir / "pki"
    subprocess.run(
        [str(BIN / "jpki-sim"), "card", "revoke", "--pki", str(pki), str(state_file)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    make_sim_reader(state_file).insert()
    code, printed = finish(start_bridge(url, "password-first", SIGNING_PASSWORD))
    assert code == 5, printed  # refused by the server
    assert "certificate_revoked" in printed or "revoked" in printed.lower()
    expect(page.get_by_role("alert")).to_contain_text("失効")
    with httpx2.Client(base_url=live.url, timeout=30) as client:
        assert client.get(card_link).status_code == 200  # the party can try again
