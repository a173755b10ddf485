"""Detached CMS SignedData with PAdES baseline signed attributes, built from a signing token.

`build_signed_data` asks the token for one signature over the signed attributes
(content-type, message-digest, signing-certificate-v2; no signing-time) and checks it
with `card.cms_check.verify_signed_data` before returning.
"""

from __future__ import annotations

import hashlib

from asn1crypto import algos, cms, tsp, x509
from cryptography.x509 import load_der_x509_certificate

from card.cms_check import CmsCheckCode, CmsCheckError, check_digest_length, verify_signed_data
from card.errors import CardError, UnexpectedCardResponseError
from card.token import SigningToken, sha256_digest_info


def _digest_algorithm() -> algos.DigestAlgorithm:
    # asn1crypto writes the NULL parameters for SHA-256, as pyHanko's own signer does.
    return algos.DigestAlgorithm({"algorithm": "sha256"})


def _signature_algorithm() -> algos.SignedDigestAlgorithm:
    # sha256WithRSAEncryption; RFC 4055 wants NULL parameters and asn1crypto writes them.
    return algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})


class SignatureCheckError(CardError):
    """The token's signature does not verify against its own certificate."""


def _der_tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def _signing_certificate_v2(cert: x509.Certificate, cert_der: bytes) -> tsp.SigningCertificateV2:
    ess_cert_id = tsp.ESSCertIDv2(
        {
            # hashAlgorithm left out: SHA-256 is its default.
            "cert_hash": hashlib.sha256(cert_der).digest(),
            "issuer_serial": {
                "issuer": [x509.GeneralName({"directory_name": cert.issuer})],
                "serial_number": cert.serial_number,
            },
        }
    )
    return tsp.SigningCertificateV2({"certs": [ess_cert_id]})


def signed_attributes_der(cert_der: bytes, message_digest: bytes) -> bytes:
    """The DER SET OF signed attributes whose SHA-256 the token signs.

    content-type id-data, message-digest, and signing-certificate-v2 naming `cert_der`
    by its SHA-256 and issuer/serial; deliberately no signing-time (PAdES baseline).
    """
    check_digest_length(message_digest)
    cert = x509.Certificate.load(cert_der)
    attributes = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [message_digest]}),
            cms.CMSAttribute(
                {
                    "type": "signing_certificate_v2",
                    "values": [_signing_certificate_v2(cert, cert_der)],
                }
            ),
        ]
    )
    der: bytes = attributes.dump()  # a SET OF: asn1crypto sorts the encodings (DER)
    return der


def build_signed_data(token: SigningToken, message_digest: bytes) -> bytes:
    """A detached CMS SignedData (DER ContentInfo) signing `message_digest` with `token`.

    Raises `SignatureCheckError` when the token's signature does not verify against its
    certificate, and `UnexpectedCardResponseError` when a certificate cannot be parsed.
    """
    check_digest_length(message_digest)
    cert_der = token.signing_certificate()
    ca_ders = token.ca_certificates()
    try:
        for der in [cert_der, *ca_ders]:
            load_der_x509_certificate(der)  # strict parse: a card's garbage stops here
        cert = x509.Certificate.load(cert_der)
        attrs_der = signed_attributes_der(cert_der, message_digest)
        certificate_choices = [
            cms.CertificateChoices({"certificate": x509.Certificate.load(der)}).dump()
            for der in [cert_der, *ca_ders]
        ]
        sid = cms.IssuerAndSerialNumber(
            {"issuer": cert.issuer, "serial_number": cert.serial_number}
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise UnexpectedCardResponseError(f"the token's certificate cannot be read: {exc}") from exc

    digest_info = sha256_digest_info(hashlib.sha256(attrs_der).digest())
    signature = token.sign_digest_info(digest_info)

    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": {"issuer_and_serial_number": sid},
            "digest_algorithm": _digest_algorithm(),
            "signed_attrs": cms.CMSAttributes.load(attrs_der),
            "signature_algorithm": _signature_algorithm(),
            "signature": signature,
        }
    )
    # Loaded rather than built, so asn1crypto keeps the signer's certificate first.
    certificates = cms.CertificateSet.load(_der_tlv(0x31, b"".join(certificate_choices)))
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [_digest_algorithm()],
            "encap_content_info": {"content_type": "data"},
            "certificates": certificates,
            "signer_infos": [signer_info],
        }
    )
    content_info: bytes = cms.ContentInfo(
        {"content_type": "signed_data", "content": signed_data}
    ).dump()
    try:
        verify_signed_data(content_info, message_digest)
    except CmsCheckError as exc:
        if exc.code == CmsCheckCode.BAD_SIGNATURE:
            raise SignatureCheckError(
                "the token's signature does not verify against its certificate"
            ) from exc
        raise UnexpectedCardResponseError(f"the token's data gave an unusable CMS: {exc}") from exc
    return content_info


__all__ = [
    "CmsCheckCode",
    "CmsCheckError",
    "SignatureCheckError",
    "build_signed_data",
    "signed_attributes_der",
    "verify_signed_data",
]
