"""The test PKI's RFC 3161 time-stamping authority: TimeStampReq in, TimeStampResp out.

A granted answer carries a TimeStampToken: CMS SignedData over a TSTInfo, signed by the
TEST TSA key with the signed attributes content-type (id-ct-TSTInfo), message-digest and
signing-certificate-v2 (ESSCertIDv2, SHA-256), as RFC 3161 and RFC 5816 ask.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from jpkisim.pki import TestPki
from jpkisim.pki_builder import utc_now
from jpkisim.pki_profile import TEST_POLICY_TSA

# Imprint algorithms we time-stamp, with their digest lengths; anything else is badAlg.
ACCEPTED_IMPRINTS = {"sha256": 32, "sha384": 48, "sha512": 64}


class TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 TimeStampResp; asn1crypto's own forgets that the token is OPTIONAL."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class TsaAnswer(NamedTuple):
    """What to send back: HTTP status, DER TimeStampResp, and a word for the log."""

    http_status: int
    body: bytes
    outcome: str


def _rejection(fail_info: str, text: str, http_status: int = 200) -> TsaAnswer:
    response = TimeStampResp(
        {
            "status": {
                "status": "rejection",
                "status_string": [text],
                "fail_info": tsp.PKIFailureInfo({fail_info}),
            }
        }
    )
    return TsaAnswer(http_status, response.dump(), f"rejected {fail_info}: {text}")


def _check(request: tsp.TimeStampReq) -> TsaAnswer | None:
    """A rejection for a request we will not stamp, None for one we will."""
    if request["version"].native != "v1":
        return _rejection("bad_request", f"version {request['version'].native} is not v1")
    imprint = request["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in ACCEPTED_IMPRINTS:
        return _rejection("bad_alg", f"hash algorithm {algorithm} is not accepted")
    if len(imprint["hashed_message"].native) != ACCEPTED_IMPRINTS[algorithm]:
        return _rejection("bad_data_format", f"imprint length does not fit {algorithm}")
    policy = request["req_policy"].native
    if policy is not None and policy != TEST_POLICY_TSA:
        return _rejection("unaccepted_policy", f"policy {policy} is not {TEST_POLICY_TSA}")
    if request["extensions"].native:
        return _rejection("unaccepted_extensions", "no request extensions are supported")
    return None


def _tst_info(pki: TestPki, request: tsp.TimeStampReq) -> tsp.TSTInfo:
    tsa_name = asn1_x509.Name.load(pki.tsa_cert.subject.public_bytes())
    fields: dict[str, object] = {
        "version": "v1",
        "policy": TEST_POLICY_TSA,
        "message_imprint": tsp.MessageImprint.load(request["message_imprint"].dump()),
        "serial_number": x509.random_serial_number(),
        "gen_time": utc_now(),
        "accuracy": {"seconds": 1},
        "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_name),
    }
    if request["nonce"].native is not None:
        fields["nonce"] = request["nonce"].native
    return tsp.TSTInfo(fields)


def _signed_attributes(pki: TestPki, tst_der: bytes) -> cms.CMSAttributes:
    tsa = asn1_x509.Certificate.load(pki.tsa_cert.public_bytes(serialization.Encoding.DER))
    ess_cert_id = tsp.ESSCertIDv2(
        {
            # hashAlgorithm left out: SHA-256 is its DEFAULT and DER omits defaults
            "cert_hash": hashlib.sha256(tsa.dump()).digest(),
            "issuer_serial": {
                "issuer": [asn1_x509.GeneralName(name="directory_name", value=tsa.issuer)],
                "serial_number": tsa.serial_number,
            },
        }
    )
    return cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]}
            ),
            cms.CMSAttribute(
                {
                    "type": "signing_certificate_v2",
                    "values": [tsp.SigningCertificateV2({"certs": [ess_cert_id]})],
                }
            ),
        ]
    )


def _token(pki: TestPki, tst_info: tsp.TSTInfo, include_cert: bool) -> cms.ContentInfo:
    tsa = asn1_x509.Certificate.load(pki.tsa_cert.public_bytes(serialization.Encoding.DER))
    tst_der = tst_info.dump()
    attributes = _signed_attributes(pki, tst_der)
    signature = pki.tsa_key.sign(attributes.dump(), padding.PKCS1v15(), hashes.SHA256())
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": tsa.issuer, "serial_number": tsa.serial_number},
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(tst_der),
            },
            "certificates": [tsa] if include_cert else None,
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})


def answer_timestamp(pki: TestPki, request_der: bytes) -> TsaAnswer:
    """Answer one DER TimeStampReq (garbage gets HTTP 400 with a badDataFormat rejection)."""
    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        request.native  # noqa: B018 - parse it all now, so garbage fails here
    except (ValueError, TypeError, KeyError, OverflowError):
        return _rejection("bad_data_format", "not a DER TimeStampReq", http_status=400)
    rejection = _check(request)
    if rejection is not None:
        return rejection
    tst_info = _tst_info(pki, request)
    token = _token(pki, tst_info, include_cert=bool(request["cert_req"].native))
    response = TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
    return TsaAnswer(200, response.dump(), f"granted serial={tst_info['serial_number'].native:X}")
