"""A JPKI-sized CRL (200,000 entries): a validation costs no more than one in OCSP mode.

The CRL and its root are made once with the test PKI builder and kept in pytest's cache
(`jpki-large-crl/`), since building 200,000 entries takes seconds. The card's own
certificate is issued again by that root. Nothing is timed by the wall clock: the test
counts pyhanko-certvalidator's CRL walks and compares CPU time with OCSP mode.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator.revinfo import validate_crl

from jpkisim import pki_builder
from jpkisim.pki import IssuedCard
from tests.webapp.card_signing.validation.conftest import (
    DIGEST,
    Authority,
    ScriptedResponder,
    der,
    make_authority,
    make_cms,
    ocsp_response,
    reissue,
    rsa_key,
    validate,
)
from webapp.card_signing.validation import (
    CardSignatureValidator,
    CrlFileRevocationChecker,
    OcspRevocationChecker,
)

ENTRIES = 200_000
VALIDATIONS = 10
_DAY = datetime.timedelta(days=1)
MakeValidator = Callable[..., CardSignatureValidator]


@dataclass(frozen=True)
class LargeCrl:
    root: Authority
    crl_path: Path


@pytest.fixture(scope="session")
def large_crl(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> LargeCrl:
    """A root and its CRL of `ENTRIES` serials (none of them the card's), cached across runs
    (made for this run alone when pytest's cache is off: `-p no:cacheprovider`)."""
    cache = getattr(pytestconfig, "cache", None)
    directory = (
        cache.mkdir("jpki-large-crl") if cache is not None else tmp_path_factory.mktemp("crl")
    )
    key_path, cert_path, crl_path = (directory / n for n in ("root.key", "root.pem", "sign.crl"))
    now = pki_builder.utc_now()
    if crl_path.is_file() and key_path.is_file() and cert_path.is_file():
        cached = x509.load_der_x509_crl(crl_path.read_bytes())
        if len(cached) == ENTRIES and (cached.next_update_utc or now) > now + 30 * _DAY:
            root = Authority(
                rsa_key(key_path.read_bytes()),
                x509.load_pem_x509_certificate(cert_path.read_bytes()),
            )
            return LargeCrl(root, crl_path)
    root = make_authority("JPKI-sized CRL test root")
    entries = [
        pki_builder.RevokedEntry(
            serial=0x4A50_0000_0000 + number,
            revoked_at=now - datetime.timedelta(minutes=number),
            reason=x509.ReasonFlags.affiliation_changed if number % 2 else None,
        )
        for number in range(ENTRIES)
    ]
    crl = pki_builder.make_crl(
        root, number=1, this_update=now, next_update=now + 365 * _DAY, revoked=entries
    )
    key_path.write_bytes(pki_builder.key_to_pem(root.key))
    cert_path.write_bytes(root.certificate.public_bytes(serialization.Encoding.PEM))
    crl_path.write_bytes(crl.public_bytes(Encoding.DER))
    return LargeCrl(root, crl_path)


async def _method_of(validator: CardSignatureValidator, cms_der: bytes) -> str:
    """Only the method: `asyncio.run` on the main thread reprs its result (megabytes of CRL)."""
    return (await validator.validate(cms_der, DIGEST)).revocation_method


def _cpu_of_validations(validator: CardSignatureValidator, cms_der: bytes) -> float:
    asyncio.run(_method_of(validator, cms_der))  # first use of this validator: not measured
    started = time.process_time()  # every thread of the process: the validations run on workers
    for _ in range(VALIDATIONS):
        asyncio.run(_method_of(validator, cms_der))
    return time.process_time() - started


def test_a_jpki_sized_crl_costs_a_validation_no_more_than_ocsp(
    make_validator: MakeValidator,
    issued_card: IssuedCard,
    large_crl: LargeCrl,
    responder: ScriptedResponder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    certificate = reissue(issued_card.sign_cert, large_crl.root)
    signed = make_cms(
        rsa_key(issued_card.sign_key_pem), certificate, [der(large_crl.root.certificate)]
    )
    anchors = [der(large_crl.root.certificate)]
    walks: list[int] = []
    original = validate_crl.find_cert_in_list

    def counted(*args: Any, **kwargs: Any) -> Any:
        walks.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(validate_crl, "find_cert_in_list", counted)

    checker = CrlFileRevocationChecker(large_crl.crl_path)
    crl_mode = make_validator(checker, anchors=anchors)
    assert checker.wait_until_read(timeout=600)  # once per version of the file, on its thread
    accepted = validate(crl_mode, signed)
    assert (accepted.revocation_method, accepted.crl) == ("crl", large_crl.crl_path.read_bytes())

    responder.answer = lambda request: (200, ocsp_response(request, large_crl.root))
    ocsp_mode = make_validator(OcspRevocationChecker(responder.url), anchors=anchors)
    assert validate(ocsp_mode, signed).revocation_method == "ocsp"

    crl_cpu = _cpu_of_validations(crl_mode, signed)
    ocsp_cpu = _cpu_of_validations(ocsp_mode, signed)
    assert walks == []  # pyhanko-certvalidator never walked the CRL's entries
    # walking 200,000 entries per validation costs tens of times an OCSP round trip
    assert crl_cpu < 3 * ocsp_cpu, (crl_cpu, ocsp_cpu)
