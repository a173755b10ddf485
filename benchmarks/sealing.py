"""The sealing pipeline against a plain pyHanko script doing the same steps, in the same run.

Steps, for a 1 MB PDF, a 20 MB PDF and a 1,000-page PDF: document-ID stamp, sending seal,
one agreement seal, finalize (final seal, DSS, document timestamp). Both sides use the
same test PKI, TSA and development seal on loopback.

- ours: `webapp.pdf` as the service calls it, every revision a file on disk (streams).
- plain: pyHanko as its documentation shows it: `IncrementalPdfFileWriter` on the input,
  `PdfSigner.async_sign_pdf` returning a `BytesIO`, and for the last step
  `embed_validation_info=True, use_pades_lta=True`.
- plain + fix: the same script with our asn1crypto workaround (`webapp.pdf.frozen_asn1`)
  in its signer and timestamp client, which isolates what the pipeline itself costs.

Time: medians of ROUNDS (PLAIN_ROUNDS for plain, whose runs take 5-25 s), alternating.
Peak memory: one more run under tracemalloc (Python allocations of all threads, above the
level at the start). For plain it is measured on plain + fix, the same script: under
tracemalloc plain's millions of short-lived asn1crypto objects take minutes, and they do
not change the peak (measured once: 5.5 / 85.5 / 4.6 MB against 5.4 / 85.7 / 4.6 MB).
"""

from __future__ import annotations

import asyncio
import io
import shutil
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_cms import SimpleSigner
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.stamp import TextStamp, TextStampStyle
from pyhanko_certvalidator import ValidationContext

from jpkisim.pki import TestPki
from jpkisim.pki_server import PkiServer
from tests.webapp.pdf.crl_server import serving_development_crl
from tests.webapp.pdf.pdfs import contract_pdf
from webapp.pdf import Sealer, check_sendable, create_development_seal, seal_signer_from_files
from webapp.pdf.frozen_asn1 import KeepingTimeStamper
from webapp.pdf.id_stamp import write_document_id

ROUNDS = 5
PLAIN_ROUNDS = 2  # each of these takes 5 to 25 s: asn1crypto's re-encoding (frozen_asn1.py)
DOCUMENT_ID = "K7QXW2M4ZP5R3T6Y8B2C4D6F8G"
MB = 1024 * 1024


class Rig:
    """PKI, TSA, development seal and the three pipelines over them."""

    def __init__(self, directory: Path, tsa_url: str, crl_url: str, pki: TestPki) -> None:
        self.directory = directory
        self.tsa_url = tsa_url
        files = create_development_seal(directory / "seal", crl_url=crl_url)
        self.files = files
        self.key = seal_signer_from_files(files.seal_key, files.seal_cert, [files.root_cert])
        seal_root = x509.load_pem_x509_certificate(files.root_cert.read_bytes())
        self.roots = [seal_root.public_bytes(serialization.Encoding.DER), pki.root_der("tsa-root")]
        self.sealer = Sealer(self.key.signer, tsa_url, self.roots)

    async def ours(self, source: Path) -> Path:
        """The service's pipeline as its PDF workers run it: four revisions, each a file.
        (The upload check that `send` runs first, in the server's sandbox, is `checked`.)"""
        work = self.directory / "ours"
        work.mkdir(exist_ok=True)
        names = [source, *(work / f"{n}.pdf" for n in range(1, 5))]
        with names[0].open("rb") as src, names[1].open("wb") as out:
            write_document_id(src, out, DOCUMENT_ID)
        for n, field in ((1, "sent"), (2, "agreed-1")):
            with names[n].open("rb") as src, names[n + 1].open("w+b") as out:
                await self.sealer.seal(src, out, field_name=field, reason="bench")
        with names[3].open("rb") as src, names[4].open("w+b") as out:
            await self.sealer.finalize(src, out)
        return names[4]

    @staticmethod
    def checked(source: Path) -> None:
        """The upload check again, as `send` runs it before the pipeline (issue 10)."""
        with source.open("rb") as src:
            check_sendable(src)

    def plain(self, source: Path, *, fixed: bool = False) -> Path:
        """A straightforward pyHanko script doing the same steps (its synchronous API)."""
        if fixed:
            signer: SimpleSigner = self.key.signer  # type: ignore[assignment]
            timestamper: TimeStamper = KeepingTimeStamper(self.tsa_url)
        else:
            signer = SimpleSigner.load(
                str(self.files.seal_key),
                str(self.files.seal_cert),
                ca_chain_files=(str(self.files.root_cert),),
            )
            timestamper = HTTPTimeStamper(self.tsa_url)
        with source.open("rb") as src:
            writer = IncrementalPdfFileWriter(src)
            style = TextStampStyle(
                stamp_text="Document ID: %(id)s",
                border_width=0,
                text_box_style=TextBoxStyle(font_size=7),
            )
            TextStamp(writer, style, text_params={"id": DOCUMENT_ID}).apply(0, 12, 12)
            document = io.BytesIO()
            writer.write(document)
        for field in ("sent", "agreed-1"):
            meta = PdfSignatureMetadata(field_name=field, subfilter=SigSeedSubFilter.PADES)
            pdf_signer = PdfSigner(meta, signer=signer, timestamper=timestamper)
            document = pdf_signer.sign_pdf(IncrementalPdfFileWriter(document))
        context = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(r) for r in self.roots],
            allow_fetching=True,
            revocation_mode="hard-fail",
        )
        meta = PdfSignatureMetadata(
            field_name="final",
            subfilter=SigSeedSubFilter.PADES,
            embed_validation_info=True,
            use_pades_lta=True,
            validation_context=context,
        )
        pdf_signer = PdfSigner(meta, signer=signer, timestamper=timestamper)
        document = pdf_signer.sign_pdf(IncrementalPdfFileWriter(document))
        target = self.directory / ("plain-fixed.pdf" if fixed else "plain.pdf")
        target.write_bytes(document.getvalue())
        return target


def timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def peak_memory(run: Callable[[], Any]) -> int:
    """Peak Python allocations (tracemalloc, all threads) during `run`, above the start."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def measure(rig: Rig, label: str, source: Path) -> list[str]:
    runs: dict[str, Callable[[], Any]] = {
        "ours": lambda: asyncio.run(rig.ours(source)),
        "plain": lambda: rig.plain(source),
        "plain+fix": lambda: rig.plain(source, fixed=True),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(ROUNDS):
        for name, run in runs.items():
            if name != "plain" or round_number < PLAIN_ROUNDS:
                times[name].append(timed(run))
    medians = {name: statistics.median(values) for name, values in times.items()}
    peaks = {name: peak_memory(runs[name]) for name in ("ours", "plain+fix")}
    peaks["plain"] = peaks["plain+fix"]  # the same script; see the module docstring
    size = source.stat().st_size
    lines = [f"  {label} ({size / MB:.1f} MB)"]
    for name in runs:
        spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
        lines.append(
            f"    {name:10} {medians[name]:6.2f} s (n={len(times[name])}, {spread} s)"
            f"   peak {peaks[name] / MB:6.1f} MB"
        )
    lines.append(
        f"    ratio ours/plain {medians['ours'] / medians['plain']:.2f}, "
        f"ours/plain+fix {medians['ours'] / medians['plain+fix']:.2f} (target <= 1.2)"
    )
    check = statistics.median(timed(lambda: rig.checked(source)) for _ in range(ROUNDS))
    lines.append(
        f"    before it, send's upload check (sandboxed; plain pyHanko has none): {check:.2f} s"
    )
    return lines


def run() -> list[str]:
    directory = Path(tempfile.mkdtemp(prefix="mynasign-bench-sealing-"))
    try:
        pki = TestPki.init(directory / "pki")
        sources = {
            "1 MB": contract_pdf(directory / "1mb.pdf", pages=3, image_bytes=1 * MB),
            "20 MB": contract_pdf(directory / "20mb.pdf", pages=3, image_bytes=20 * MB),
            "1,000 pages": contract_pdf(directory / "1000p.pdf", pages=1000),
        }
        report = [
            "sealing pipeline: stamp + sending seal + agreement seal + finalize (B-LTA)",
            "  medians; peak = tracemalloc, Python allocations of all threads, above the start",
        ]
        with (
            PkiServer(pki.directory, port=0) as server,
            serving_development_crl(directory / "seal") as crl_url,
        ):
            pki.set_base_url(server.url)
            rig = Rig(directory, f"{server.url}/tsa", crl_url, pki)
            asyncio.run(rig.ours(sources["1 MB"]))  # warm up imports and caches
            for label, source in sources.items():
                report.extend(measure(rig, label, source))
            rig.key.close()
        return report
    finally:
        shutil.rmtree(directory, ignore_errors=True)
