"""Streams, not whole files: memory stays flat from a 1 MB to a 20 MB document.

tracemalloc counts Python allocations in every thread (the seals run in a worker).
"""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

from tests.webapp.pdf.pdfs import contract_pdf
from tests.webapp.pdf.steps import stamp_file
from webapp.pdf import Sealer

MB = 1024 * 1024


def pipeline_peak(sealer: Sealer, source: Path, work: Path) -> int:
    """Peak bytes allocated while stamping, sealing twice and finalizing `source`."""

    async def run() -> None:
        stamped = stamp_file(source, work / "1.pdf")
        names = [stamped, work / "2.pdf", work / "3.pdf"]
        for n, field in enumerate(("sent", "agreed-1")):
            with names[n].open("rb") as src, names[n + 1].open("w+b") as out:
                await sealer.seal(src, out, field_name=field, reason="r")
        with names[2].open("rb") as src, (work / "final.pdf").open("w+b") as out:
            await sealer.finalize(src, out)

    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        asyncio.run(run())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start


def test_memory_is_flat_as_files_grow(sealer: Sealer, tmp_path: Path) -> None:
    peaks = {}
    for size in (1, 20):
        work = tmp_path / f"{size}mb"
        work.mkdir()
        source = contract_pdf(work / "source.pdf", image_bytes=size * MB)
        peaks[size] = pipeline_peak(sealer, source, work)
        assert (work / "final.pdf").stat().st_size > size * MB
    assert peaks[20] < 4 * MB, peaks
    assert peaks[20] < peaks[1] + MB, peaks  # 19 MB more file, not 19 MB more memory
