"""Revocation by a CRL file the operator keeps current (JPKI CRLs come by LDAP or a platform).

The file is PEM (one or more CRLs, e.g. one per root generation, which share one name)
or DER (one CRL). It is read again whenever its modification time, size or inode
changes, so the operator replaces it atomically and the service picks it up without a
restart. pyhanko-certvalidator picks the CRL signed by the certificate's issuer and
judges it (current, complete, covering the certificate; RFC 5280's CRL processing).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import crl, pem
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import RevocationCheckingRule

from webapp.card_signing.validation.revocation import (
    RevocationEvidence,
    RevocationMethod,
    RevocationSetup,
    RevocationUnavailableError,
    ahead_of,
)


@dataclass(frozen=True)
class _LoadedFile:
    stamp: tuple[int, int, int]
    crls: tuple[crl.CertificateList, ...]


@dataclass
class _CrlSetup(RevocationSetup):
    def evidence(self, context: ValidationContext, path: ValidationPath) -> RevocationEvidence:
        issuer = path.find_issuing_authority(path.leaf)
        for candidate in self.crls:
            used_by = context.revinfo_manager.check_crl_issuer(candidate)
            if used_by is not None and used_by.public_key.dump() == issuer.public_key.dump():
                return RevocationEvidence(method="crl", crl=candidate.dump())
        return RevocationEvidence(method="crl")


class CrlFileRevocationChecker:
    """Gives pyhanko-certvalidator the CRL(s) of `crl_path`, re-read when the file changes."""

    method: RevocationMethod = "crl"

    def __init__(self, crl_path: Path) -> None:
        self.crl_path = Path(crl_path)
        self._loaded: _LoadedFile | None = None

    def setup(self, at: datetime.datetime) -> RevocationSetup:
        crls = self._current_file().crls
        current = [c for c in crls if not ahead_of(c["tbs_cert_list"]["this_update"].native, at)]
        if not current:
            raise RevocationUnavailableError("the CRL's lastUpdate is in the future")
        return _CrlSetup("crl", RevocationCheckingRule.CRL_REQUIRED, crls=current)

    def _current_file(self) -> _LoadedFile:
        try:
            status = self.crl_path.stat()
            stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
            loaded = self._loaded
            if loaded is not None and loaded.stamp == stamp:
                return loaded
            data = self.crl_path.read_bytes()
        except OSError as exc:
            raise RevocationUnavailableError(f"the CRL file cannot be read: {exc}") from exc
        loaded = _LoadedFile(stamp, _parse_crls(data))
        self._loaded = loaded
        return loaded


def _parse_crls(data: bytes) -> tuple[crl.CertificateList, ...]:
    try:
        if pem.detect(data):
            ders = [der for kind, _, der in pem.unarmor(data, multiple=True) if kind == "X509 CRL"]
        else:
            ders = [data]
        crls = tuple(crl.CertificateList.load(der, strict=True) for der in ders)
        for loaded in crls:  # the header now, not at the first signature
            loaded["tbs_cert_list"]["this_update"].native  # noqa: B018 - parses it
    except (ValueError, TypeError, KeyError) as exc:
        raise RevocationUnavailableError(f"the CRL file is not a CRL: {exc}") from exc
    if not crls:
        raise RevocationUnavailableError("the CRL file holds no CRL")
    return crls
