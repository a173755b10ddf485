"""The server's acceptance check of a card signature: CMS, chain, validity, usage, revocation.

    anchors = card_trust_anchors(files, production=…, development_root_der=…)
    checker = revocation_checker_for(method, value, development_ocsp_url=…)
    validator = CardSignatureValidator(anchors, checker)
    accepted = await validator.validate(cms_der, prepared_digest)
        -> AcceptedCardSignature   or   CardSignatureRejected(code, message_ja, message_en)

Revocation checkers: `OcspRevocationChecker(url)`, `CrlFileRevocationChecker(path)`,
`NoRevocationChecker()`, or anything with the `RevocationChecker` method.
"""

from webapp.card_validation.anchors import card_trust_anchors, revocation_checker_for
from webapp.card_validation.crl import CrlFileRevocationChecker
from webapp.card_validation.ocsp import OcspRevocationChecker
from webapp.card_validation.rejection import (
    REJECTION_MESSAGES,
    CardSignatureRejected,
    RejectionCode,
)
from webapp.card_validation.revocation import (
    NoRevocationChecker,
    RevocationChecker,
    RevocationEvidence,
    RevocationUnavailableError,
)
from webapp.card_validation.validator import AcceptedCardSignature, CardSignatureValidator

__all__ = [
    "REJECTION_MESSAGES",
    "AcceptedCardSignature",
    "CardSignatureRejected",
    "CardSignatureValidator",
    "CrlFileRevocationChecker",
    "NoRevocationChecker",
    "OcspRevocationChecker",
    "RejectionCode",
    "RevocationChecker",
    "RevocationEvidence",
    "RevocationUnavailableError",
    "card_trust_anchors",
    "revocation_checker_for",
]
