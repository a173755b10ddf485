"""Tests of the detached CMS builder and checker, cross-checked with OpenSSL and pyHanko."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, cms, core, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import load_der_x509_certificate
from hypothesis import given
from hypothesis import strategies as st
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from card.cms import SignatureCheckError, build_signed_data, signed_attributes_der
from card.cms_check import CmsCheckCode, CmsCheckError, verify_signed_data
from card.errors import CardError, UnexpectedCardResponseError
from card.token import SHA256_DIGEST_INFO_PREFIX, SigningToken
from jpkisim.pki import IssuedCard
from tests.card.conftest import TEST_ROOT_NAME, TestCa, make_root
from tests.software_token import SoftwareToken

DATA = b"%PDF-1.7 the ByteRange of a contract\n" * 40
DIGEST = hashlib.sha256(DATA).digest()
SHA256_NULL = bytes.fromhex("300d06096086480165030402010500")
SHA256_RSA_NULL = bytes.fromhex("300d06092a864886f70d01010b0500")


def _signer_info(cms_der: bytes) -> Any:
    return cms.ContentInfo.load(cms_der)["content"]["signer_infos"][0]


def test_software_token_is_a_signing_token(token: SoftwareToken) -> None:
    assert isinstance(token, SigningToken)


def test_signed_data_has_the_pades_baseline_structure(
    token: SoftwareToken, card_certificate: bytes, test_root: TestCa
) -> None:
    content_info = cms.ContentInfo.load(build_signed_data(token, DIGEST))
    assert content_info["content_type"].native == "signed_data"
    signed_data = content_info["content"]
    assert signed_data["version"].native == "v1"
    assert [alg.dump() for alg in signed_data["digest_algorithms"]] == [SHA256_NULL]
    assert signed_data["encap_content_info"]["content_type"].native == "data"
    assert signed_data["encap_content_info"]["content"].native is None
    certificates = [choice.chosen.dump() for choice in signed_data["certificates"]]
    assert certificates == [card_certificate, test_root.der]
    assert len(signed_data["signer_infos"]) == 1

    signer_info = signed_data["signer_infos"][0]
    assert signer_info["version"].native == "v1"
    sid = signer_info["sid"]
    signer = x509.Certificate.load(card_certificate)
    assert sid.name == "issuer_and_serial_number"
    assert sid.chosen["issuer"] == signer.issuer
    assert sid.chosen["serial_number"].native == signer.serial_number
    assert signer_info["digest_algorithm"].dump() == SHA256_NULL
    assert signer_info["signature_algorithm"].dump() == SHA256_RSA_NULL
    assert signer_info["unsigned_attrs"].native is None
    assert len(signer_info["signature"].native) == 256


def test_signed_attributes_are_exactly_the_three(
    token: SoftwareToken, card_certificate: bytes
) -> None:
    attrs = _signer_info(build_signed_data(token, DIGEST))["signed_attrs"]
    by_type = {attr["type"].native: attr["values"] for attr in attrs}
    assert [attr["type"].native for attr in attrs] == [
        "content_type",
        "message_digest",
        "signing_certificate_v2",
    ]
    assert [value.native for value in by_type["content_type"]] == ["data"]
    assert [value.native for value in by_type["message_digest"]] == [DIGEST]
    (signing_certificate,) = by_type["signing_certificate_v2"]
    (ess_cert_id,) = signing_certificate["certs"]
    # hashAlgorithm is omitted (SHA-256 is the default): the SEQUENCE starts with certHash.
    assert ess_cert_id.dump()[2] == 0x04
    assert ess_cert_id["cert_hash"].native == hashlib.sha256(card_certificate).digest()
    signer = x509.Certificate.load(card_certificate)
    assert ess_cert_id["issuer_serial"]["serial_number"].native == signer.serial_number
    assert [name.chosen for name in ess_cert_id["issuer_serial"]["issuer"]] == [signer.issuer]
    assert signing_certificate["policies"].native is None


def test_token_signs_the_51_byte_digest_info_of_the_signed_attributes(
    token: SoftwareToken, card_certificate: bytes
) -> None:
    cms_der = build_signed_data(token, DIGEST)
    attrs_der = signed_attributes_der(card_certificate, DIGEST)
    expected = SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(attrs_der).digest()
    assert token.requests == [expected]
    assert len(expected) == 51
    assert expected.startswith(bytes.fromhex("3031300d060960864801650304020105000420"))
    tagged = _signer_info(cms_der)["signed_attrs"].dump()
    assert b"\x31" + tagged[1:] == attrs_der


def test_signed_attributes_der_is_a_der_set(card_certificate: bytes) -> None:
    attrs_der = signed_attributes_der(card_certificate, DIGEST)
    assert attrs_der[0] == 0x31
    reparsed = cms.CMSAttributes.load(attrs_der)
    assert reparsed.dump(force=True) == attrs_der


@pytest.fixture(params=["simulated card", "built here"])
def signing_setup(request: pytest.FixtureRequest) -> tuple[SoftwareToken, bytes]:
    """A token and the DER root its certificate chains to: the jpkisim card's or ours."""
    if request.param == "simulated card":
        sim_card: IssuedCard = request.getfixturevalue("sim_card")
        token: SoftwareToken = request.getfixturevalue("sim_token")
        return token, sim_card.sign_ca_der
    root: TestCa = request.getfixturevalue("test_root")
    return request.getfixturevalue("token"), root.der


def test_openssl_verifies_the_detached_signature(
    signing_setup: tuple[SoftwareToken, bytes], tmp_path: Path
) -> None:
    token, root_der = signing_setup
    (tmp_path / "sig.der").write_bytes(build_signed_data(token, DIGEST))
    (tmp_path / "data.bin").write_bytes(DATA)
    (tmp_path / "other.bin").write_bytes(DATA + b"x")
    root_pem = load_der_x509_certificate(root_der).public_bytes(Encoding.PEM)
    (tmp_path / "root.pem").write_bytes(root_pem)

    def openssl_verify(content: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.der"),
                *("-content", content, "-CAfile", "root.pem", "-purpose", "any"),
                *("-out", "/dev/null"),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    good = openssl_verify("data.bin")
    assert good.returncode == 0, good.stderr
    assert "Verification successful" in good.stderr
    assert openssl_verify("other.bin").returncode != 0


def _pyhanko_status(cms_der: bytes, data: bytes, root_der: bytes) -> Any:
    context = ValidationContext(
        trust_roots=[x509.Certificate.load(root_der)],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    signed_data = cms.ContentInfo.load(cms_der)["content"]
    return asyncio.run(
        async_validate_detached_cms(data, signed_data, signer_validation_context=context)
    )


def test_pyhanko_validates_intact_valid_and_trusted(
    signing_setup: tuple[SoftwareToken, bytes],
) -> None:
    token, root_der = signing_setup
    cms_der = build_signed_data(token, DIGEST)
    status = _pyhanko_status(cms_der, DATA, root_der)
    assert status.intact
    assert status.valid
    assert status.trusted
    assert not _pyhanko_status(cms_der, DATA + b"x", root_der).intact


def test_pyhanko_does_not_trust_it_under_another_root(
    token: SoftwareToken, signer_key: rsa.RSAPrivateKey
) -> None:
    other_root = make_root(TEST_ROOT_NAME, signer_key)
    status = _pyhanko_status(build_signed_data(token, DIGEST), DATA, other_root.der)
    assert status.intact
    assert not status.trusted


def test_simulated_card_certificates_are_embedded(
    sim_token: SoftwareToken, sim_card: IssuedCard
) -> None:
    verified = verify_signed_data(build_signed_data(sim_token, DIGEST), DIGEST)
    assert verified.signer_certificate == sim_card.sign_cert_der
    assert verified.certificates == (sim_card.sign_cert_der, sim_card.sign_ca_der)


def test_a_card_returning_a_bad_signature_is_caught(
    signer_key: rsa.RSAPrivateKey, card_certificate: bytes
) -> None:
    broken = SoftwareToken(signer_key, card_certificate, [], corrupt=True)
    with pytest.raises(SignatureCheckError) as caught:
        build_signed_data(broken, DIGEST)
    assert isinstance(caught.value, CardError)


def test_a_signature_by_another_key_is_caught(card_certificate: bytes) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SignatureCheckError):
        build_signed_data(SoftwareToken(other_key, card_certificate, []), DIGEST)


def test_an_unreadable_certificate_from_the_card_is_a_card_error(
    signer_key: rsa.RSAPrivateKey, card_certificate: bytes
) -> None:
    with pytest.raises(UnexpectedCardResponseError):
        build_signed_data(SoftwareToken(signer_key, b"\x30\x03\x02\x01\x01", []), DIGEST)
    with pytest.raises(UnexpectedCardResponseError):
        build_signed_data(SoftwareToken(signer_key, card_certificate, [b"junk"]), DIGEST)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_message_digest_must_be_32_bytes(token: SoftwareToken, length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        build_signed_data(token, b"\x00" * length)
    assert token.requests == []


def test_verify_returns_the_signer_certificate(
    token: SoftwareToken, card_certificate: bytes, test_root: TestCa
) -> None:
    verified = verify_signed_data(build_signed_data(token, DIGEST), DIGEST)
    assert verified.signer_certificate == card_certificate
    assert verified.certificates == (card_certificate, test_root.der)
    assert verified.signed_attributes == signed_attributes_der(card_certificate, DIGEST)
    assert len(verified.signature) == 256


# --- negative cases of verify_signed_data, on CMS assembled here and signed properly ---


def _attribute(kind: str, value: Any) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": kind, "values": [value]})


def _assemble(
    key: rsa.RSAPrivateKey,
    cert_der: bytes,
    *,
    attributes: list[cms.CMSAttribute] | None = None,
    signers: int = 1,
    certificates: list[bytes] | None = None,
    unsigned: list[cms.CMSAttribute] | None = None,
    content: bytes | None = None,
    sid: dict[str, Any] | None = None,
    tamper: bool = False,
) -> bytes:
    """A SignedData like the builder's, with one thing changed, signed with `key`."""
    cert = x509.Certificate.load(cert_der)
    if attributes is None:
        attributes = list(cms.CMSAttributes.load(signed_attributes_der(cert_der, DIGEST)))
    attrs = cms.CMSAttributes(attributes)
    signature = key.sign(attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
    if tamper:
        signature = bytes([signature[0] ^ 0x80]) + signature[1:]
    info: dict[str, Any] = {
        "version": "v1",
        "sid": sid
        or {
            "issuer_and_serial_number": {
                "issuer": cert.issuer,
                "serial_number": cert.serial_number,
            }
        },
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
        "signature": signature,
    }
    if unsigned:
        info["unsigned_attrs"] = cms.CMSAttributes(unsigned)
    encap: dict[str, Any] = {"content_type": "data"}
    if content is not None:
        encap["content"] = content
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": encap,
            "certificates": [
                x509.Certificate.load(der)
                for der in (certificates if certificates is not None else [cert_der])
            ],
            "signer_infos": [cms.SignerInfo(info) for _ in range(signers)],
        }
    )
    result: bytes = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    return result


def _code(cms_der: bytes, digest: bytes = DIGEST) -> str:
    with pytest.raises(CmsCheckError) as caught:
        verify_signed_data(cms_der, digest)
    assert str(caught.value).startswith(caught.value.code)
    return caught.value.code


def test_assembled_baseline_verifies(signer_key: rsa.RSAPrivateKey, card_certificate: bytes):
    """The negative cases below differ from an accepted CMS in one thing only."""
    verified = verify_signed_data(_assemble(signer_key, card_certificate), DIGEST)
    assert verified.signer_certificate == card_certificate


def test_wrong_digest(token: SoftwareToken) -> None:
    cms_der = build_signed_data(token, DIGEST)
    assert _code(cms_der, hashlib.sha256(b"other").digest()) == "message_digest_mismatch"


def test_extra_signing_time_attribute(signer_key: rsa.RSAPrivateKey, card_certificate: bytes):
    attributes = list(cms.CMSAttributes.load(signed_attributes_der(card_certificate, DIGEST)))
    signing_time = _attribute("signing_time", cms.Time({"utc_time": datetime.now(UTC)}))
    cms_der = _assemble(signer_key, card_certificate, attributes=[*attributes, signing_time])
    assert _code(cms_der) == CmsCheckCode.SIGNED_ATTRIBUTES


def test_missing_signing_certificate_attribute(
    signer_key: rsa.RSAPrivateKey, card_certificate: bytes
):
    attributes = [_attribute("content_type", "data"), _attribute("message_digest", DIGEST)]
    cms_der = _assemble(signer_key, card_certificate, attributes=attributes)
    assert _code(cms_der) == "signed_attributes"


def test_repeated_attribute(signer_key: rsa.RSAPrivateKey, card_certificate: bytes):
    attributes = list(cms.CMSAttributes.load(signed_attributes_der(card_certificate, DIGEST)))
    extra = _attribute("message_digest", DIGEST)
    cms_der = _assemble(signer_key, card_certificate, attributes=[*attributes, extra])
    assert _code(cms_der) == "signed_attributes"


def test_two_signers(signer_key: rsa.RSAPrivateKey, card_certificate: bytes) -> None:
    assert _code(_assemble(signer_key, card_certificate, signers=2)) == "signer_count"


def test_no_signer(signer_key: rsa.RSAPrivateKey, card_certificate: bytes) -> None:
    assert _code(_assemble(signer_key, card_certificate, signers=0)) == "signer_count"


def test_tampered_signature(signer_key: rsa.RSAPrivateKey, card_certificate: bytes) -> None:
    assert _code(_assemble(signer_key, card_certificate, tamper=True)) == "bad_signature"


def test_missing_certificate(
    signer_key: rsa.RSAPrivateKey, card_certificate: bytes, test_root: TestCa
) -> None:
    cms_der = _assemble(signer_key, card_certificate, certificates=[test_root.der])
    assert _code(cms_der) == "certificate_missing"
    assert _code(_assemble(signer_key, card_certificate, certificates=[])) == (
        "certificate_missing"
    )


def test_signing_certificate_attribute_naming_another_certificate(
    signer_key: rsa.RSAPrivateKey, card_certificate: bytes, test_root: TestCa
) -> None:
    attributes = list(cms.CMSAttributes.load(signed_attributes_der(test_root.der, DIGEST)))
    cms_der = _assemble(signer_key, card_certificate, attributes=attributes)
    assert _code(cms_der) == "signing_certificate_mismatch"


def test_unsigned_attributes(signer_key: rsa.RSAPrivateKey, card_certificate: bytes) -> None:
    unsigned = [_attribute("signing_time", cms.Time({"utc_time": datetime.now(UTC)}))]
    cms_der = _assemble(signer_key, card_certificate, unsigned=unsigned)
    assert _code(cms_der) == "unsigned_attributes"


def test_attached_content(signer_key: rsa.RSAPrivateKey, card_certificate: bytes) -> None:
    cms_der = _assemble(signer_key, card_certificate, content=DATA)
    assert _code(cms_der) == "encapsulated_content"


def test_subject_key_identifier_sid(signer_key: rsa.RSAPrivateKey, card_certificate: bytes):
    sid = {"subject_key_identifier": b"\x01" * 20}
    assert _code(_assemble(signer_key, card_certificate, sid=sid)) == "signer_identifier"


SHA384_NULL = bytes.fromhex("300d06096086480165030402020500")
SHA256_EMPTY_OCTETS = bytes.fromhex("300d06096086480165030402010400")
RSA_ENCRYPTION_NULL = bytes.fromhex("300d06092a864886f70d0101010500")
SHA512_RSA_NULL = bytes.fromhex("300d06092a864886f70d01010d0500")


def _replace_last(cms_der: bytes, old: bytes, new: bytes) -> bytes:
    """Replace in the SignerInfo, which follows the certificates (that also name algorithms)."""
    head, found, tail = cms_der.rpartition(old)
    assert found
    return head + new + tail


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        (SHA256_NULL, SHA384_NULL, "digest_algorithm"),
        (SHA256_NULL, SHA256_EMPTY_OCTETS, "malformed"),
        (SHA256_RSA_NULL, SHA512_RSA_NULL, "signature_algorithm"),
    ],
)
def test_other_algorithms(token: SoftwareToken, old: bytes, new: bytes, code: str) -> None:
    assert _code(_replace_last(build_signed_data(token, DIGEST), old, new)) == code


def test_rsa_encryption_as_signature_algorithm_is_accepted(token: SoftwareToken) -> None:
    cms_der = _replace_last(build_signed_data(token, DIGEST), SHA256_RSA_NULL, RSA_ENCRYPTION_NULL)
    assert verify_signed_data(cms_der, DIGEST).signature


def test_not_signed_data() -> None:
    data = cms.ContentInfo({"content_type": "data", "content": core.OctetString(b"x")}).dump()
    assert _code(data) == "not_signed_data"


@pytest.mark.parametrize(
    ("junk", "code"),
    [
        (b"", "malformed"),
        (b"\x30\x00", "malformed"),
        (b"\x04\x01\x00", "malformed"),
        (b"\x30\x03\x06\x01\x00", "not_signed_data"),
    ],
)
def test_junk(junk: bytes, code: str) -> None:
    assert _code(junk) == code


@given(st.binary(max_size=300))
def test_random_bytes_only_raise_cms_check_error(junk: bytes) -> None:
    with pytest.raises(CmsCheckError):
        verify_signed_data(junk, DIGEST)
