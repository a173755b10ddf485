"""Signed ASN.1 stays byte-exact, and embedding it costs the same every time.

asn1crypto re-encodes parsed values that have an omitted DEFAULT field, once per level
and twice per dump (issues #249, #256): a seal took 0.1 s or 5 s at random. These tests
count asn1crypto's re-encodings, so they do not depend on the machine's speed.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import cms, core
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute

from webapp.pdf import FileSealKey, Sealer
from webapp.pdf.frozen_asn1 import FrozenAttributes, FrozenContentInfo, KeepingTimeStamper


@pytest.fixture(scope="module")
def token(tsa_url: str) -> FrozenContentInfo:
    stamper = KeepingTimeStamper(tsa_url)
    result = asyncio.run(stamper.async_timestamp(hashlib.sha256(b"x").digest(), "sha256"))
    assert isinstance(result, FrozenContentInfo)
    return result


@pytest.fixture
def reencodings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How often asn1crypto rebuilt a SEQUENCE's contents from its children."""
    count = [0]
    original = core.Sequence._set_contents

    def counting(self: core.Sequence, force: bool = False) -> None:
        count[0] += 1
        original(self, force)

    monkeypatch.setattr(core.Sequence, "_set_contents", counting)
    yield count


def test_token_is_written_as_received_however_it_is_handled(token: FrozenContentInfo) -> None:
    received = token.dump()
    _ = token.native  # parse everything, creating the DEFAULT children
    assert token.dump(force=True) == received
    assert token.copy().dump() == received
    tagged = token.retag({"explicit": 0})
    assert tagged.dump()[-len(received) :] == received


def test_a_seal_cms_dumps_in_linear_work_even_when_forced(
    token: FrozenContentInfo, seal_key: FileSealKey, tsa_url: str, reencodings: list[int]
) -> None:
    """Forcing a dump is what a 0x80-ending length somewhere does: the worst case, always."""
    stamper = KeepingTimeStamper(tsa_url)
    content = asyncio.run(
        seal_key.signer.async_sign_general_data(
            b"contract bytes", "sha256", use_cades=True, timestamper=stamper
        )
    )
    der = content.dump()
    signer_info = content["content"]["signer_infos"][0]  # parse, as pyHanko's checks do
    assert {a["type"].native for a in signer_info["signed_attrs"]} >= {"signing_certificate_v2"}
    reencodings[0] = 0
    assert content.dump(force=True) == der
    assert reencodings[0] < 10, reencodings[0]
    tagged = content.retag({"explicit": 0})  # a copy: asn1crypto re-parses the children
    assert tagged.dump(force=True)[-len(der) :] == der
    assert reencodings[0] < 10, reencodings[0]
    (embedded,) = signer_info["unsigned_attrs"][0]["values"]
    assert embedded["content_type"].native == "signed_data"  # the signature timestamp


def test_plain_values_show_the_problem_the_freezing_avoids(
    seal_key: FileSealKey, reencodings: list[int]
) -> None:
    """The same forced dump of an unfrozen signing-certificate-v2 attribute (documents why)."""
    cert = seal_key.signer.signing_cert
    attribute = simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(cert))
    plain = cms.CMSAttributes.load(cms.CMSAttributes([attribute]).dump())
    _ = plain.native
    reencodings[0] = 0
    plain.dump(force=True)
    assert reencodings[0] > 20, reencodings[0]  # grows as 2 ** depth; ~20 levels in a seal


def test_sealing_stays_linear_whatever_lengths_a_seal_has(
    sealer: Sealer, one_page_pdf: Path, reencodings: list[int]
) -> None:
    """Without the freezing, more than half of all seals took 5 s: over six, one would show."""
    data = one_page_pdf.read_bytes()
    counts = []
    for _ in range(6):
        reencodings[0] = 0
        asyncio.run(sealer.seal(io.BytesIO(data), io.BytesIO(), field_name="x", reason="r"))
        counts.append(reencodings[0])
    assert max(counts) < 50_000, counts


def test_attribute_sets_stay_frozen_when_tagged_into_a_signer_info(
    seal_key: FileSealKey, token: FrozenContentInfo
) -> None:
    unsigned = cms.CMSAttributes([simple_cms_attribute("signature_time_stamp_token", token)])
    frozen = FrozenAttributes.freeze(unsigned.dump())
    tagged = frozen.retag({"implicit": 1})  # what SignerInfo["unsigned_attrs"] = … does
    assert isinstance(tagged, FrozenAttributes)
    _ = [a["values"][0]["content"]["signer_infos"] for a in tagged]  # parse deep inside
    assert tagged.dump(force=True)[-len(frozen.contents) :] == frozen.contents
