"""Platform seals: PAdES B-T, appended, valid for pyHanko and poppler; nothing lost on failure."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.status import SignatureCoverageLevel

from jpkisim.pki_server import PkiServer
from tests.webapp.pdf.checks import basic_statuses, pdfsig, revisions
from tests.webapp.pdf.pdfs import contract_pdf
from tests.webapp.pdf.steps import seal_file, stamp_file
from webapp.pdf import FileSealKey, Sealer, TimestampUnavailable

VALID = "Signature is Valid."


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory, sealer: Sealer) -> tuple[Path, Path]:
    """A stamped contract and the same with the sending seal."""
    directory = tmp_path_factory.mktemp("sent")
    source = contract_pdf(directory / "contract.pdf", pages=2)
    stamped = stamp_file(source, directory / "stamped.pdf")
    return stamped, seal_file(sealer, stamped, directory / "sent.pdf", "sent", "送信 / Sent")


def test_seal_is_intact_valid_trusted_and_timestamped(
    sent: tuple[Path, Path], seal_root_der: bytes, trust_roots: list[bytes]
) -> None:
    status = basic_statuses(sent[1], trust_roots)["sent"]
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.validation_path is not None
    assert status.validation_path.first.dump() == seal_root_der
    assert status.timestamp_validity is not None  # B-T: a signature timestamp from the TSA
    ts = status.timestamp_validity
    assert ts.intact and ts.valid and ts.trusted


def test_seal_is_pades_with_reason_and_location(sent: tuple[Path, Path]) -> None:
    with sent[1].open("rb") as stream:
        (signature,) = PdfFileReader(stream).embedded_regular_signatures
        assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
        assert signature.sig_object["/Reason"] == "送信 / Sent"
        assert signature.sig_object["/Location"] == "mynasign"
        assert "/M" not in signature.sig_object or signature.self_reported_timestamp is not None


def test_seal_only_appends(sent: tuple[Path, Path]) -> None:
    stamped, sealed = sent
    original = stamped.read_bytes()
    assert sealed.read_bytes()[: len(original)] == original
    assert revisions(sealed) == revisions(stamped) + 1


def test_poppler_finds_the_seal_valid(sent: tuple[Path, Path]) -> None:
    assert pdfsig(sent[1]) == {"sent": VALID}


def test_second_seal_leaves_the_first_valid(
    sent: tuple[Path, Path], sealer: Sealer, trust_roots: list[bytes], tmp_path: Path
) -> None:
    agreed = seal_file(sealer, sent[1], tmp_path / "agreed.pdf", "agreed-1", "合意 / Agreed")
    statuses = basic_statuses(agreed, trust_roots)
    assert set(statuses) == {"sent", "agreed-1"}
    assert all(s.bottom_line for s in statuses.values()), statuses
    assert statuses["sent"].coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert statuses["agreed-1"].coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert pdfsig(agreed) == {"sent": VALID, "agreed-1": VALID}


def test_seals_run_concurrently(
    sent: tuple[Path, Path], sealer: Sealer, trust_roots: list[bytes], tmp_path: Path
) -> None:
    targets = [tmp_path / f"agreed-{n}.pdf" for n in range(3)]

    async def run() -> None:
        with sent[1].open("rb") as a, sent[1].open("rb") as b, sent[1].open("rb") as c:
            outputs = [target.open("w+b") for target in targets]
            try:
                await asyncio.gather(
                    *(
                        sealer.seal(src, out, field_name="agreed-1", reason="合意")
                        for src, out in zip((a, b, c), outputs, strict=True)
                    )
                )
            finally:
                for output in outputs:
                    output.close()

    asyncio.run(run())
    for target in targets:
        assert basic_statuses(target, trust_roots)["agreed-1"].bottom_line


@pytest.mark.parametrize("where", ["nothing listening", "not a TSA"])
def test_tsa_down_loses_nothing(
    sent: tuple[Path, Path], seal_key: FileSealKey, trust_roots: list[bytes], dead_url: str,
    pki_server: PkiServer, where: str,
) -> None:  # fmt: skip
    url = f"{dead_url}/tsa" if where == "nothing listening" else f"{pki_server.url}/crl/sign.crl"
    down = Sealer(seal_key.signer, url, trust_roots, timeout_seconds=2)
    source = sent[1].read_bytes()
    output = io.BytesIO()
    with pytest.raises(TimestampUnavailable) as caught:
        asyncio.run(down.seal(io.BytesIO(source), output, field_name="x", reason="y"))
    assert output.getvalue() == b""
    assert caught.value.code == "timestamp_unavailable" and caught.value.retryable
    assert "タイムスタンプ" in caught.value.message_ja
    assert "time-stamping authority" in caught.value.message_en
    assert sent[1].read_bytes() == source


def test_tsa_down_leaves_an_output_file_empty(
    sent: tuple[Path, Path], seal_key: FileSealKey, trust_roots: list[bytes], dead_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    down = Sealer(seal_key.signer, f"{dead_url}/tsa", trust_roots, timeout_seconds=2)
    target = tmp_path / "never.pdf"
    with pytest.raises(TimestampUnavailable):
        seal_file(down, sent[1], target, "x", "y")
    assert target.stat().st_size == 0


def test_output_must_start_empty(sent: tuple[Path, Path], sealer: Sealer) -> None:
    output = io.BytesIO(b"left over")
    with pytest.raises(ValueError, match="empty"):
        asyncio.run(
            sealer.seal(io.BytesIO(sent[1].read_bytes()), output, field_name="x", reason="y")
        )
    assert output.getvalue() == b"left over"
