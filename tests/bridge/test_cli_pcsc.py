"""`jpki-bridge` as a subprocess with the (virtual) PC/SC reader: readers, check, sign, PKCS#11."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bridge import protocol
from bridge.errors import ExitCode
from jpkisim.pcscd import READER_1
from jpkisim.pki import TestPki
from tests.bridge.cli_run import run_cli, sign_cli
from tests.bridge.conftest import WRONG_PASSWORD
from tests.conftest import SIGNING_PASSWORD, SimulatedReader

pytestmark = pytest.mark.pcsc
OPENSC_PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
RIGHT = SIGNING_PASSWORD + "\n"


def test_readers_lists_the_card_and_its_kind(sim_reader: SimulatedReader) -> None:
    result = run_cli("readers", "--lang", "en")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"{sim_reader.reader}: My Number Card (JPKIAPICCTOKEN2)" in lines
    assert f"{READER_1}: no card" in lines


def test_readers_names_a_smartphone_token(
    make_card_state: Callable[..., Path], make_sim_reader: Callable[[Path], SimulatedReader]
) -> None:
    reader = make_sim_reader(make_card_state(token_kind="smartphone"))
    reader.insert()
    result = run_cli("readers")
    assert f"{reader.reader}: スマートフォン用電子証明書 (JPKIAPGPSETOKEN)" in result.stdout


@pytest.mark.parametrize("order", ["password-first", "card-first"])
def test_sign_through_the_reader(
    test_pki: TestPki, sim_reader: SimulatedReader, order: str
) -> None:
    result = sign_cli(
        test_pki.sign_root_der,
        *("--reader", "PCD 00 00", "--order", order, "--password-stdin", "--lang", "en"),
        stdin=RIGHT,
    )
    assert result.code == ExitCode.SIGNED, result.stderr
    assert "Put your My Number Card on the reader" in result.stdout
    assert result.server is not None and result.server.accepted_cms is not None
    result.assert_no_password(SIGNING_PASSWORD)
    assert SIGNING_PASSWORD.encode().hex().upper() not in sim_reader.apdu_log.read_text().upper()


def test_check_through_the_reader(sim_reader: SimulatedReader) -> None:
    result = run_cli(
        "check", "--reader", sim_reader.reader, "--password-stdin", "--lang", "en", stdin=RIGHT
    )
    assert result.code == 0, result.stderr
    assert "The card and password signed" in result.stdout
    assert "Tries left before this check: 5" in result.stdout
    result.assert_no_password(SIGNING_PASSWORD)


@pytest.mark.opensc
def test_check_through_opensc_pkcs11(sim_reader: SimulatedReader) -> None:
    if not Path(OPENSC_PKCS11).is_file():
        pytest.skip("OpenSC's PKCS#11 module is not installed")
    result = run_cli(
        "check", "--pkcs11", OPENSC_PKCS11, "--password-stdin", "--lang", "en", stdin=RIGHT
    )
    assert result.code == 0, result.stdout + result.stderr
    assert "Name: " in result.stdout
    result.assert_no_password(SIGNING_PASSWORD)


@pytest.mark.opensc
def test_sign_through_opensc_pkcs11_wrong_password(
    test_pki: TestPki, sim_reader: SimulatedReader
) -> None:
    if not Path(OPENSC_PKCS11).is_file():
        pytest.skip("OpenSC's PKCS#11 module is not installed")
    result = sign_cli(
        test_pki.sign_root_der,
        *("--pkcs11", OPENSC_PKCS11, "--password-stdin"),
        stdin=WRONG_PASSWORD + "\n",
    )
    assert result.code == ExitCode.WRONG_PASSWORD, result.stdout + result.stderr
    assert result.server is not None
    errors = result.server.of_type(protocol.CardError)
    assert errors and errors[0].code == "wrong_password"
    result.assert_no_password(WRONG_PASSWORD)
