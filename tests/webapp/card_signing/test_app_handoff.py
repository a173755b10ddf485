"""`/b/<token>` in a browser: what to do without the app, the stores, and the PC app's link."""

from __future__ import annotations

from tests.webapp.card_signing.conftest import CardParty
from webapp.i18n import TEXTS

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile"
PC = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def test_the_qr_link_in_a_phone_browser_explains_and_links_the_stores(
    card_party: CardParty,
) -> None:
    url = card_party.start()["bridge_url"]
    path = "/b/" + url.rsplit("/", 1)[1]
    phone = card_party.service.client.get(path, headers={"User-Agent": IPHONE})
    assert phone.status_code == 200
    assert TEXTS["bridge_page_no_app"][0] in phone.text
    assert TEXTS["app_page_iphone"][0] in phone.text and TEXTS["app_page_android"][0] in phone.text
    assert 'href="/app"' in phone.text  # the PC app's page
    assert "mynasign-bridge:" not in phone.text  # no PC button on a phone

    pc = card_party.service.client.get(path, headers={"User-Agent": PC})
    assert f'href="mynasign-bridge:{url}"' in pc.text
    assert TEXTS["bridge_page_no_app"][0] not in pc.text

    gone = card_party.service.client.get("/b/" + "Z" * 30, headers={"User-Agent": IPHONE})
    assert gone.status_code == 404
    assert TEXTS["bridge_page_unknown"][0] in gone.text
