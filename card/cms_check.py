"""The receiving side's check of a card's detached CMS: structure, attributes, signature.

`verify_signed_data` accepts exactly what `card.cms.build_signed_data` makes: one signer,
exactly the PAdES signed attributes, the expected message digest and a valid signature.
Trust, validity and revocation of the certificate are left to the caller.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from asn1crypto import cms, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import load_der_x509_certificate

from card.errors import CardError

SHA256_DIGEST_SIZE = 32
SIGNED_ATTRIBUTE_TYPES = frozenset({"content_type", "message_digest", "signing_certificate_v2"})
"""The signed attributes of a PAdES baseline signature from the card: exactly these."""

_RSA_SIGNATURE_ALGORITHMS = frozenset({"sha256_rsa", "rsassa_pkcs1v15"})


class CmsCheckCode(StrEnum):
    """Why a CMS was refused: a stable, machine-readable reason."""

    MALFORMED = "malformed"
    NOT_SIGNED_DATA = "not_signed_data"
    VERSION = "version"
    ENCAPSULATED_CONTENT = "encapsulated_content"
    SIGNER_COUNT = "signer_count"
    SIGNER_IDENTIFIER = "signer_identifier"
    DIGEST_ALGORITHM = "digest_algorithm"
    SIGNATURE_ALGORITHM = "signature_algorithm"
    SIGNED_ATTRIBUTES = "signed_attributes"
    UNSIGNED_ATTRIBUTES = "unsigned_attributes"
    MESSAGE_DIGEST_MISMATCH = "message_digest_mismatch"
    CERTIFICATE_MISSING = "certificate_missing"
    SIGNING_CERTIFICATE_MISMATCH = "signing_certificate_mismatch"
    BAD_SIGNATURE = "bad_signature"


class CmsCheckError(CardError):
    """A CMS SignedData failed a check; `code` is a `CmsCheckCode` value."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VerifiedSignature:
    """What a checked CMS holds: the signer's certificate and the signature's inputs, DER."""

    signer_certificate: bytes
    certificates: tuple[bytes, ...]
    signed_attributes: bytes
    signature: bytes


def check_digest_length(message_digest: bytes) -> None:
    if len(message_digest) != SHA256_DIGEST_SIZE:
        raise ValueError(f"a SHA-256 message digest has 32 bytes, not {len(message_digest)}")


def verify_signed_data(cms_der: bytes, message_digest: bytes) -> VerifiedSignature:
    """Check a detached CMS from `build_signed_data` signs `message_digest`; raise `CmsCheckError`.

    Checks: a SignedData with detached id-data content, exactly one signer identified by
    issuer and serial whose certificate is embedded, SHA-256 with RSA PKCS#1 v1.5, exactly
    the three PAdES baseline signed attributes (each with one value) and no unsigned ones,
    content-type id-data, message-digest equal to `message_digest`, signing-certificate-v2
    naming the signer's certificate, and a valid signature. Trust is not checked here.
    """
    check_digest_length(message_digest)
    try:
        return _verify(cms_der, message_digest)
    except CmsCheckError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise CmsCheckError(CmsCheckCode.MALFORMED, f"the CMS cannot be parsed: {exc}") from exc


def _verify(cms_der: bytes, message_digest: bytes) -> VerifiedSignature:
    content_info = cms.ContentInfo.load(cms_der, strict=True)
    if content_info["content_type"].native != "signed_data":
        raise CmsCheckError(CmsCheckCode.NOT_SIGNED_DATA, "the ContentInfo is not a SignedData")
    signed_data = content_info["content"]
    _check_envelope(signed_data)
    signer_info = signed_data["signer_infos"][0]
    _check_algorithms(signer_info)

    signed_attrs = signer_info["signed_attrs"]
    attrs = _unique_signed_attributes(signed_attrs)
    if signer_info["unsigned_attrs"].native is not None:
        raise CmsCheckError(CmsCheckCode.UNSIGNED_ATTRIBUTES, "unsigned attributes are present")
    if attrs["content_type"].native != "data":
        raise CmsCheckError(CmsCheckCode.SIGNED_ATTRIBUTES, "the content-type is not id-data")
    if attrs["message_digest"].native != message_digest:
        raise CmsCheckError(
            CmsCheckCode.MESSAGE_DIGEST_MISMATCH, "the message-digest is not the expected digest"
        )

    certificates = [choice.chosen.dump() for choice in signed_data["certificates"]]
    signer_der = _signer_certificate(signer_info["sid"], signed_data["certificates"])
    _check_signing_certificate_attribute(attrs["signing_certificate_v2"], signer_der)

    # The signature covers the DER of the attributes as a SET OF, not as [0] IMPLICIT.
    tagged = signed_attrs.dump()
    attrs_der = b"\x31" + tagged[1:]
    signature: bytes = signer_info["signature"].native
    _check_signature(signer_der, attrs_der, signature)
    return VerifiedSignature(
        signer_certificate=signer_der,
        certificates=tuple(certificates),
        signed_attributes=attrs_der,
        signature=signature,
    )


def _check_envelope(signed_data: Any) -> None:
    if signed_data["version"].native != "v1":
        raise CmsCheckError(CmsCheckCode.VERSION, "the SignedData version is not 1")
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "data" or encap["content"].native is not None:
        raise CmsCheckError(
            CmsCheckCode.ENCAPSULATED_CONTENT, "the content must be id-data and detached"
        )
    if [_algorithm_name(alg) for alg in signed_data["digest_algorithms"]] != ["sha256"]:
        raise CmsCheckError(CmsCheckCode.DIGEST_ALGORITHM, "the digest algorithms are not {sha256}")
    if len(signed_data["signer_infos"]) != 1:
        count = len(signed_data["signer_infos"])
        raise CmsCheckError(CmsCheckCode.SIGNER_COUNT, f"expected one signer, found {count}")


def _algorithm_name(identifier: Any) -> str | None:
    """The algorithm's name, or None when it has parameters other than absent or NULL."""
    if identifier["parameters"].native is not None:
        return None
    name: str = identifier["algorithm"].native
    return name


def _check_algorithms(signer_info: Any) -> None:
    if signer_info["version"].native != "v1":
        raise CmsCheckError(CmsCheckCode.VERSION, "the SignerInfo version is not 1")
    if _algorithm_name(signer_info["digest_algorithm"]) != "sha256":
        raise CmsCheckError(CmsCheckCode.DIGEST_ALGORITHM, "the signer's digest is not SHA-256")
    signature_algorithm = _algorithm_name(signer_info["signature_algorithm"])
    if signature_algorithm not in _RSA_SIGNATURE_ALGORITHMS:
        raise CmsCheckError(
            CmsCheckCode.SIGNATURE_ALGORITHM,
            f"signature algorithm {signature_algorithm} is not RSA PKCS#1 v1.5 with SHA-256",
        )


def _unique_signed_attributes(signed_attrs: Any) -> dict[str, Any]:
    if signed_attrs.native is None:
        raise CmsCheckError(CmsCheckCode.SIGNED_ATTRIBUTES, "there are no signed attributes")
    found: dict[str, Any] = {}
    for attribute in signed_attrs:
        name = attribute["type"].native
        values = attribute["values"]
        if name in found or name not in SIGNED_ATTRIBUTE_TYPES or len(values) != 1:
            raise CmsCheckError(
                CmsCheckCode.SIGNED_ATTRIBUTES,
                f"unexpected, repeated or multi-valued signed attribute {name}",
            )
        found[name] = values[0]
    if set(found) != SIGNED_ATTRIBUTE_TYPES:
        missing = ", ".join(sorted(SIGNED_ATTRIBUTE_TYPES - set(found)))
        raise CmsCheckError(CmsCheckCode.SIGNED_ATTRIBUTES, f"missing signed attributes: {missing}")
    return found


def _signer_certificate(sid: Any, certificate_set: Any) -> bytes:
    if sid.name != "issuer_and_serial_number":
        raise CmsCheckError(
            CmsCheckCode.SIGNER_IDENTIFIER, "the signer is not identified by issuer and serial"
        )
    issuer = sid.chosen["issuer"]
    serial = sid.chosen["serial_number"].native
    for choice in certificate_set:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if cert.serial_number == serial and cert.issuer == issuer:
            der: bytes = cert.dump()
            return der
    raise CmsCheckError(
        CmsCheckCode.CERTIFICATE_MISSING, "the signer's certificate is not embedded"
    )


def _check_signing_certificate_attribute(value: Any, signer_der: bytes) -> None:
    signer = x509.Certificate.load(signer_der)
    ess_ids = value["certs"]
    first = ess_ids[0] if len(ess_ids) > 0 else None
    if (
        first is None
        or first["hash_algorithm"]["algorithm"].native != "sha256"
        or first["cert_hash"].native != hashlib.sha256(signer_der).digest()
    ):
        raise CmsCheckError(
            CmsCheckCode.SIGNING_CERTIFICATE_MISMATCH,
            "signing-certificate-v2 does not name the signer's certificate by its SHA-256",
        )
    issuer_serial = first["issuer_serial"]
    if issuer_serial.native is not None and (
        issuer_serial["serial_number"].native != signer.serial_number
        or [name.chosen for name in issuer_serial["issuer"]] != [signer.issuer]
    ):
        raise CmsCheckError(
            CmsCheckCode.SIGNING_CERTIFICATE_MISMATCH,
            "signing-certificate-v2 names another issuer and serial than the signer's",
        )


def _check_signature(signer_der: bytes, attrs_der: bytes, signature: bytes) -> None:
    try:
        public_key = load_der_x509_certificate(signer_der).public_key()
    except ValueError as exc:
        raise CmsCheckError(
            CmsCheckCode.CERTIFICATE_MISSING, f"the signer's certificate cannot be read: {exc}"
        ) from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CmsCheckError(CmsCheckCode.SIGNATURE_ALGORITHM, "the signer's key is not RSA")
    try:
        public_key.verify(signature, attrs_der, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise CmsCheckError(CmsCheckCode.BAD_SIGNATURE, "the signature does not verify") from exc
