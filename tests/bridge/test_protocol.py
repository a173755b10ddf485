"""Wire protocol v1 and v2: every message round-trips, bad frames get the right error code."""

from __future__ import annotations

import datetime
import json

import pytest

from bridge import protocol
from bridge.protocol import ProtocolError, parse_message

NOW = datetime.datetime(2025, 4, 1, 12, 0, tzinfo=datetime.UTC)
KEY = "k" * 22

EXAMPLES: list[protocol._Message] = [
    protocol.Hello(client="jpki-bridge", client_version="0.1.0", order=protocol.Order.CARD_FIRST),
    protocol.ClaimResume(claim_key=KEY),
    protocol.Progress(stage=protocol.Stage.SIGNING),
    protocol.CardError(code=protocol.CardErrorCode.WRONG_PASSWORD, tries_left=4, message="x"),
    protocol.Signature(digest="ab" * 32, cms="MIIB"),
    protocol.Claim(claim_key=KEY, expires_at=NOW),
    protocol.SignRequest(
        document_title="契約書",
        sender="送信者",
        expected_signer_name="署名 者",
        digest="cd" * 32,
        expires_at=NOW,
    ),
    protocol.Result(outcome="accepted"),
    protocol.Result(outcome="rejected", reason="digest_mismatch", message="wrong digest"),
    protocol.Expired(),
    protocol.Cancelled(reason="user_cancelled"),
    protocol.Error(code="unknown_type", message="what is this"),
]
V2_EXAMPLES: list[protocol._Message] = [
    protocol.Certificate(certificate="MIIB"),
    protocol.SignDigest(certificate_sha256="ef" * 32, digest="cd" * 32),
    protocol.SignRequest(
        version=2,
        document_title="契約書",
        sender="送信者",
        expected_signer_name="署名 者",
        expires_at=NOW,
    ),
    protocol.Progress(version=2, stage=protocol.Stage.READING_CERTIFICATE),
    protocol.Claim(version=2, claim_key=KEY, expires_at=NOW),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: m.type)
def test_every_message_round_trips(message: protocol._Message) -> None:
    frame = message.to_json()
    obj = json.loads(frame)
    assert list(obj)[:2] == ["type", "version"] and obj["version"] == 1
    assert parse_message(frame) == message


@pytest.mark.parametrize("message", V2_EXAMPLES, ids=lambda m: m.type)
def test_every_v2_message_round_trips(message: protocol._Message) -> None:
    frame = message.to_json()
    obj = json.loads(frame)
    assert list(obj)[:2] == ["type", "version"] and obj["version"] == 2
    assert parse_message(frame) == message


def test_a_v2_sign_request_has_no_digest_and_a_v1_one_must() -> None:
    assert "digest" not in json.loads(V2_EXAMPLES[2].to_json())
    v1 = json.loads(EXAMPLES[6].to_json())
    del v1["digest"]
    with pytest.raises(ProtocolError) as raised:
        parse_message(json.dumps(v1))
    assert raised.value.code == "invalid_message"
    v2 = {**json.loads(EXAMPLES[6].to_json()), "version": 2}
    with pytest.raises(ProtocolError) as raised:
        parse_message(json.dumps(v2))
    assert raised.value.code == "invalid_message"


def test_a_hello_without_protocol_version_means_v1() -> None:
    hello = json.loads(EXAMPLES[0].to_json())
    del hello["protocol_version"]
    parsed = parse_message(json.dumps(hello))
    assert isinstance(parsed, protocol.Hello) and parsed.protocol_version == 1


def test_a_message_is_sent_in_the_connection_version() -> None:
    progress = protocol.Progress(stage=protocol.Stage.SIGNING)
    assert json.loads(progress.in_version(2).to_json())["version"] == 2
    assert progress.in_version(1) is progress


def test_every_type_has_an_example() -> None:
    shown = {message.type for message in EXAMPLES + V2_EXAMPLES}
    assert shown == set(protocol.MESSAGE_TYPES)
    assert set(protocol.MESSAGE_TYPES) == protocol.BRIDGE_TYPES | protocol.SERVER_TYPES


def test_datetimes_are_utc_iso() -> None:
    frame = json.loads(protocol.Claim(claim_key=KEY, expires_at=NOW).to_json())
    assert frame["expires_at"] == "2025-04-01T12:00:00Z"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{", "malformed_json"),
        ("[1, 2]", "malformed_json"),
        (b'{"type": "hello"}', "malformed_json"),
        ('{"version": 1}', "unknown_type"),
        ('{"type": "hello!", "version": 1}', "unknown_type"),
        ('{"type": "expired"}', "unsupported_version"),
        ('{"type": "expired", "version": 3}', "unsupported_version"),
        ('{"type": "expired", "version": 0}', "unsupported_version"),
        ('{"type": "certificate", "version": 1, "certificate": "MIIB"}', "unknown_type"),
        ('{"type": "sign_digest", "version": 1, "digest": "x"}', "unknown_type"),
        ('{"type": "certificate", "version": 2, "certificate": "not base64!"}', "invalid_message"),
        (
            '{"type": "certificate", "version": 2, "certificate": "' + "A" * 20000 + '"}',
            "invalid_message",
        ),
        ('{"type": "certificate", "version": 2}', "invalid_message"),
        (
            '{"type": "sign_digest", "version": 2, "certificate_sha256": "ab", "digest": "cd"}',
            "invalid_message",
        ),
        ('{"type": "expired", "version": "1"}', "unsupported_version"),
        ('{"type": "expired", "version": true}', "unsupported_version"),
        ('{"type": "expired", "version": 1, "extra": 1}', "invalid_message"),
        ('{"type": "result", "version": 1, "outcome": "rejected"}', "invalid_message"),
        ('{"type": "progress", "version": 1, "stage": "dancing"}', "invalid_message"),
        ('{"type": "signature", "version": 1, "digest": "AB", "cms": "MIIB"}', "invalid_message"),
        (
            json.dumps(
                {"type": "claim", "version": 1, "claim_key": KEY, "expires_at": "2025-04-01T12:00"}
            ),
            "invalid_message",
        ),
    ],
)
def test_bad_frames_are_refused_with_a_code(frame: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as raised:
        parse_message(frame)
    assert raised.value.code == code


def test_control_characters_are_refused_in_displayed_text() -> None:
    request = EXAMPLES[6].model_dump(mode="json")
    for evil in ("\x1b[2J", "a\u202eb", "\x07"):
        request["document_title"] = evil
        with pytest.raises(ProtocolError) as raised:
            parse_message(json.dumps(request))
        assert raised.value.code == "invalid_message"


def test_an_invalid_message_error_names_fields_not_values() -> None:
    frame = json.dumps({"type": "claim_resume", "version": 1, "claim_key": "SECRET-LOOKING"})
    with pytest.raises(ProtocolError) as raised:
        parse_message(frame)
    assert "claim_key" in raised.value.message
    assert "SECRET-LOOKING" not in str(raised.value)
