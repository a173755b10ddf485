"""The hostile-PDF corpus against the upload check and the PDF steps of the whole flow.

Every refused file gets its own code, with words in both languages, well within the time
bound; every accepted file is then stamped, sealed, signed with a card's key (the card
signature path: prepare, CMS, embed), sealed again and completed (B-LTA), and the result
passes AdES-LTA validation. The service-level runs are in `test_hostile_service.py`.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from pyhanko.sign.signers.pdf_cms import SimpleSigner

from tests.webapp.pdf.checks import lta_results, passed
from tests.webapp.pdf.hostile_corpus import ACCEPTED, CASES, Case, corpus_file
from tests.webapp.pdf.steps import finalize_file, seal_file, stamp_file
from webapp.card_signing.embedding import embed_card_signature, prepare_card_signature
from webapp.pdf import FileSealKey, PdfRejected, Sealer, inspect_pdf
from webapp.pdf.inspect import Attachment
from webapp.pdf.limits import DEFAULT_LIMITS, CheckLimits
from webapp.pdf.refusals import TEXTS
from webapp.pdf.seal import FINAL_SEAL_FIELD

MAX_BYTES = 64 * 1024 * 1024
SHORT = replace(DEFAULT_LIMITS, seconds=2.0)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def check(data: bytes, limits: CheckLimits = DEFAULT_LIMITS) -> tuple[PdfRejected | None, float]:
    started = time.monotonic()
    try:
        inspect_pdf(io.BytesIO(data), max_bytes=MAX_BYTES, max_pages=1000, limits=limits)
    except PdfRejected as refused:
        return refused, time.monotonic() - started
    return None, time.monotonic() - started


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_check_refuses_with_its_code_or_accepts(case: Case) -> None:
    # what only the time bound ends is checked with a short one (the bound itself is tested)
    limits = SHORT if case.refused_with == "too_complex" else DEFAULT_LIMITS
    refused, seconds = check(corpus_file(case.name), limits)
    assert seconds < limits.seconds + 5, f"{seconds:.1f} s"
    if case.refused_with is None:
        assert refused is None, refused
        return
    assert refused is not None, "accepted"
    assert refused.code == case.refused_with, (refused.code, refused.message_en)
    assert refused.code in TEXTS or refused.code == "empty"
    assert JAPANESE.search(refused.message_ja) and refused.message_en.isascii()
    assert "{" not in refused.message_ja + refused.message_en  # every blank filled in


def test_active_content_is_named_in_the_refusal() -> None:
    refused, _ = check(corpus_file("launch-cmd"))
    assert refused is not None
    assert "Launch" in refused.message_en and "外部プログラムの起動" in refused.message_ja
    refused, _ = check(corpus_file("xfa"))
    assert refused is not None and "XFA" in refused.message_en and "XFA" in refused.message_ja


def test_trailing_junk_is_refused_in_time_linear_in_its_size() -> None:
    """The issue's case: 1.2 s at 1 MiB, 31 s at 4 MiB before. Now one pass over the file."""
    timings = {}
    for name in ("junk-after-eof-1mib", "junk-after-eof-4mib", "junk-after-eof-20mib"):
        refused, seconds = check(corpus_file(name))
        assert refused is not None and refused.code == "trailing_data"
        assert "%%EOF" in refused.message_en
        timings[name] = seconds
    assert max(timings.values()) < 3, timings


def test_attachments_are_allowed_and_listed() -> None:
    data = corpus_file("with-attachment")
    info = inspect_pdf(io.BytesIO(data), max_bytes=MAX_BYTES, max_pages=10)
    assert info.attachments == (
        Attachment("terms.txt", len(b"General terms and conditions\n") * 100),
    )
    plain = inspect_pdf(io.BytesIO(corpus_file("plain")), max_bytes=MAX_BYTES, max_pages=10)
    assert plain.attachments == ()


def test_the_object_limit_is_its_own_refusal() -> None:
    limits = replace(DEFAULT_LIMITS, max_objects=20)
    data = corpus_file("object-streams-30-pages")
    with pytest.raises(PdfRejected) as caught:
        inspect_pdf(io.BytesIO(data), max_bytes=MAX_BYTES, max_pages=100, limits=limits)
    assert caught.value.code == "too_many_objects" and "20" in caught.value.message_en


def test_running_out_of_time_is_too_complex() -> None:
    """A loop inside pyHanko's parser that reads no file: the sandbox ends it in time."""
    limits = replace(DEFAULT_LIMITS, seconds=1.0)
    started = time.monotonic()
    with pytest.raises(PdfRejected) as caught:
        inspect_pdf(
            io.BytesIO(corpus_file("comment-at-end-of-object-stream")),
            max_bytes=MAX_BYTES,
            max_pages=10,
            limits=limits,
        )
    assert caught.value.code == "too_complex"
    assert time.monotonic() - started < 6


@pytest.fixture(scope="module")
def card_sealer(card_key: FileSealKey, tsa_url: str, trust_roots: list[bytes]) -> Sealer:
    return Sealer(card_key.signer, tsa_url, trust_roots)


def sign_with_card(source: Path, target: Path, card: FileSealKey, sealer: Sealer) -> Path:
    """The card signature path of the service: prepare the field, CMS over the digest, embed."""

    async def run() -> None:
        with source.open("rb") as stream, target.open("w+b") as output:
            prepared = await prepare_card_signature(stream, output, field_name="card-1")
            signer = card.signer
            assert isinstance(signer, SimpleSigner)
            cms = await signer.async_sign(prepared.digest, "sha256", use_pades=True)
            await embed_card_signature(output, prepared, cms.dump(), sealer.timestamper)

    asyncio.run(run())
    return target


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.name for case in ACCEPTED])
def test_an_accepted_file_is_stamped_sealed_signed_and_completed(
    case: Case,
    tmp_path: Path,
    sealer: Sealer,
    card_key: FileSealKey,
    trust_roots: list[bytes],
) -> None:
    upload = tmp_path / "upload.pdf"
    upload.write_bytes(corpus_file(case.name))
    path = stamp_file(upload, tmp_path / "1.pdf")
    path = seal_file(sealer, path, tmp_path / "2.pdf", "sent", "送信 / Sent")
    path = sign_with_card(path, tmp_path / "3.pdf", card_key, sealer)
    path = seal_file(sealer, path, tmp_path / "4.pdf", "agreed-1", "合意 / Agreed")
    final = finalize_file(sealer, path, tmp_path / "final.pdf")
    results = lta_results(final, trust_roots)
    assert set(results) == {"sent", "card-1", "agreed-1", FINAL_SEAL_FIELD}
    for field, result in results.items():
        assert passed(result), (field, result.ades_subindic, result.failure_msg)
