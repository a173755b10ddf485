"""A signing token that does the card's work in software, for tests that need no card."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from jpkisim.pki import IssuedCard


@dataclass
class SoftwareToken:
    """A `SigningToken` that does the card's work in software: PKCS#1 v1.5 pad, raw RSA.

    Every DigestInfo it is asked to sign is recorded in `requests`; `corrupt` makes it
    return a signature that does not verify, as a broken card might.
    """

    key: rsa.RSAPrivateKey
    certificate: bytes
    cas: list[bytes]
    corrupt: bool = False
    requests: list[bytes] = field(default_factory=list)

    def signing_certificate(self) -> bytes:
        return self.certificate

    def ca_certificates(self) -> list[bytes]:
        return list(self.cas)

    def sign_digest_info(self, digest_info: bytes) -> bytes:
        self.requests.append(digest_info)
        numbers = self.key.private_numbers()
        modulus = numbers.public_numbers.n
        size = (modulus.bit_length() + 7) // 8
        padded = b"\x00\x01" + b"\xff" * (size - 3 - len(digest_info)) + b"\x00" + digest_info
        signature = pow(int.from_bytes(padded, "big"), numbers.d, modulus).to_bytes(size, "big")
        if self.corrupt:
            signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
        return signature


def token_of(card: IssuedCard, *, corrupt: bool = False) -> SoftwareToken:
    """The signing key and certificate of a card issued by the test PKI, as a token."""
    key = load_pem_private_key(card.sign_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return SoftwareToken(key, card.sign_cert_der, [], corrupt=corrupt)
