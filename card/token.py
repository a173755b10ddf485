"""The signing-token interface: a certificate and a key that signs a DigestInfo.

A JPKI card session (after the password is verified) and a PKCS#11 token both provide it;
the CMS builder needs nothing else.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
"""DER DigestInfo for SHA-256 up to the digest itself (with the NULL parameters)."""


def sha256_digest_info(digest: bytes) -> bytes:
    """The 51-byte DER DigestInfo the card's signature command takes for a SHA-256 digest."""
    if len(digest) != hashlib.sha256().digest_size:
        raise ValueError(f"a SHA-256 digest has 32 bytes, not {len(digest)}")
    return SHA256_DIGEST_INFO_PREFIX + digest


@runtime_checkable
class SigningToken(Protocol):
    """A key that signs (RSA PKCS#1 v1.5 over a DigestInfo) and its certificates, DER."""

    def signing_certificate(self) -> bytes:
        """The signer's certificate, DER."""
        ...

    def ca_certificates(self) -> list[bytes]:
        """Certificates of the issuing CA(s) to embed with the signature, DER; may be empty."""
        ...

    def sign_digest_info(self, digest_info: bytes) -> bytes:
        """The raw RSA signature (PKCS#1 v1.5 padding applied by the token) of a DigestInfo."""
        ...
