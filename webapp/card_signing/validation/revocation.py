"""Where a card certificate's revocation status comes from: the one source the settings name.

pyhanko-certvalidator checks revocation as part of the path (hard-fail: no usable answer,
no acceptance). A `RevocationChecker` tells it, for one validation, what to rely on
(`RevocationSetup`): the rule for the signer's certificate (OCSP required, a CRL
required, or the explicit opt-out), the CRLs it holds, and the fetchers it may use. Only
the configured source is ever asked: nothing is fetched from the URLs a certificate
names (the fetchers here download nothing else). After validation the setup names
the evidence it relied on, kept for the PDF's validation data.

Revocation information more than `CLOCK_SKEW` ahead of the validation time is not used
(the validator otherwise accepts answers dated ahead of its clock, for responders whose
clocks run fast).
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from asn1crypto import cms, crl, x509
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import CRLFetchError
from pyhanko_certvalidator.fetchers.api import CertificateFetcher, CRLFetcher, Fetchers
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import RevocationCheckingRule

CLOCK_SKEW = datetime.timedelta(minutes=5)
"""How far in the future a thisUpdate may be, for clocks that disagree."""

RevocationMethod = Literal["ocsp", "crl", "none"]
AnyCertificate: TypeAlias = x509.Certificate | cms.AttributeCertificateV2


@dataclass(frozen=True)
class RevocationEvidence:
    """What a good answer rests on (kept for the PDF's validation data)."""

    method: RevocationMethod
    ocsp_response: bytes | None = None
    """The DER OCSPResponse, when method is `ocsp`."""
    crl: bytes | None = None
    """The DER CRL, when method is `crl`."""


class RevocationUnavailableError(Exception):
    """The source cannot be used at all (an unreadable CRL file); the message says why."""


@dataclass
class RevocationSetup:
    """One validation's revocation inputs for pyhanko-certvalidator; `evidence` after it."""

    method: RevocationMethod
    signer_rule: RevocationCheckingRule
    crls: list[crl.CertificateList] = field(default_factory=list)
    fetchers: Fetchers | None = None
    """None: nothing is fetched (the CRLs above are all there is)."""

    def evidence(self, context: ValidationContext, path: ValidationPath) -> RevocationEvidence:
        """The answer that said the validated path's signer is not revoked."""
        return RevocationEvidence(method=self.method)


@runtime_checkable
class RevocationChecker(Protocol):
    """A configured revocation source (reusable; each validation gets its own setup)."""

    method: RevocationMethod

    def setup(self, at: datetime.datetime) -> RevocationSetup:
        """What to rely on for a validation at `at` (aware UTC); `RevocationUnavailableError`."""
        ...


class NoRevocationChecker:
    """The explicit opt-out: nothing is checked and the evidence says so (method "none")."""

    method: RevocationMethod = "none"

    def setup(self, at: datetime.datetime) -> RevocationSetup:
        return RevocationSetup("none", RevocationCheckingRule.NO_CHECK)


class NoCrlFetching(CRLFetcher):
    """Refuses to download CRLs: a CRL comes from the operator's file or not at all."""

    async def fetch(
        self, cert: AnyCertificate, *, use_deltas: bool | None = None
    ) -> Iterable[crl.CertificateList]:
        raise CRLFetchError("CRLs are not downloaded; only the configured source is used")

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        return ()

    def fetched_crls_for_cert(self, cert: AnyCertificate) -> Iterable[crl.CertificateList]:
        raise KeyError("nothing is fetched")


class NoCertificateFetching(CertificateFetcher):
    """Fetches no issuer: a path uses the anchors and the CMS's certificates only."""

    def fetch_cert_issuers(self, cert: AnyCertificate) -> AsyncGenerator[x509.Certificate]:
        return _no_certificates()

    def fetch_crl_issuers(
        self, certificate_list: crl.CertificateList
    ) -> AsyncGenerator[x509.Certificate]:
        return _no_certificates()

    def fetched_certs(self) -> Iterable[x509.Certificate]:
        return ()


async def _no_certificates() -> AsyncGenerator[x509.Certificate]:
    nothing: tuple[x509.Certificate, ...] = ()
    for certificate in nothing:
        yield certificate


def ahead_of(this_update: datetime.datetime | None, at: datetime.datetime) -> bool:
    """Whether revocation information dated `this_update` is too far ahead of `at`."""
    return this_update is not None and this_update > at + CLOCK_SKEW
