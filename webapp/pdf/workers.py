"""PDF work in worker processes, so pyHanko never shares the web server's interpreter.

Stamping, sealing, preparing and embedding card signatures and the closing step parse,
hash and write whole PDFs in pure Python. Run in threads of the server's own process they
hold the interpreter lock for long stretches, and the event loop (every other person's
pages, feeds and bridges) waits for it: measured with the loop watchdog, 100–300 ms steps
with four seals at once on two cores. In worker processes they use the other cores and
the server's loop is free.

A job is a small picklable description (`SealJob`, `FinalizeJob`, …) run on two files
named by path: `source` (read, or changed in place by `EmbedCardJob`) and `output` (empty,
written). Each job carries the `SealerSpec` it needs, and a worker opens the seal key
for a spec once and keeps it, so one pool serves every service in a process.

`PdfWorkers(processes=0)` runs the jobs in the calling thread instead (on a private event
loop, at most `pdf_concurrency` at once): for tools and tests that replace the sealer.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from webapp.card_signing.embedding import (
    PreparedCardSignature,
    embed_card_signature,
    prepare_card_signature,
)
from webapp.offload import in_private_loop, run_pdf_step
from webapp.pdf.id_stamp import write_document_id
from webapp.pdf.lifetime import end_with_parent
from webapp.pdf.seal import Sealer
from webapp.pdf.seal_keys import SealKey, seal_signer_from_files, seal_signer_from_pkcs11


@dataclass(frozen=True)
class SealKeySource:
    """Where the seal key is: key files, or a PKCS#11 token (each worker logs in itself)."""

    key_file: Path | None = None
    cert_file: Path | None = None
    chain_files: tuple[Path, ...] = ()
    pkcs11_module: str | None = None
    pkcs11_token: str | None = None
    pkcs11_label: str | None = None
    pkcs11_pin: str | None = field(default=None, repr=False)

    def open(self) -> SealKey:
        if self.pkcs11_module is not None:
            assert self.pkcs11_token and self.pkcs11_label and self.pkcs11_pin  # noqa: S101
            return seal_signer_from_pkcs11(
                self.pkcs11_module, self.pkcs11_token, self.pkcs11_label, self.pkcs11_pin,
                chain_pem_paths=list(self.chain_files),
            )  # fmt: skip
        assert self.key_file is not None and self.cert_file is not None  # noqa: S101
        return seal_signer_from_files(self.key_file, self.cert_file, list(self.chain_files))


@dataclass(frozen=True)
class SealerSpec:
    """Everything a worker needs to seal as the service does."""

    key: SealKeySource
    tsa_url: str
    trust_roots: tuple[bytes, ...]


class PdfJob(Protocol):
    """One piece of PDF work; runs in a worker with the sealer of its spec."""

    async def run(self, sealer: Sealer, source: BinaryIO, output: BinaryIO) -> Any: ...


@dataclass(frozen=True)
class StampJob:
    """The document ID (and its agreement certificate's ID) on page 1. The caller has run
    the upload check again (`check_sendable`, in the server's own sandbox)."""

    document_id: str
    certificate_id: str | None = None

    async def run(self, sealer: Sealer, source: BinaryIO, output: BinaryIO) -> None:
        write_document_id(source, output, self.document_id, self.certificate_id)


@dataclass(frozen=True)
class SealJob:
    field_name: str
    reason: str

    async def run(self, sealer: Sealer, source: BinaryIO, output: BinaryIO) -> None:
        await sealer.seal(source, output, field_name=self.field_name, reason=self.reason)


@dataclass(frozen=True)
class FinalizeJob:
    known_ocsp_responses: tuple[bytes, ...] = ()
    known_crls: tuple[bytes, ...] = ()

    async def run(self, sealer: Sealer, source: BinaryIO, output: BinaryIO) -> None:
        await sealer.finalize(
            source, output,
            known_ocsp_responses=self.known_ocsp_responses, known_crls=self.known_crls,
        )  # fmt: skip


@dataclass(frozen=True)
class PrepareCardJob:
    field_name: str
    signer_name: str | None = None

    async def run(
        self, sealer: Sealer, source: BinaryIO, output: BinaryIO
    ) -> PreparedCardSignature:
        return await prepare_card_signature(
            source, output, field_name=self.field_name, signer_name=self.signer_name
        )


@dataclass(frozen=True)
class EmbedCardJob:
    """The card's CMS, timestamped, written into `source` in place (`output` unused)."""

    prepared: PreparedCardSignature
    cms_der: bytes

    async def run(self, sealer: Sealer, source: BinaryIO, output: BinaryIO) -> None:
        await embed_card_signature(source, self.prepared, self.cms_der, sealer.timestamper)


# --- running them -------------------------------------------------------------------------


class PdfWorkers:
    """Runs PDF jobs in `processes` worker processes (0: in the calling thread)."""

    def __init__(
        self, spec: SealerSpec | None, *, processes: int, in_thread_sealer: Sealer
    ) -> None:
        self.spec = spec
        self.processes = processes
        self.in_thread_sealer = in_thread_sealer

    def run(self, job: PdfJob, source: Path, output: Path) -> Any:
        """Run `job` on the files; blocking (call it from a worker thread)."""
        if self.processes == 0:
            with source.open("r+b") as src, output.open("r+b") as out:
                return run_pdf_step(job.run(self.in_thread_sealer, src, out))
        assert self.spec is not None  # noqa: S101 - given whenever processes > 0
        pool = _shared_pool(self.processes)
        return pool.submit(_run_in_worker, self.spec, job, str(source), str(output)).result()


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _shared_pool(processes: int) -> ProcessPoolExecutor:
    """The process's one pool of PDF workers (made at first use; `spawn`: no forked
    threads or open connections are carried into the workers)."""
    global _pool  # noqa: PLW0603 - one pool per process, like the thread pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
            atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
        return _pool


def stop_pdf_workers() -> None:
    """Stop this process's PDF workers, letting a running step finish (a server's last act,
    after its requests have ended; the workers would otherwise outlive it by up to a
    second, `webapp.pdf.lifetime`)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


# --- inside a worker process --------------------------------------------------------------

WORKER_NICENESS = 10
"""PDF workers run at a lower priority than the server: on a busy machine the kernel gives
the cores to the event loop (pages, feeds, bridges) first and to PDF work after."""

_sealers: dict[SealerSpec, tuple[SealKey, Sealer]] = {}


def _start_worker(server_pid: int) -> None:
    os.nice(WORKER_NICENESS)  # yield to the server
    end_with_parent(server_pid)


def _sealer_for(spec: SealerSpec) -> Sealer:
    found = _sealers.get(spec)
    if found is None:
        key = spec.key.open()
        found = (key, Sealer(key.signer, spec.tsa_url, list(spec.trust_roots)))
        if len(_sealers) >= 8:  # many services in one process (tests): keep the newest
            old_key, _ = _sealers.pop(next(iter(_sealers)))
            old_key.close()
        _sealers[spec] = found
    return found[1]


def _run_in_worker(spec: SealerSpec, job: PdfJob, source: str, output: str) -> Any:
    sealer = _sealer_for(spec)
    with open(source, "r+b") as src, open(output, "r+b") as out:
        return in_private_loop(job.run(sealer, src, out))
