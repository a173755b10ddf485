"""Revocation by OCSP: the test PKI's responder, and a scripted one for every unusable answer."""

from __future__ import annotations

import datetime
import socket
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from jpkisim.pki import IssuedCard, TestPki
from jpkisim.pki_server import PkiServer
from tests.webapp.card_signing.validation.conftest import (
    Authority,
    ScriptedResponder,
    card_cms,
    make_authority,
    ocsp_response,
    rejection,
    validate,
)
from webapp.card_signing.validation import CardSignatureValidator, OcspRevocationChecker

MakeValidator = Callable[..., CardSignatureValidator]
HOUR = datetime.timedelta(hours=1)
NO_CHECK = [x509.OCSPNoCheck()]
"""A responder certificate whose own revocation is not to be checked (RFC 6960 4.2.2.2.1)."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


@pytest.mark.parametrize("cert_id_hash", ["sha1", "sha256"])
def test_a_good_answer_from_the_test_pki_is_kept(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    pki_services: PkiServer,
    cert_id_hash: str,
) -> None:
    checker = OcspRevocationChecker(f"{pki_services.url}/ocsp", cert_id_hash=cert_id_hash)  # type: ignore[arg-type]
    accepted = validate(make_validator(checker), card_cms(issued_card))
    assert (accepted.revocation_method, accepted.crl) == ("ocsp", None)
    assert accepted.ocsp_response is not None
    kept = ocsp.load_der_ocsp_response(accepted.ocsp_response)
    assert kept.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert kept.serial_number == issued_card.sign_cert.serial_number
    assert kept.hash_algorithm.name == cert_id_hash


def test_a_revoked_card_is_refused(
    make_validator: MakeValidator,
    fresh_card: IssuedCard,
    test_pki: TestPki,
    pki_services: PkiServer,
) -> None:
    validator = make_validator(OcspRevocationChecker(f"{pki_services.url}/ocsp"))
    signed = card_cms(fresh_card)
    assert validate(validator, signed).revocation_method == "ocsp"
    test_pki.revoke(TestPki.card_serial(fresh_card))
    refused = rejection(validator, signed)
    assert refused.code == "certificate_revoked"
    assert refused.message_ja.startswith("署名用電子証明書が失効しています")


def test_a_responder_that_is_down_is_revocation_unknown(
    make_validator: MakeValidator, issued_card: IssuedCard
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    checker = OcspRevocationChecker(f"http://127.0.0.1:{closed_port}/ocsp", timeout_seconds=5)
    refused = rejection(make_validator(checker), card_cms(issued_card))
    assert refused.code == "revocation_unknown"
    assert "could not be reached" in refused.detail


def test_an_answer_signed_by_the_issuer_itself_is_accepted(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    sign_root: Authority,
    responder: ScriptedResponder,
) -> None:
    responder.answer = lambda request: (200, ocsp_response(request, sign_root, certificates=[]))
    accepted = validate(make_validator(OcspRevocationChecker(responder.url)), card_cms(issued_card))
    assert accepted.ocsp_response is not None
    [(content_type, body)] = responder.requests
    assert content_type == "application/ocsp-request"
    request = ocsp.load_der_ocsp_request(body)
    assert request.serial_number == issued_card.sign_cert.serial_number
    assert request.hash_algorithm.name == "sha1"
    assert len(request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce) == 16


@pytest.fixture(scope="module")
def delegated(sign_root: Authority) -> Authority:
    """A delegated responder of the test signing root, minted here (id-pkix-ocsp-nocheck)."""
    return make_authority(
        "test OCSP responder", sign_root, ca=False, ocsp_signing=True, extensions=NO_CHECK
    )


def _usable_answers(delegated: Authority) -> dict[str, Callable[[bytes], tuple[int, bytes]]]:
    now = _now()
    return {
        "delegated": lambda r: (200, ocsp_response(r, delegated)),
        "no-nonce-echoed": lambda r: (200, ocsp_response(r, delegated, nonce=None)),
        "this-update-within-skew": lambda r: (
            200,
            ocsp_response(r, delegated, this_update=now + datetime.timedelta(minutes=2)),
        ),
        "no-next-update-but-recent": lambda r: (
            200,
            ocsp_response(r, delegated, next_update=None),
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["delegated", "no-nonce-echoed", "this-update-within-skew", "no-next-update-but-recent"],
)
def test_usable_answers(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    delegated: Authority,
    responder: ScriptedResponder,
    case: str,
) -> None:
    responder.answer = _usable_answers(delegated)[case]
    accepted = validate(make_validator(OcspRevocationChecker(responder.url)), card_cms(issued_card))
    assert accepted.revocation_method == "ocsp"


def _flip_signature(response_der: bytes) -> bytes:
    signature = ocsp.load_der_ocsp_response(response_der).signature
    return response_der.replace(signature, signature[:-1] + bytes([signature[-1] ^ 1]))


Answers = dict[str, Callable[[bytes], tuple[int, bytes]]]


@pytest.fixture(scope="module")
def unusable_answers(sign_root: Authority, delegated: Authority) -> Answers:
    """Each way an answer can be unusable, by name (keys made once for the module)."""
    now = _now()
    foreign_root = make_authority("foreign root")
    foreign_responder = make_authority(
        "foreign responder", foreign_root, ca=False, ocsp_signing=True, extensions=NO_CHECK
    )
    no_eku = make_authority(
        "responder without extended usage", sign_root, ca=False, extensions=NO_CHECK
    )
    other_eku = make_authority(
        "responder for other purposes",
        sign_root,
        ca=False,
        extended_usage=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.TIME_STAMPING],
        extensions=NO_CHECK,
    )
    expired = make_authority(
        "expired responder",
        sign_root,
        ca=False,
        ocsp_signing=True,
        not_after=now - HOUR,
        extensions=NO_CHECK,
    )
    unchecked = make_authority("responder without nocheck", sign_root, ca=False, ocsp_signing=True)
    unsuccessful = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    return {
        "unrelated-signer": lambda r: (200, ocsp_response(r, foreign_responder)),
        "foreign-root-signer": lambda r: (200, ocsp_response(r, foreign_root)),
        "delegate-without-extended-usage": lambda r: (200, ocsp_response(r, no_eku)),
        "delegate-for-other-purposes": lambda r: (200, ocsp_response(r, other_eku)),
        "expired-delegate": lambda r: (200, ocsp_response(r, expired)),
        "delegate-not-included": lambda r: (200, ocsp_response(r, delegated, certificates=[])),
        "delegate-without-nocheck-or-revocation-data": lambda r: (
            200,
            ocsp_response(r, unchecked),
        ),
        "bad-signature": lambda r: (200, _flip_signature(ocsp_response(r, delegated))),
        "status-unknown": lambda r: (
            200,
            ocsp_response(r, delegated, status=ocsp.OCSPCertStatus.UNKNOWN),
        ),
        "other-serial": lambda r: (200, ocsp_response(r, delegated, serial=12345)),
        "stale": lambda r: (
            200,
            ocsp_response(r, delegated, this_update=now - 2 * HOUR, next_update=now - HOUR),
        ),
        "this-update-in-the-future": lambda r: (
            200,
            ocsp_response(r, delegated, this_update=now + datetime.timedelta(minutes=10)),
        ),
        "old-without-next-update": lambda r: (
            200,
            ocsp_response(r, delegated, this_update=now - 2 * HOUR, next_update=None),
        ),
        "other-nonce": lambda r: (200, ocsp_response(r, delegated, nonce=b"\x01" * 16)),
        "try-later": lambda r: (200, unsuccessful.public_bytes(Encoding.DER)),
        "http-500": lambda r: (500, b""),
        "garbage": lambda r: (200, b"not an OCSP response"),
    }


UNAUTHORISED = "signed by an unauthorized certificate"
NOT_VALIDATED = "signing certificate could not be validated"
UNUSABLE = {
    "unrelated-signer": NOT_VALIDATED,
    "foreign-root-signer": UNAUTHORISED,
    "delegate-without-extended-usage": UNAUTHORISED,
    "delegate-for-other-purposes": UNAUTHORISED,
    "expired-delegate": NOT_VALIDATED,
    "delegate-not-included": "signing certificate could not be located",
    "delegate-without-nocheck-or-revocation-data": NOT_VALIDATED,
    "bad-signature": "Unable to verify OCSP response signature",
    "status-unknown": "an applicable OCSP response could not be found",
    "other-serial": "serial number does not match",
    "stale": "not recent enough",
    "this-update-in-the-future": "thisUpdate is in the future",
    "old-without-next-update": "not recent enough",
    "other-nonce": "nonces do not match",
    "try-later": "Status was 'try_later'",
    "http-500": "answered HTTP 500",
    "garbage": "Failed to parse response",
}
"""Each unusable answer and the reason the log gets for it."""


@pytest.mark.parametrize(("case", "reason"), UNUSABLE.items(), ids=list(UNUSABLE))
def test_unusable_answers_are_revocation_unknown(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    responder: ScriptedResponder,
    unusable_answers: Answers,
    case: str,
    reason: str,
) -> None:
    responder.answer = unusable_answers[case]
    refused = rejection(make_validator(OcspRevocationChecker(responder.url)), card_cms(issued_card))
    assert refused.code == "revocation_unknown"
    assert len(responder.requests) == 1
    assert reason in refused.detail


def test_an_unsigned_revoked_answer_is_not_believed_either(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    responder: ScriptedResponder,
) -> None:
    stranger = make_authority("stranger", None, ca=False, ocsp_signing=True)
    responder.answer = lambda r: (
        200,
        ocsp_response(r, stranger, status=ocsp.OCSPCertStatus.REVOKED),
    )
    refused = rejection(make_validator(OcspRevocationChecker(responder.url)), card_cms(issued_card))
    assert refused.code == "revocation_unknown"


def test_the_checker_refuses_a_url_that_is_not_http() -> None:
    with pytest.raises(ValueError, match="http"):
        OcspRevocationChecker("ldap://example.invalid/ocsp")
    with pytest.raises(ValueError, match="sha1 or sha256"):
        OcspRevocationChecker("http://127.0.0.1/ocsp", cert_id_hash="md5")  # type: ignore[arg-type]
