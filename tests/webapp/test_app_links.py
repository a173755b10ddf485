"""The companion app's hand-off on the server: app-link files, `/app`, and their settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from webapp.app import create_app
from webapp.i18n import TEXTS
from webapp.settings import ConfigurationError, load_settings

FINGERPRINT = ":".join(["AB"] * 32)


def client_with(tmp_path: Path, **settings: object) -> TestClient:
    return TestClient(
        create_app(load_settings(environment="development", data_dir=tmp_path / "var", **settings))
    )


def test_the_well_known_files_are_absent_until_configured(tmp_path: Path) -> None:
    with client_with(tmp_path) as client:
        assert client.get("/.well-known/assetlinks.json").status_code == 404
        assert client.get("/.well-known/apple-app-site-association").status_code == 404
        page = client.get("/app")
        assert page.status_code == 200
        assert TEXTS["app_page_not_yet"][0] in page.text  # no store link yet: it says so
        assert "pip install 'mynasign[app]'" in page.text


def test_the_well_known_files_name_the_apps_and_the_qr_paths(tmp_path: Path) -> None:
    with client_with(
        tmp_path, base_url="https://sign.example.jp/contracts",
        android_app_package="jp.mynasign.bridge", android_cert_sha256=FINGERPRINT.lower(),
        ios_app_id="ABCDE12345.jp.mynasign.bridge",
        app_store_url="https://apps.apple.com/jp/app/mynasign/id1",
        play_store_url="https://play.google.com/store/apps/details?id=jp.mynasign.bridge",
        pc_app_url="https://sign.example.jp/download",
    ) as client:  # fmt: skip
        android = client.get("/.well-known/assetlinks.json")
        assert android.status_code == 200
        assert android.headers["content-type"] == "application/json"
        assert android.json() == [
            {
                "relation": ["delegate_permission/common.handle_all_urls"],
                "target": {
                    "namespace": "android_app",
                    "package_name": "jp.mynasign.bridge",
                    "sha256_cert_fingerprints": [FINGERPRINT],
                },
            }
        ]
        apple = client.get("/.well-known/apple-app-site-association", follow_redirects=False)
        assert apple.status_code == 200
        assert apple.headers["content-type"] == "application/json"
        (detail,) = apple.json()["applinks"]["details"]
        assert detail["appIDs"] == ["ABCDE12345.jp.mynasign.bridge"]
        assert detail["components"] == [{"/": "/contracts/b/*", "comment": "card signing sessions"}]
        assert detail["paths"] == ["/contracts/b/*"]
        page = client.get("/app").text
        for url in (
            "https://apps.apple.com/jp/app/mynasign/id1",
            "https://sign.example.jp/download",
        ):
            assert f'href="{url}"' in page
        assert "play.google.com/store/apps/details?id=jp.mynasign.bridge" in page


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"android_app_package": "jp.mynasign.bridge"}, "MYNASIGN_ANDROID_CERT_SHA256"),
        ({"android_app_package": "not a package", "android_cert_sha256": FINGERPRINT},
         "MYNASIGN_ANDROID_APP_PACKAGE"),
        ({"android_app_package": "jp.x.y", "android_cert_sha256": "AB:CD"},
         "MYNASIGN_ANDROID_CERT_SHA256"),
        ({"ios_app_id": "jp.mynasign.bridge"}, "MYNASIGN_IOS_APP_ID"),
        ({"app_store_url": "itms://apps"}, "MYNASIGN_APP_STORE_URL"),
        ({"pc_app_url": "/download"}, "MYNASIGN_PC_APP_URL"),
    ],
)  # fmt: skip
def test_wrong_app_settings_are_named(
    tmp_path: Path, settings: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(environment="development", data_dir=tmp_path / "var", **settings)
    assert named in str(refused.value)


def test_the_request_mail_of_a_card_party_announces_the_card_and_links_the_app() -> None:
    import datetime  # noqa: PLC0415

    from webapp.mail.messages import render_invitation  # noqa: PLC0415

    common: dict[str, Any] = {
        "recipient_name": "丙 三郎", "sender_name": "送信 太郎", "document_title": "業務委託契約書",
        "message": None, "link": "https://sign.example.jp/r/abc",
        "expires_at": datetime.datetime(2026, 12, 20, 9, 0, tzinfo=datetime.UTC),
    }  # fmt: skip
    card = render_invitation(**common, card_app_link="https://sign.example.jp/app")
    assert card.html is not None
    for text in (card.text, card.html):
        assert "この文書はマイナンバーカードで署名します" in text
        assert "英数字 6〜16 文字" in text
        assert "mynasign アプリを入れた NFC 対応スマートフォン" in text
        assert "You sign this document with your My Number Card" in text
        assert "https://sign.example.jp/app" in text
    plain = render_invitation(**common)
    assert "マイナンバーカード" not in plain.text and "/app" not in plain.text
