"""The acceptance check end to end: real card CMSes, each refused for one reason, in order."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Any

import pytest
from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from card.cms_check import CmsCheckCode
from card.trust import jpki_signing_roots
from jpkisim.pki import IssuedCard, TestPki
from tests.webapp.card_signing.validation.conftest import (
    DIGEST,
    Authority,
    ScriptedResponder,
    card_cms,
    key_usage,
    make_authority,
    make_cms,
    ocsp_response,
    reissue,
    rejection,
    validate,
)
from webapp.card_signing.validation import (
    REJECTION_MESSAGES,
    CardSignatureRejected,
    CardSignatureValidator,
    NoRevocationChecker,
    OcspRevocationChecker,
    RejectionCode,
    RevocationChecker,
    RevocationSetup,
)
from webapp.card_signing.validation.revocation import RevocationMethod

MakeValidator = Callable[..., CardSignatureValidator]
SECOND = datetime.timedelta(seconds=1)


class RecordingChecker:
    """A revocation source that records the moments it is set up for (or fails to be)."""

    def __init__(
        self, inner: RevocationChecker | None = None, *, error: Exception | None = None
    ) -> None:
        self.inner = inner or NoRevocationChecker()
        self.method: RevocationMethod = self.inner.method
        self.error = error
        self.moments: list[datetime.datetime] = []

    def setup(self, at: datetime.datetime) -> RevocationSetup:
        self.moments.append(at)
        if self.error is not None:
            raise self.error
        return self.inner.setup(at)


def _answering(responder: ScriptedResponder, signer: Authority, **options: Any) -> list[bytes]:
    """Make `responder` answer with OCSP responses signed by `signer`; the answers sent."""
    sent: list[bytes] = []

    def answer(request: bytes) -> tuple[int, bytes]:
        sent.append(ocsp_response(request, signer, certificates=[], **options))
        return 200, sent[-1]

    responder.answer = answer
    return sent


def test_a_test_pki_card_signature_is_accepted(
    make_validator: MakeValidator, issued_card: IssuedCard, test_pki: TestPki
) -> None:
    accepted = validate(make_validator(), card_cms(issued_card))
    assert accepted.signer_certificate == issued_card.sign_cert_der
    assert accepted.issuer_certificate == test_pki.sign_root_der
    assert accepted.signer_name == "試験 花子"
    assert accepted.certificate_serial == f"{issued_card.sign_cert.serial_number:X}"
    assert (accepted.revocation_method, accepted.ocsp_response, accepted.crl) == (
        "none",
        None,
        None,
    )


def test_the_responder_is_asked_about_the_signer_at_clock_time(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    sign_root: Authority,
    responder: ScriptedResponder,
) -> None:
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=30)
    sent = _answering(responder, sign_root)
    checker = RecordingChecker(OcspRevocationChecker(responder.url))
    accepted = validate(make_validator(checker, clock=lambda: moment), card_cms(issued_card))
    assert checker.moments == [moment]
    [(_, request)] = responder.requests
    asked = ocsp.load_der_ocsp_request(request)
    assert asked.serial_number == issued_card.sign_cert.serial_number
    assert (accepted.revocation_method, accepted.ocsp_response, accepted.crl) == (
        "ocsp",
        sent[0],
        None,
    )


def test_rejection_carries_code_and_both_messages(
    make_validator: MakeValidator, issued_card: IssuedCard
) -> None:
    other = bytes(32)
    refused = rejection(make_validator(), card_cms(issued_card), other)
    assert refused.code == "message_digest_mismatch"
    assert refused.message_ja == "署名された文書がこのセッションの文書と一致しません。"
    assert refused.message_en == "The signature is not for this session's document."
    assert str(refused) == f"message_digest_mismatch: {refused.message_en}"
    assert refused.detail  # what exactly, for the log


def test_every_code_has_a_message_pair_without_personal_data() -> None:
    codes = [*CmsCheckCode, *RejectionCode]
    assert set(REJECTION_MESSAGES) == {str(code) for code in codes}
    for code in codes:
        refused = CardSignatureRejected(code)
        assert refused.code == str(code) and refused.code.islower()
        assert refused.message_ja and refused.message_en
        assert str(refused) == f"{code}: {refused.message_en}"
        assert "試験" not in refused.message_ja + refused.message_en
    unknown = CardSignatureRejected("something_else")
    assert unknown.message_en == "The signature was not accepted."


# -- the CMS itself ----------------------------------------------------------------------


def _resigned(cms_der: bytes, key: rsa.RSAPrivateKey, change: Callable[[list[Any]], None]) -> bytes:
    """The CMS with its signed attributes changed by `change`, validly signed again."""
    content_info = cms.ContentInfo.load(cms_der)
    signer_info = content_info["content"]["signer_infos"][0]
    attributes = list(signer_info["signed_attrs"])
    change(attributes)
    signed_attrs = cms.CMSAttributes(attributes)
    signer_info["signed_attrs"] = signed_attrs
    to_sign = b"\x31" + signed_attrs.dump(force=True)[1:]
    signer_info["signature"] = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
    return bytes(content_info.dump(force=True))


def test_cms_failures_keep_their_cms_check_codes(
    make_validator: MakeValidator, issued_card: IssuedCard, card_key: rsa.RSAPrivateKey
) -> None:
    validator = make_validator()
    good = card_cms(issued_card)
    signing_time = cms.CMSAttribute(
        {"type": "signing_time", "values": [core.UTCTime(datetime.datetime.now(datetime.UTC))]}
    )
    extra = _resigned(good, card_key, lambda attrs: attrs.append(signing_time))
    missing = _resigned(good, card_key, lambda attrs: attrs.pop())
    tampered = bytearray(good)
    tampered[-5] ^= 0x01  # inside the signature value, the last field
    assert validate(validator, _resigned(good, card_key, lambda attrs: None))  # the helper is sound
    assert rejection(validator, extra).code == "signed_attributes"
    assert rejection(validator, missing).code == "signed_attributes"
    assert rejection(validator, bytes(tampered)).code == "bad_signature"
    assert rejection(validator, b"\x30\x03\x02\x01\x00").code == "malformed"
    assert rejection(validator, good, bytes(32)).code == "message_digest_mismatch"


def test_a_digest_of_the_wrong_length_is_the_callers_mistake(
    make_validator: MakeValidator, issued_card: IssuedCard
) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        asyncio.run(make_validator().validate(card_cms(issued_card), b"short"))


# -- the path to an anchor ------------------------------------------------------------------


def test_a_certificate_from_a_foreign_ca_is_untrusted(
    make_validator: MakeValidator, issued_card: IssuedCard, card_key: rsa.RSAPrivateKey
) -> None:
    foreign = make_authority("someone else's JPKI")
    cert = reissue(issued_card.sign_cert, foreign)
    assert rejection(make_validator(), make_cms(card_key, cert, [foreign.der])).code == (
        "untrusted_certificate"
    )


def test_a_look_alike_root_with_the_same_name_is_untrusted(
    make_validator: MakeValidator, issued_card: IssuedCard, card_key: rsa.RSAPrivateKey
) -> None:
    look_alike = make_authority("x")
    look_alike = Authority(
        look_alike.key,
        x509.CertificateBuilder()
        .subject_name(issued_card.sign_cert.issuer)
        .issuer_name(issued_card.sign_cert.issuer)
        .public_key(look_alike.key.public_key())
        .serial_number(1)
        .not_valid_before(look_alike.certificate.not_valid_before_utc)
        .not_valid_after(look_alike.certificate.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(look_alike.key, hashes.SHA256()),
    )
    cert = reissue(issued_card.sign_cert, look_alike)
    refused = rejection(make_validator(), make_cms(card_key, cert, [look_alike.der]))
    assert refused.code == "untrusted_certificate"


def test_the_real_jpki_roots_do_not_trust_a_test_card(
    make_validator: MakeValidator, issued_card: IssuedCard
) -> None:
    validator = make_validator(anchors=list(jpki_signing_roots().values()))
    assert rejection(validator, card_cms(issued_card)).code == "untrusted_certificate"


def test_one_intermediate_from_the_cms_is_accepted(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    card_key: rsa.RSAPrivateKey,
    sign_root: Authority,
) -> None:
    intermediate = make_authority("test JPKI sign sub-CA", sign_root)
    cert = reissue(issued_card.sign_cert, intermediate)
    accepted = validate(make_validator(), make_cms(card_key, cert, [intermediate.der]))
    assert accepted.issuer_certificate == intermediate.der
    assert accepted.signer_certificate == cert
    # Without it in the CMS there is no path.
    assert rejection(make_validator(), make_cms(card_key, cert)).code == "untrusted_certificate"


def test_an_intermediate_must_be_a_ca_and_the_path_at_most_one_deep(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    card_key: rsa.RSAPrivateKey,
    sign_root: Authority,
) -> None:
    validator = make_validator()
    # Not a CA, though it may sign certificates; a CA that may not.
    for intermediate in (
        make_authority("not a CA", sign_root, ca=False, cert_sign=True),
        make_authority("no keyCertSign", sign_root, cert_sign=False),
    ):
        cert = reissue(issued_card.sign_cert, intermediate)
        refused = rejection(validator, make_cms(card_key, cert, [intermediate.der]))
        assert (intermediate.certificate.subject, refused.code) == (
            intermediate.certificate.subject,
            "untrusted_certificate",
        )

    first = make_authority("first sub-CA", sign_root)
    second = make_authority("second sub-CA", first)
    cert = reissue(issued_card.sign_cert, second)
    refused = rejection(validator, make_cms(card_key, cert, [second.der, first.der]))
    assert refused.code == "untrusted_certificate"


_ELSEWHERE = x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]))
"""Names a card certificate (C=JP) is not among."""


@pytest.mark.parametrize(
    ("root_options", "sub_ca_options", "code"),
    [
        ({"path_length": 1}, {}, None),
        ({"path_length": 0}, {}, "untrusted_certificate"),
        (
            {},
            {"extensions": [x509.NameConstraints([_ELSEWHERE], None)]},
            "untrusted_certificate",
        ),
        ({}, {"extensions": [x509.NameConstraints(None, [_ELSEWHERE])]}, None),
        (
            {},
            {"extensions": [x509.NameConstraints([x509.DNSName("example.jp")], None)]},
            None,
        ),
    ],
    ids=[
        "path-length-1",
        "path-length-0",
        "names-outside-the-permitted-ones",
        "names-not-excluded",
        "constraints-on-other-name-forms",
    ],
)
def test_path_length_and_name_constraints_are_not_ignored(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    card_key: rsa.RSAPrivateKey,
    root_options: dict[str, Any],
    sub_ca_options: dict[str, Any],
    code: str | None,
) -> None:
    root = make_authority("root", **root_options)
    sub_ca = make_authority("sub-CA", root, **sub_ca_options)
    cert = reissue(issued_card.sign_cert, sub_ca)
    validator = make_validator(anchors=[root.der])
    signed = make_cms(card_key, cert, [sub_ca.der])
    if code is None:
        assert validate(validator, signed).issuer_certificate == sub_ca.der
    else:
        assert rejection(validator, signed).code == code


def test_a_ca_certificate_or_an_unknown_critical_extension_is_untrusted(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    card_key: rsa.RSAPrivateKey,
    sign_root: Authority,
) -> None:
    as_ca = reissue(
        issued_card.sign_cert,
        sign_root,
        add=[(x509.BasicConstraints(ca=True, path_length=None), True)],
    )
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    with_unknown = reissue(issued_card.sign_cert, sign_root, add=[(unknown, True)])
    same_non_critical = reissue(issued_card.sign_cert, sign_root, add=[(unknown, False)])
    validator = make_validator()
    assert rejection(validator, make_cms(card_key, as_ca)).code == "untrusted_certificate"
    assert rejection(validator, make_cms(card_key, with_unknown)).code == "untrusted_certificate"
    assert validate(validator, make_cms(card_key, same_non_critical))


# -- validity, usage, profile --------------------------------------------------------------


def test_validity_is_checked_at_clock_time(
    make_validator: MakeValidator, issued_card: IssuedCard
) -> None:
    cert = issued_card.sign_cert
    signed = card_cms(issued_card)
    after = make_validator(clock=lambda: cert.not_valid_after_utc + SECOND)
    before = make_validator(clock=lambda: cert.not_valid_before_utc - SECOND)
    last_moment = make_validator(clock=lambda: cert.not_valid_after_utc)
    assert rejection(after, signed).code == "certificate_expired"
    assert rejection(before, signed).code == "certificate_not_yet_valid"
    assert validate(last_moment, signed).signer_name == "試験 花子"


def test_an_expired_intermediate_is_expired(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    card_key: rsa.RSAPrivateKey,
    sign_root: Authority,
) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    intermediate = make_authority("expired sub-CA", sign_root, not_after=past)
    cert = reissue(issued_card.sign_cert, intermediate)
    refused = rejection(make_validator(), make_cms(card_key, cert, [intermediate.der]))
    assert refused.code == "certificate_expired"


def test_non_repudiation_is_required(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    card_key: rsa.RSAPrivateKey,
    sign_root: Authority,
) -> None:
    without_nr = reissue(
        issued_card.sign_cert, sign_root, key_usage=key_usage(non_repudiation=False)
    )
    no_usage = reissue(issued_card.sign_cert, sign_root, key_usage=None)
    validator = make_validator()
    assert rejection(validator, make_cms(card_key, without_nr)).code == "key_usage"
    assert rejection(validator, make_cms(card_key, no_usage)).code == "key_usage"


def test_a_certificate_without_the_jpki_name_is_untrusted(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    card_key: rsa.RSAPrivateKey,
    sign_root: Authority,
) -> None:
    nameless = reissue(issued_card.sign_cert, sign_root, drop=[x509.SubjectAlternativeName])
    refused = rejection(make_validator(), make_cms(card_key, nameless))
    assert refused.code == "untrusted_certificate"


# -- order, and the checker's answers --------------------------------------------------------


def test_the_first_failure_in_order_is_reported(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    card_key: rsa.RSAPrivateKey,
    sign_root: Authority,
    responder: ScriptedResponder,
) -> None:
    foreign = make_authority("foreign")
    foreign_cert = reissue(issued_card.sign_cert, foreign)
    expired_clock = issued_card.sign_cert.not_valid_after_utc + SECOND
    _answering(responder, sign_root, status=ocsp.OCSPCertStatus.REVOKED)
    checker = OcspRevocationChecker(responder.url)
    expired = make_validator(checker, clock=lambda: expired_clock)
    # a moment after the revocation time the scripted answer gives (the second it is made)
    validator = make_validator(checker, clock=lambda: datetime.datetime.now(datetime.UTC) + SECOND)
    without_nr = reissue(
        issued_card.sign_cert, sign_root, key_usage=key_usage(non_repudiation=False)
    )

    foreign_cms = make_cms(card_key, foreign_cert)
    assert rejection(validator, foreign_cms, bytes(32)).code == "message_digest_mismatch"
    assert rejection(expired, foreign_cms).code == "untrusted_certificate"
    expired_no_nr = make_cms(card_key, without_nr)
    assert rejection(expired, expired_no_nr).code == "certificate_expired"
    assert responder.requests == []  # what fails path or validity is never asked about
    # revocation is part of the path, so it comes before the key usage
    assert rejection(validator, expired_no_nr).code == "certificate_revoked"
    assert rejection(validator, card_cms(issued_card)).code == "certificate_revoked"
    assert len(responder.requests) == 2
    _answering(responder, sign_root)
    assert rejection(validator, expired_no_nr).code == "key_usage"


def test_a_source_that_fails_is_revocation_unknown(
    make_validator: MakeValidator, issued_card: IssuedCard
) -> None:
    checker = RecordingChecker(error=RuntimeError("a bug in a source"))
    refused = rejection(make_validator(checker), card_cms(issued_card))
    assert refused.code == "revocation_unknown"
    assert refused.message_en.startswith("The revocation status of the certificate could not")
    assert "RuntimeError" in refused.detail


def test_construction_and_clock_mistakes_are_refused(
    issued_card: IssuedCard, make_validator: MakeValidator
) -> None:
    with pytest.raises(ValueError, match="no trust anchors"):
        CardSignatureValidator([], RecordingChecker())
    naive = make_validator(clock=datetime.datetime.now)
    with pytest.raises(ValueError, match="aware"):
        asyncio.run(naive.validate(card_cms(issued_card), DIGEST))
