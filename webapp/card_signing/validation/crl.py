"""Revocation by a CRL file the operator keeps current (JPKI CRLs come by LDAP or a platform).

The file is PEM (one or more CRLs, e.g. one per root generation, which share one name)
or DER (one CRL). It is read again whenever its modification time, size or inode
changes, so the operator replaces it atomically and the service picks it up without a
restart. Each version is read once, on a thread of its own, into a `CrlFile` (signatures
verified, revoked serials indexed: `crl_index`); a validation then costs one set lookup
however long the CRL is. pyhanko-certvalidator checks the path without asking about the
signer's certificate (`check_signer` does, after it); intermediates are checked by it as
before, with the file's CRLs.

While a new version is being read, validations keep using the previous one if it was
verified and its nextUpdate is still to come: a CRL is a valid statement until then
(RFC 5280), the new one only adds what changed since, and refusing every signature at
each refresh would protect nobody. With no such version (the first read, or the previous
one expired or broken), a validation waits for the read in progress (on its worker
thread, never the event loop; one read however many wait), at most `load_timeout_seconds`,
then `revocation_unknown`. A version that cannot be used replaces the previous one: the
file is the operator's statement, and a broken refresh must show at once, not at the old
CRL's nextUpdate.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import RevocationCheckingRule

from webapp.card_signing.validation.crl_index import CrlFile, IndexedCrl
from webapp.card_signing.validation.revocation import (
    RevocationEvidence,
    RevocationMethod,
    RevocationSetup,
    RevocationUnavailableError,
    ahead_of,
)

log = logging.getLogger(__name__)

Stamp = tuple[int, int, int]
"""A file version: modification time (ns), size, inode."""


@dataclass
class _Read:
    """One reading of the file, finished (`done` set) with a `CrlFile` or an error."""

    stamp: Stamp | None
    done: threading.Event
    crls: CrlFile | None = None
    error: str | None = None

    def result(self) -> CrlFile:
        if self.crls is None:
            raise RevocationUnavailableError(self.error or "the CRL file has not been read")
        return self.crls


@dataclass
class CrlSetup(RevocationSetup):
    """One validation's view of the file: pyhanko-certvalidator checks intermediates with
    `crls`; `check_signer` checks the signer's certificate in the index."""

    file: CrlFile | None = None
    at: datetime.datetime | None = None
    used: IndexedCrl | None = None

    def check_signer(self, path: ValidationPath) -> None:
        """`CertificateListedError` or `RevocationUnavailableError` unless the CRL says good."""
        assert self.file is not None and self.at is not None  # noqa: S101 - set by the checker
        leaf = path.leaf
        assert isinstance(leaf, asn1_x509.Certificate)  # noqa: S101 - a certificate's path
        signer = x509.load_der_x509_certificate(leaf.dump())
        issuer = x509.load_der_x509_certificate(
            path.find_issuing_authority(leaf).certificate.dump()
        )
        self.used = self.file.status(signer, issuer, self.at)

    def evidence(self, context: ValidationContext, path: ValidationPath) -> RevocationEvidence:
        return RevocationEvidence(method="crl", crl=None if self.used is None else self.used.der)


class CrlFileRevocationChecker:
    """Checks card certificates against the CRL(s) of `crl_path`, re-read when the file changes."""

    method: RevocationMethod = "crl"

    def __init__(self, crl_path: Path, *, load_timeout_seconds: float = 60.0) -> None:
        self.crl_path = Path(crl_path)
        self.load_timeout_seconds = load_timeout_seconds
        self._issuers: dict[bytes, x509.Certificate] = {}
        self._lock = threading.Lock()
        self._served: _Read | None = None
        """The last finished reading (what validations use while its stamp is the file's)."""
        self._reading: _Read | None = None

    def trust_issuers(self, certificates: Iterable[bytes]) -> None:
        """CAs (DER) whose CRLs are verified as soon as a version is read; starts a reading.

        The validator gives its trust anchors. CRLs of other CAs are verified when first needed.
        """
        with self._lock:
            for der in certificates:
                self._issuers.setdefault(der, x509.load_der_x509_certificate(der))
        try:
            self._start_reading(self._stamp())
        except RevocationUnavailableError as exc:
            log.warning("the CRL file cannot be read yet: %s", exc)

    def wait_until_read(self, timeout: float | None = None) -> bool:
        """Wait for the reading in progress, if any; whether none is left in progress."""
        with self._lock:
            reading = self._reading
        return reading is None or reading.done.wait(timeout)

    def setup(self, at: datetime.datetime) -> RevocationSetup:
        crl_file = self._current(at)
        current = [c for c in crl_file.crls if not ahead_of(c.this_update, at)]
        if not current:
            raise RevocationUnavailableError("the CRL's lastUpdate is in the future")
        return CrlSetup(
            "crl",
            RevocationCheckingRule.NO_CHECK,  # the signer: `check_signer`, in the index
            crls=[asn1_crl.CertificateList.load(c.der) for c in current],  # lazy: header only
            file=crl_file,
            at=at,
        )

    def _current(self, at: datetime.datetime) -> CrlFile:
        stamp = self._stamp()
        with self._lock:
            served = self._served
            if served is not None and served.stamp == stamp:
                return served.result()
        reading = self._start_reading(stamp)
        if served is not None and served.crls is not None and served.crls.current_at(at):
            return served.crls  # the previous verified version, until the new one is ready
        if not reading.done.wait(self.load_timeout_seconds):
            raise RevocationUnavailableError("the CRL file is still being read")
        return reading.result()

    def _stamp(self) -> Stamp:
        try:
            status = self.crl_path.stat()
        except OSError as exc:
            raise RevocationUnavailableError(f"the CRL file cannot be read: {exc}") from exc
        return status.st_mtime_ns, status.st_size, status.st_ino

    def _start_reading(self, stamp: Stamp) -> _Read:
        with self._lock:
            reading = self._reading
            if reading is not None and reading.stamp == stamp:
                return reading
            if self._served is not None and self._served.stamp == stamp:
                return self._served
            reading = _Read(stamp, threading.Event())
            self._reading = reading
            issuers = list(self._issuers.values())
        thread = threading.Thread(
            target=self._read, args=(reading, issuers), name="crl-file-reader", daemon=True
        )
        thread.start()
        return reading

    def _read(self, reading: _Read, issuers: list[x509.Certificate]) -> None:
        started = time.process_time()
        try:
            with self.crl_path.open("rb") as file:
                status = os.fstat(file.fileno())
                data = file.read()
            reading.stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
            reading.crls = CrlFile.read(data, issuers)
            log.info(
                "CRL file %s read: %d CRL(s), %d revoked serials, %.2f s of CPU",
                self.crl_path, len(reading.crls.crls), reading.crls.entries,
                time.process_time() - started,
            )  # fmt: skip
        except OSError as exc:
            reading.error = f"the CRL file cannot be read: {exc}"
        except RevocationUnavailableError as exc:
            reading.error = str(exc)
        except Exception as exc:  # a bug here must refuse signatures, not accept them
            log.exception("reading the CRL file failed")
            reading.error = f"the CRL file could not be read: {type(exc).__name__}"
        if reading.error is not None:
            log.error("the CRL file %s cannot be used: %s", self.crl_path, reading.error)
        with self._lock:
            if self._reading is reading:
                self._served = reading
                self._reading = None
        reading.done.set()
