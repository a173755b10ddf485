"""`jpki-bridge` as a subprocess: schema, help, `sign` and `check` with `--sim`, exit codes."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge import protocol
from bridge.errors import ExitCode
from jpkisim.pki import TestPki
from tests.bridge.cli_run import interrupt_cli, run_cli, sign_cli
from tests.bridge.conftest import WRONG_PASSWORD
from tests.bridge.server import Script
from tests.conftest import SIGNING_PASSWORD

RIGHT = SIGNING_PASSWORD.lower() + "\n"


def test_schema_is_a_json_schema_of_every_message() -> None:
    result = run_cli("schema")
    assert result.code == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(schema["discriminator"]["mapping"]) == set(protocol.MESSAGE_TYPES)
    assert len(schema["oneOf"]) == len(protocol.MESSAGE_TYPES)
    for name, definition in schema["$defs"].items():
        if definition.get("type") != "object":
            continue
        assert definition["required"][:2] == ["type", "version"], name
        assert definition["additionalProperties"] is False, name
        version = definition["properties"]["version"]
        assert version.get("enum", [version.get("const")]) in ([1, 2], [2]), name
    assert result.stdout.startswith("{\n  ")  # json.dumps(..., indent=2)


@pytest.mark.parametrize(("lang", "words"), [("ja", "終了コード"), ("en", "exit codes")])
def test_help_lists_the_exit_codes(lang: str, words: str) -> None:
    for args in (["--help"], ["sign", "--help"]):
        result = run_cli(*args, "--lang", lang)
        assert result.code == 0
        assert words in result.stdout
        assert "--password-stdin" in result.stdout or args == ["--help"]


@pytest.mark.parametrize(
    ("order", "lang", "done"),
    [("password-first", "ja", "署名しました"), ("card-first", "en", "Signed")],
)
def test_sign_with_the_simulated_card(
    test_pki: TestPki, card_state: Path, order: str, lang: str, done: str
) -> None:
    result = sign_cli(
        test_pki.sign_root_der,
        *("--sim", str(card_state), "--order", order, "--password-stdin", "--lang", lang),
        stdin=RIGHT,
    )
    assert result.code == ExitCode.SIGNED, result.stderr
    assert done in result.stdout
    assert result.server is not None and result.server.accepted_cms is not None
    result.assert_no_password(SIGNING_PASSWORD)


def test_wrong_password_exits_3(test_pki: TestPki, card_state: Path) -> None:
    result = sign_cli(
        test_pki.sign_root_der,
        *("--sim", str(card_state), "--password-stdin", "--lang", "en"),
        stdin=WRONG_PASSWORD + "\n",
    )
    assert result.code == ExitCode.WRONG_PASSWORD, result.stderr
    assert "4 tries left" in result.stderr
    assert result.server is not None
    assert result.server.of_type(protocol.Cancelled)[0].reason == "wrong_password"
    result.assert_no_password(WRONG_PASSWORD)


@pytest.mark.parametrize(
    ("knobs", "flags", "code"),
    [
        ({"signing_tries_left": 0}, [], ExitCode.LOCKED),
        ({"signing_tries_left": 1}, [], ExitCode.NOT_SIGNED),
        ({"signing_tries_left": 1}, ["--allow-last-try"], ExitCode.SIGNED),
    ],
)
def test_tries_exit_codes(
    test_pki: TestPki,
    make_card_state: Callable[..., Path],
    knobs: dict[str, int],
    flags: list[str],
    code: ExitCode,
) -> None:
    state = make_card_state(**knobs)
    result = sign_cli(
        test_pki.sign_root_der, "--sim", str(state), "--password-stdin", *flags, stdin=RIGHT
    )
    assert result.code == code, result.stderr
    result.assert_no_password(SIGNING_PASSWORD)


def test_rejection_exits_5(test_pki: TestPki, card_state: Path) -> None:
    script = Script(reject=("untrusted_certificate", "not a JPKI root"))
    result = sign_cli(
        test_pki.sign_root_der,
        *("--sim", str(card_state), "--password-stdin", "--lang", "en"),
        stdin=RIGHT,
        script=script,
    )
    assert result.code == ExitCode.NOT_SIGNED
    assert "untrusted_certificate" in result.stderr


def test_ctrl_c_sends_cancelled_and_exits_5(test_pki: TestPki, card_state: Path) -> None:
    result = interrupt_cli(test_pki.sign_root_der, "--sim", str(card_state), "--password-stdin")
    assert result.code == ExitCode.NOT_SIGNED, result.stderr
    assert result.server is not None
    assert [c.reason for c in result.server.of_type(protocol.Cancelled)] == ["user_cancelled"]


def test_unknown_reader_exits_6(test_pki: TestPki) -> None:
    result = sign_cli(
        test_pki.sign_root_der, "--reader", "No Such Reader 99", "--password-stdin", stdin=RIGHT
    )
    assert result.code == ExitCode.NO_CARD, result.stderr
    assert result.server is not None
    assert result.server.of_type(protocol.CardError)[0].code == "no_reader"


def test_unreachable_server_exits_7(card_state: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/b/{'A' * 22}"
    result = run_cli("sign", url, "--sim", str(card_state), "--password-stdin", stdin=RIGHT)
    assert result.code == ExitCode.NETWORK, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["sign"],
        ["sign", f"http://example.com/b/{'A' * 22}"],
        ["sign", "https://example.com/b/short"],
        ["sign", f"https://example.com/b/{'A' * 22}", "--sim", "/nonexistent/state.json"],
        ["sign", f"https://example.com/b/{'A' * 22}", "--reader", "x", "--sim", "y"],
        ["nonsense"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert run_cli(*args).code == ExitCode.USAGE


def test_password_stdin_without_a_password_exits_2(test_pki: TestPki, card_state: Path) -> None:
    result = sign_cli(
        test_pki.sign_root_der, "--sim", str(card_state), "--password-stdin", stdin=""
    )
    assert result.code == ExitCode.USAGE


def test_check_with_the_simulated_card(card_state: Path) -> None:
    result = run_cli(
        "check", "--sim", str(card_state), "--password-stdin", "--lang", "en", stdin=RIGHT
    )
    assert result.code == 0, result.stderr
    assert "Name: " in result.stdout
    assert "Tries left before this check: 5" in result.stdout
    assert "not a production JPKI root" in result.stdout
    result.assert_no_password(SIGNING_PASSWORD)


def test_check_wrong_password_exits_3(card_state: Path) -> None:
    result = run_cli("check", "--sim", str(card_state), "--password-stdin", stdin=WRONG_PASSWORD)
    assert result.code == ExitCode.WRONG_PASSWORD
    result.assert_no_password(WRONG_PASSWORD)
