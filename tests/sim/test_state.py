"""Tests of the simulated card's state file (jpkisim.state), plus the shared test keys."""

from __future__ import annotations

import datetime
import functools
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from jpkisim.state import DEFAULT_ATR, CardState, StateError

SIGNING_PASSWORD = "ABC123"
AUTH_PIN = "1234"


@dataclass(frozen=True)
class Material:
    """Keys and certificates shaped like jpkisim.pki.IssuedCard, plus the key objects."""

    sign_key: rsa.RSAPrivateKey
    auth_key: rsa.RSAPrivateKey
    sign_key_pem: bytes
    sign_cert_der: bytes
    sign_ca_der: bytes
    auth_key_pem: bytes
    auth_cert_der: bytes
    auth_ca_der: bytes


def _certificate(
    subject_key: rsa.RSAPrivateKey, issuer_key: rsa.RSAPrivateKey, cn: str, issuer_cn: str
) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@functools.cache
def card_material() -> Material:
    """Generated once per test process (RSA key generation is slow)."""
    sign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Material(
        sign_key=sign_key,
        auth_key=auth_key,
        sign_key_pem=_pem(sign_key),
        sign_cert_der=_certificate(sign_key, ca_key, "test signer", "test sign CA"),
        sign_ca_der=_certificate(ca_key, ca_key, "test sign CA", "test sign CA"),
        auth_key_pem=_pem(auth_key),
        auth_cert_der=_certificate(auth_key, ca_key, "test user", "test auth CA"),
        auth_ca_der=_certificate(ca_key, ca_key, "test auth CA", "test auth CA"),
    )


def make_state(**overrides: Any) -> CardState:
    """A fresh test card state; keyword arguments override fields."""
    kwargs: dict[str, Any] = {"signing_password": SIGNING_PASSWORD, "auth_pin": AUTH_PIN}
    kwargs.update(overrides)
    return CardState.from_issued(card_material(), **kwargs)


@pytest.fixture(scope="session")
def material() -> Material:
    return card_material()


def test_from_issued_takes_pem_bytes(material: Material) -> None:
    state = make_state()
    assert state.sign_key_pem == material.sign_key_pem.decode()
    assert state.signing_tries_left == 5
    assert state.auth_tries_left == 3
    assert state.atr == DEFAULT_ATR == bytes.fromhex("3BE000FF8131FE4514")
    assert state.lock_sw == 0x6984
    assert state.extended_length is False
    assert state.remove_after_apdus is None


@pytest.mark.parametrize(
    ("kind", "token"),
    [("card", "JPKIAPICCTOKEN2"), ("smartphone", "JPKIAPGPSETOKEN"), ("juki", "JPKIAPICCTOKEN")],
)
def test_token_by_kind(kind: str, token: str) -> None:
    assert make_state(token_kind=kind).token == token


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    state = make_state(
        token_kind="smartphone",
        signing_tries_left=2,
        auth_tries_left=1,
        apdu_latency_ms=3,
        sign_latency_ms=250.5,
        extended_length=True,
        remove_after_apdus=7,
        lock_sw=0x6983,
        atr=bytes.fromhex("3B8F8001"),
    )
    state.save(path)
    assert CardState.load(path) == state


def test_json_layout_is_readable(tmp_path: Path, material: Material) -> None:
    path = tmp_path / "card.json"
    make_state().save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "jpkisim-card-state/1"
    assert data["signing_password"] == SIGNING_PASSWORD  # stored as-is: a test card
    assert data["atr"] == "3B E0 00 FF 81 31 FE 45 14"
    assert data["lock_sw"] == "6984"
    assert data["sign_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert isinstance(data["sign_cert_der"], str)


def test_save_is_0600_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text("old")
    path.chmod(0o644)
    make_state().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["card.json"]  # no temporary file left


def test_save_failure_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "card.json"
    make_state(signing_tries_left=4).save(path)
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        make_state(signing_tries_left=1).save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["card.json"]


def test_optional_fields_take_defaults(tmp_path: Path) -> None:
    data = make_state().to_json()
    for knob in (
        "signing_tries_left",
        "auth_tries_left",
        "apdu_latency_ms",
        "sign_latency_ms",
        "extended_length",
        "remove_after_apdus",
        "lock_sw",
        "atr",
        "format",
    ):
        del data[knob]
    state = CardState.from_json(data)
    assert state.signing_tries_left == 5
    assert state.atr == DEFAULT_ATR


def test_lock_sw_accepts_an_integer() -> None:
    data = make_state().to_json()
    data["lock_sw"] = 0x6983
    assert CardState.from_json(data).lock_sw == 0x6983


def _swap_keys(data: dict[str, Any]) -> None:
    data["sign_key_pem"], data["auth_key_pem"] = data["auth_key_pem"], data["sign_key_pem"]


BAD_FIELDS: list[tuple[str, Any, str]] = [
    ("token_kind", "passport", "token_kind"),
    ("signing_password", "abc123", "signing_password"),
    ("signing_password", "AB12", "signing_password"),
    ("signing_password", "A" * 17, "signing_password"),
    ("auth_pin", "12345", "auth_pin"),
    ("auth_pin", "12a4", "auth_pin"),
    ("signing_tries_left", 6, "signing_tries_left"),
    ("signing_tries_left", True, "signing_tries_left"),
    ("auth_tries_left", -1, "auth_tries_left"),
    ("auth_tries_left", 4, "auth_tries_left"),
    ("apdu_latency_ms", -1, "apdu_latency_ms"),
    ("sign_latency_ms", "slow", "sign_latency_ms"),
    ("extended_length", "yes", "extended_length"),
    ("remove_after_apdus", -1, "remove_after_apdus"),
    ("remove_after_apdus", 1.5, "remove_after_apdus"),
    ("lock_sw", "9000", "lock_sw"),
    ("lock_sw", "zz", "lock_sw"),
    ("atr", "not hex", "atr"),
    ("atr", "3B", "atr"),
    ("sign_cert_der", "!!!", "sign_cert_der"),
    ("sign_ca_der", "AAAA", "sign_ca_der"),
    (
        "auth_key_pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "auth_key_pem",
    ),
    ("sign_key_pem", 42, "sign_key_pem"),
    ("format", "jpkisim-card-state/99", "format"),
    ("surprise", 1, "surprise"),
]


@pytest.mark.parametrize(("key", "value", "field"), BAD_FIELDS)
def test_invalid_field_is_named(key: str, value: Any, field: str) -> None:
    data = make_state().to_json()
    data[key] = value
    with pytest.raises(StateError) as caught:
        CardState.from_json(data)
    assert caught.value.field == field
    assert repr(field) in str(caught.value)


@pytest.mark.parametrize("missing", ["token_kind", "auth_pin", "sign_key_pem", "auth_ca_der"])
def test_missing_field_is_named(missing: str) -> None:
    data = make_state().to_json()
    del data[missing]
    with pytest.raises(StateError, match="missing") as caught:
        CardState.from_json(data)
    assert caught.value.field == missing


def test_key_not_matching_certificate_is_refused() -> None:
    data = make_state().to_json()
    _swap_keys(data)
    with pytest.raises(StateError, match="does not match") as caught:
        CardState.from_json(data)
    assert caught.value.field == "sign_cert_der"


def test_non_rsa_key_is_refused() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    data = make_state().to_json()
    data["auth_key_pem"] = ec_pem
    with pytest.raises(StateError, match="RSA") as caught:
        CardState.from_json(data)
    assert caught.value.field == "auth_key_pem"


@pytest.mark.parametrize(("content", "problem"), [("{not json", "not JSON"), ("[]", "object")])
def test_load_rejects_non_objects(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "card.json"
    path.write_text(content)
    with pytest.raises(StateError, match=problem):
        CardState.load(path)


def test_load_missing_file_is_a_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="cannot read"):
        CardState.load(tmp_path / "absent.json")


def test_save_refuses_an_invalid_counter(tmp_path: Path) -> None:
    state = make_state()
    state.signing_tries_left = 9
    with pytest.raises(StateError) as caught:
        state.save(tmp_path / "card.json")
    assert caught.value.field == "signing_tries_left"
    assert not (tmp_path / "card.json").exists()
