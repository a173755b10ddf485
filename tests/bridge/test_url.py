"""QR URL → websocket URL: the mapping, and every refusal with its reason."""

from __future__ import annotations

import pytest

from bridge.url import BridgeUrlError, bridge_target

TOKEN = "Ab3_-" + "x" * 17  # 22 characters: 132 bits


@pytest.mark.parametrize(
    ("url", "websocket"),
    [
        (f"https://sign.example.jp/b/{TOKEN}", f"wss://sign.example.jp/ws/bridge/{TOKEN}"),
        (f"https://h.example:8443/app/b/{TOKEN}", f"wss://h.example:8443/app/ws/bridge/{TOKEN}"),
        (f"HTTPS://sign.example.jp/b/{TOKEN}", f"wss://sign.example.jp/ws/bridge/{TOKEN}"),
        (f"http://127.0.0.1:8000/b/{TOKEN}", f"ws://127.0.0.1:8000/ws/bridge/{TOKEN}"),
        (f"http://localhost/b/{TOKEN}", f"ws://localhost/ws/bridge/{TOKEN}"),
        (f"http://[::1]:9/b/{TOKEN}", f"ws://[::1]:9/ws/bridge/{TOKEN}"),
        (f"wss://h.example/ws/bridge/{TOKEN}", f"wss://h.example/ws/bridge/{TOKEN}"),
        (f"  https://sign.example.jp/b/{TOKEN}\n", f"wss://sign.example.jp/ws/bridge/{TOKEN}"),
    ],
)
def test_qr_url_maps_to_the_bridge_websocket(url: str, websocket: str) -> None:
    assert bridge_target(url).websocket_url == websocket


def test_insecure_allows_plain_http_elsewhere() -> None:
    target = bridge_target(f"http://dev.example/b/{TOKEN}", insecure=True)
    assert target.websocket_url == f"ws://dev.example/ws/bridge/{TOKEN}"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"http://sign.example.jp/b/{TOKEN}", "url_insecure"),
        (f"ws://10.0.0.1/ws/bridge/{TOKEN}", "url_insecure"),
        (f"ftp://sign.example.jp/b/{TOKEN}", "url_scheme"),
        (f"sign.example.jp/b/{TOKEN}", "url_scheme"),
        (f"https:///b/{TOKEN}", "url_malformed"),
        (f"https://user:pw@sign.example.jp/b/{TOKEN}", "url_malformed"),
        (f"https://sign.example.jp/b/{TOKEN}?x=1", "url_malformed"),
        (f"https://sign.example.jp/b/{TOKEN}#frag", "url_malformed"),
        (f"https://sign.example.jp:99999/b/{TOKEN}", "url_malformed"),
        (f"https://sign.example.jp/c/{TOKEN}", "url_path"),
        (f"https://sign.example.jp/b/{TOKEN}/", "url_path"),
        (f"wss://sign.example.jp/b/{TOKEN}", "url_path"),
        ("https://sign.example.jp/b/" + "x" * 21, "url_token"),
        ("https://sign.example.jp/b/" + "x" * 21 + "=", "url_token"),
        ("https://sign.example.jp/b/" + "x" * 129, "url_token"),
    ],
)
def test_bad_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(BridgeUrlError) as raised:
        bridge_target(url)
    assert raised.value.reason == reason


def test_the_token_is_not_printed_whole() -> None:
    target = bridge_target(f"https://sign.example.jp/b/{TOKEN}")
    assert TOKEN not in repr(target) and TOKEN not in str(target)
