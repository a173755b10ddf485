"""The server's acceptance check of a card signature: CMS, pyhanko-certvalidator, JPKI's rules.

    anchors = card_trust_anchors(files, production=…, development_root_der=…)
    checker = revocation_checker_for(method, value, development_ocsp_url=…)
    validator = CardSignatureValidator(anchors, checker)
    accepted = await validator.validate(cms_der, prepared_digest)
        -> AcceptedCardSignature   or   CardSignatureRejected(code, message_ja, message_en)

Revocation sources: `OcspRevocationChecker(url)`, `CrlFileRevocationChecker(path)`,
`NoRevocationChecker()`, or anything with the `RevocationChecker` method (a
`RevocationSetup` for pyhanko-certvalidator per validation).
"""

from webapp.card_signing.validation.anchors import card_trust_anchors, revocation_checker_for
from webapp.card_signing.validation.crl import CrlFileRevocationChecker
from webapp.card_signing.validation.ocsp import OcspRevocationChecker
from webapp.card_signing.validation.rejection import (
    REJECTION_MESSAGES,
    CardSignatureRejected,
    RejectionCode,
)
from webapp.card_signing.validation.revocation import (
    NoRevocationChecker,
    RevocationChecker,
    RevocationEvidence,
    RevocationSetup,
    RevocationUnavailableError,
)
from webapp.card_signing.validation.validator import AcceptedCardSignature, CardSignatureValidator

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
    "RevocationSetup",
    "RevocationUnavailableError",
    "card_trust_anchors",
    "revocation_checker_for",
]
