"""Protocol v2 in the bridge: the certificate goes to the server mid-burst, the digest comes back.

The card stays held for that one round trip; everything that can go wrong with it (the
server refuses the certificate, never answers, answers nonsense, the connection drops,
the card is lost after the answer) ends cleanly, with the card's key never used for
anything but the server's digest.
"""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from bridge import protocol
from bridge.cards import SimulatorCardProvider
from bridge.errors import ExitCode
from bridge.protocol import Order
from tests.bridge.conftest import FAST, RunSession
from tests.bridge.fakes import ScriptedUser
from tests.bridge.server import Script
from tests.conftest import SIGNING_PASSWORD


def announced(run_certificates: list[protocol.Certificate]) -> list[bytes]:
    return [base64.b64decode(message.certificate) for message in run_certificates]


@pytest.mark.parametrize("order", list(Order))
def test_a_refused_certificate_stops_before_the_card_signs(
    run_session: RunSession, sim_provider: SimulatorCardProvider, order: Order
) -> None:
    script = Script(refuse_certificate=("untrusted_certificate", "not a JPKI certificate"))
    run = run_session(sim_provider, ScriptedUser([SIGNING_PASSWORD]), script, order=order)
    assert run.error is not None and run.error.key == "rejected"
    assert run.error.reason == "untrusted_certificate"
    assert run.error.exit_code is ExitCode.NOT_SIGNED
    assert sim_provider.card.signature_count == 0, "the card never signed"
    assert run.server.of_type(protocol.Signature) == []
    assert len(run.server.of_type(protocol.Certificate)) == 1


def test_a_server_that_never_answers_the_certificate_is_given_up_in_time(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    timeouts = dataclasses.replace(FAST, digest=1.0)
    script = Script(silent_on_certificate=True)
    run = run_session(sim_provider, ScriptedUser([SIGNING_PASSWORD]), script, timeouts=timeouts)
    assert run.error is not None and run.error.exit_code is ExitCode.NETWORK
    assert run.error.key == "network_timeout"
    assert sim_provider.card.signature_count == 0
    assert run.server.of_type(protocol.Cancelled)[0].reason == "network"


V2_DIGEST = {"type": "sign_digest", "version": 2, "certificate_sha256": "ab" * 32}


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (json.dumps({**V2_DIGEST, "certificate_sha256": "x"}), "invalid_message"),
        (json.dumps({**V2_DIGEST, "digest": "cd" * 32, "version": 1}), "unknown_type"),
        (json.dumps({**V2_DIGEST, "digest": "cd" * 32, "extra": 1}), "invalid_message"),
        (json.dumps({"type": "progress", "version": 2, "stage": "signing"}), "unexpected_message"),
        (protocol.Expired().to_json(), "unsupported_version"),  # v1 on a v2 connection
    ],
)
def test_a_bad_answer_to_the_certificate_is_a_protocol_error(
    run_session: RunSession, sim_provider: SimulatorCardProvider, answer: str, code: str
) -> None:
    script = Script(certificate_answer=answer)
    run = run_session(sim_provider, ScriptedUser([SIGNING_PASSWORD]), script)
    assert run.error is not None and run.error.exit_code is ExitCode.NETWORK
    assert [error.code for error in run.server.of_type(protocol.Error)] == [code]
    assert sim_provider.card.signature_count == 0


def test_a_digest_for_another_certificate_is_not_signed(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    other = protocol.SignDigest(certificate_sha256="ab" * 32, digest="cd" * 32).to_json()
    timeouts = dataclasses.replace(FAST, digest=1.0)
    script = Script(certificate_answer=other)
    run = run_session(sim_provider, ScriptedUser([SIGNING_PASSWORD]), script, timeouts=timeouts)
    assert run.error is not None and run.error.key == "network_timeout"
    assert sim_provider.card.signature_count == 0


def test_a_drop_at_the_certificate_is_resumed_and_the_certificate_sent_again(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    run = run_session(sim_provider, ScriptedUser([SIGNING_PASSWORD]), Script(drop_on="certificate"))
    assert run.signed is not None, run.error
    assert run.server.resumed_with == [run.server.claim_key]
    assert announced(run.server.of_type(protocol.Certificate)) == [run.signed.certificate] * 2
    assert sim_provider.card.signature_count == 1
    assert run.server.verdict is not None and run.server.verdict.outcome == "accepted"


def test_a_card_lost_after_the_digest_signs_the_same_digest_without_asking_again(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    signature_apdu = 12  # select, PIN EF, tries, VERIFY, certificate (8), key, then the signature
    sim_provider.card.arm_removal(signature_apdu)

    def put_back(request: int) -> None:
        if request == 2:
            sim_provider.card.reinsert()

    run = run_session(sim_provider, ScriptedUser([SIGNING_PASSWORD], on_card=put_back))
    assert run.signed is not None, run.error
    codes = [error.code for error in run.server.of_type(protocol.CardError)]
    assert codes == [protocol.CardErrorCode.CARD_REMOVED]
    certificates = announced(run.server.of_type(protocol.Certificate))
    assert certificates == [run.signed.certificate], "the digest known for it was reused"
    kinds = [message.type for message in run.server.received]
    assert kinds.index("certificate") < kinds.index("card_error"), "lost after the digest came"
    assert run.server.of_type(protocol.Signature)[0].digest == run.server.script.digest.hex()
    assert sim_provider.card.signature_count == 1
