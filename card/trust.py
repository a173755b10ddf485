"""The real JPKI signing roots (production trust anchors), shipped with the package as data.

Tests never sign with anything that chains here; they use the test PKI of `jpki-sim`.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

JPKI_SIGNING_ROOT_FINGERPRINTS = {
    "jpki-sign-ca-01": "19:64:54:05:A1:FE:14:37:74:34:BD:55:95:76:28:AC:"
    "40:38:55:7C:54:24:03:A2:24:3F:21:C7:06:FC:93:55",
    "jpki-sign-ca-02": "79:67:9C:33:E4:CC:93:19:44:0F:1A:D1:20:A5:97:FF:"
    "18:44:E2:EF:21:70:63:AD:B1:76:96:6F:D5:E6:FB:EB",
    "jpki-sign-ca-03": "D2:27:F6:CD:E1:1D:35:C5:25:21:78:F1:06:F8:43:D2:"
    "46:51:94:49:75:41:3B:53:9F:A2:FB:68:DB:FA:36:5F",
}
"""SHA-256 of each root's DER, as published; a swapped file fails to load."""


class TrustAnchorError(ValueError):
    """A shipped trust anchor is not the one published."""


def jpki_signing_roots() -> dict[str, bytes]:
    """The real JPKI signing roots by generation name, DER, each checked by fingerprint."""
    roots: dict[str, bytes] = {}
    folder = resources.files("card") / "trust_anchors"
    for name, fingerprint in JPKI_SIGNING_ROOT_FINGERPRINTS.items():
        pem = (folder / f"{name}.pem").read_bytes()
        der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
        if hashlib.sha256(der).hexdigest() != fingerprint.replace(":", "").lower():
            raise TrustAnchorError(f"{name}.pem is not the published JPKI root")
        roots[name] = der
    return roots
