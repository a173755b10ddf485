"""A test JPKI PKI in a directory: TEST roots, card certificates, revocation, OCSP and TSA keys.

    pki = TestPki.init(Path("var/pki"), base_url="http://127.0.0.1:8780")
    card = pki.issue_card(CardIdentity(name="試験 太郎", sex="1"))
    pki.revoke(pki.card_serial(card), reason="keyCompromise")

Files in the directory: `pki.json` (base URL), `index.json` (see `pki_index`), PEM
certificates `*.crt`, unencrypted PKCS#8 PEM keys `*.key` (owner-only), and the signing
root's current CRL `sign.crl` (DER). Another process may use the same directory: the
index and the CRL are read from disk every time they are asked for.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jpkisim import pki_builder, pki_ca
from jpkisim.pki_builder import utc_now
from jpkisim.pki_files import (
    AUTH_ROOT,
    CERT_STEMS,
    INDEX_JSON,
    OCSP,
    PKI_FILES,
    ROOT_STEMS,
    SIGN_ROOT,
    TSA,
    TSA_ROOT,
    check_base_url,
    create_authorities,
    load_cert,
    load_key,
    read_base_url,
    read_crl_if_current,
    write_base_url,
    write_crl,
)
from jpkisim.pki_index import (
    CardCertRecord,
    CardKind,
    PkiError,
    PkiIndex,
    locked,
    read_index,
    write_atomically,
    write_index,
)
from jpkisim.pki_profile import (
    CardIdentity,
    build_card_auth_cert,
    build_card_sign_cert,
    era_code,
    jpki_birth_string,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "CardCertRecord",
    "CardIdentity",
    "IssuedCard",
    "PkiError",
    "TestPki",
    "era_code",
    "jpki_birth_string",
]

DEFAULT_BASE_URL = "http://127.0.0.1:8780"
REVOCATION_REASONS = frozenset(r.value for r in x509.ReasonFlags) - {"removeFromCRL"}


@dataclass(frozen=True)
class IssuedCard:
    """What a simulated card is loaded with: DER certificates and PKCS#8 PEM keys."""

    sign_key_pem: bytes
    sign_cert_der: bytes
    sign_ca_der: bytes
    auth_key_pem: bytes
    auth_cert_der: bytes
    auth_ca_der: bytes

    @property
    def sign_cert(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.sign_cert_der)

    @property
    def auth_cert(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.auth_cert_der)


class TestPki:
    """The test PKI in one directory. Make one with `init`, open one with `load`."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, directory: Path) -> None:
        """Open the PKI in `directory` (use `load`, which says the same thing more plainly)."""
        self.directory = directory = Path(directory)
        missing = [name for name in PKI_FILES if not (directory / name).is_file()]
        if missing:
            raise PkiError(f"{directory} is not a complete test PKI: missing {', '.join(missing)}")
        self._certs = {stem: load_cert(self.path(f"{stem}.crt")) for stem in CERT_STEMS}
        self._keys = {stem: load_key(self.path(f"{stem}.key")) for stem in CERT_STEMS}
        for stem in CERT_STEMS:
            if self._keys[stem].public_key() != self._certs[stem].public_key():
                raise PkiError(f"{self.path(f'{stem}.key')} does not belong to {stem}.crt")
        read_base_url(directory)  # fail now if pki.json is damaged

    @classmethod
    def load(cls, directory: Path) -> TestPki:
        """Open an existing PKI; `PkiError` names whatever is missing or damaged."""
        return cls(Path(directory))

    @classmethod
    def init(
        cls, directory: Path, *, base_url: str = DEFAULT_BASE_URL, force: bool = False
    ) -> TestPki:
        """Create a fresh PKI; refuses a directory that holds one already unless `force`."""
        directory = Path(directory)
        check_base_url(base_url)
        if directory.exists() and not directory.is_dir():
            raise PkiError(f"{directory} is not a directory")
        directory.mkdir(parents=True, exist_ok=True)
        with locked(directory):
            present = [name for name in PKI_FILES if (directory / name).exists()]
            if present and not force:
                raise PkiError(
                    f"{directory} already holds a test PKI ({', '.join(present)}); "
                    "pass force to replace it"
                )
            sign_root, sign_root_key = create_authorities(directory)
            write_base_url(directory, base_url)
            index = PkiIndex()
            write_crl(directory, sign_root, sign_root_key, index)
            write_index(directory / INDEX_JSON, index)
        return cls(directory)

    # -- files and settings ------------------------------------------------------------

    def root_der(self, stem: str) -> bytes:
        """DER of a root by file stem: `"sign-root"`, `"auth-root"` or `"tsa-root"`."""
        if stem not in ROOT_STEMS:
            raise KeyError(stem)
        return self._certs[stem].public_bytes(serialization.Encoding.DER)

    def path(self, name: str) -> Path:
        """Path of one of the PKI's files, e.g. `path("sign-root.crt")`."""
        return self.directory / name

    @property
    def base_url(self) -> str:
        """Base of the AIA, OCSP and CRL URLs written into card certificates (from pki.json)."""
        return read_base_url(self.directory)

    def set_base_url(self, base_url: str) -> None:
        """Point certificates issued from now on at services on `base_url`."""
        check_base_url(base_url)
        with locked(self.directory):
            write_base_url(self.directory, base_url)

    # -- the authorities ---------------------------------------------------------------

    @property
    def sign_root_cert(self) -> x509.Certificate:
        return self._certs[SIGN_ROOT]

    @property
    def sign_root_der(self) -> bytes:
        return self.sign_root_cert.public_bytes(serialization.Encoding.DER)

    @property
    def auth_root_cert(self) -> x509.Certificate:
        return self._certs[AUTH_ROOT]

    @property
    def auth_root_der(self) -> bytes:
        return self.auth_root_cert.public_bytes(serialization.Encoding.DER)

    @property
    def ocsp_cert(self) -> x509.Certificate:
        return self._certs[OCSP]

    @property
    def ocsp_key(self) -> rsa.RSAPrivateKey:
        return self._keys[OCSP]

    @property
    def tsa_root_cert(self) -> x509.Certificate:
        return self._certs[TSA_ROOT]

    @property
    def tsa_cert(self) -> x509.Certificate:
        return self._certs[TSA]

    @property
    def tsa_key(self) -> rsa.RSAPrivateKey:
        return self._keys[TSA]

    @property
    def tsa_chain(self) -> list[x509.Certificate]:
        """The TSA certificate, then its root."""
        return [self.tsa_cert, self.tsa_root_cert]

    def reissue_tsa(self, lifetime: datetime.timedelta | None = None) -> x509.Certificate:
        """A new TSA key and certificate from the same TSA root; `lifetime` from now (a TSA
        whose certificate ends soon, for tests of timestamp renewal), else the usual years.
        A running `PkiServer` answers with the new one from its next request."""
        key = pki_builder.new_rsa_key()
        cert = pki_ca.build_tsa(
            key.public_key(), self.tsa_root_cert, self._keys[TSA_ROOT], lifetime
        )
        with locked(self.directory):
            write_atomically(self.path(f"{TSA}.key"), pki_builder.key_to_pem(key), private=True)
            write_atomically(self.path(f"{TSA}.crt"), cert.public_bytes(serialization.Encoding.PEM))
        self._certs[TSA], self._keys[TSA] = cert, key
        return cert

    # -- cards -------------------------------------------------------------------------

    def issue_card(self, identity: CardIdentity | None = None) -> IssuedCard:
        """New key pairs and certificates for one card (the demo person by default)."""
        identity = identity or CardIdentity()
        base_url = self.base_url
        sign_key, auth_key = pki_builder.new_rsa_key(), pki_builder.new_rsa_key()
        sign_root = pki_builder.Authority(self._keys[SIGN_ROOT], self.sign_root_cert)
        auth_root = pki_builder.Authority(self._keys[AUTH_ROOT], self.auth_root_cert)
        sign_cert = build_card_sign_cert(identity, sign_key.public_key(), sign_root, base_url)
        auth_cert = build_card_auth_cert(auth_key.public_key(), auth_root, base_url)
        with locked(self.directory):
            index = read_index(self.path(INDEX_JSON))
            issued: tuple[tuple[CardKind, x509.Certificate], ...] = (
                ("sign", sign_cert),
                ("auth", auth_cert),
            )
            for kind, cert in issued:
                index.put(
                    CardCertRecord(
                        serial=cert.serial_number,
                        kind=kind,
                        subject=cert.subject.rfc4514_string(),
                        not_after=cert.not_valid_after_utc,
                    )
                )
            write_index(self.path(INDEX_JSON), index)
        der = serialization.Encoding.DER
        return IssuedCard(
            sign_key_pem=pki_builder.key_to_pem(sign_key),
            sign_cert_der=sign_cert.public_bytes(der),
            sign_ca_der=self.sign_root_der,
            auth_key_pem=pki_builder.key_to_pem(auth_key),
            auth_cert_der=auth_cert.public_bytes(der),
            auth_ca_der=self.auth_root_der,
        )

    def records(self) -> list[CardCertRecord]:
        """Every issued card certificate, as index.json says now."""
        return read_index(self.path(INDEX_JSON)).records

    def record(self, serial: int) -> CardCertRecord | None:
        """The index entry of one card certificate, or None if this PKI never issued it."""
        return read_index(self.path(INDEX_JSON)).find(serial)

    # -- revocation --------------------------------------------------------------------

    def revoke(self, serial: int, reason: str = "keyCompromise") -> CardCertRecord:
        """Revoke a card certificate; a signing certificate goes onto a new CRL at once."""
        if reason not in REVOCATION_REASONS:
            raise PkiError(
                f"unknown revocation reason {reason!r}: use one of "
                f"{', '.join(sorted(REVOCATION_REASONS))}"
            )
        with locked(self.directory):
            index = read_index(self.path(INDEX_JSON))
            record = index.find(serial)
            if record is None:
                raise PkiError(f"serial {serial:X} was not issued by this PKI")
            if record.revoked:
                raise PkiError(f"serial {serial:X} is already revoked")
            record = record.revoke(utc_now(), reason)
            index.put(record)
            if record.kind == "sign":
                write_crl(self.directory, self.sign_root_cert, self._keys[SIGN_ROOT], index)
            write_index(self.path(INDEX_JSON), index)
        return record

    def revoke_certificate(self, cert_der: bytes, reason: str = "keyCompromise") -> CardCertRecord:
        """Revoke a card certificate given as DER (it must come from this PKI's roots)."""
        try:
            cert = x509.load_der_x509_certificate(cert_der)
        except ValueError as exc:
            raise PkiError(f"not a DER certificate: {exc}") from exc
        if cert.issuer not in (self.sign_root_cert.subject, self.auth_root_cert.subject):
            raise PkiError(f"{cert.issuer.rfc4514_string()} is not a root of this PKI")
        return self.revoke(cert.serial_number, reason)

    def crl(self) -> x509.CertificateRevocationList:
        """The signing root's current CRL (a fresh one is made when the stored one expired)."""
        return x509.load_der_x509_crl(self.crl_der())

    def crl_der(self) -> bytes:
        """The signing root's current CRL, DER (a fresh one is made when the stored one expired)."""
        der = read_crl_if_current(self.directory, utc_now())
        if der is not None:
            return der
        with locked(self.directory):
            der = read_crl_if_current(self.directory, utc_now())  # renewed meanwhile?
            if der is None:
                der = self._renew_crl()
        return der

    def refresh_crl(self) -> bytes:
        """Issue a new CRL now (next CRL number, next update in a day) and return it."""
        with locked(self.directory):
            return self._renew_crl()

    def _renew_crl(self) -> bytes:
        index = read_index(self.path(INDEX_JSON))
        der = write_crl(self.directory, self.sign_root_cert, self._keys[SIGN_ROOT], index)
        write_index(self.path(INDEX_JSON), index)
        return der

    @staticmethod
    def card_serial(card: IssuedCard) -> int:
        """Serial of a card's signing certificate."""
        return card.sign_cert.serial_number
