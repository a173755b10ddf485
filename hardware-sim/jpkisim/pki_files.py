"""The test PKI's files: names, settings (`pki.json`), PEM certificates and keys, the CRL.

Certificates are PEM `<stem>.crt`, keys unencrypted PKCS#8 PEM `<stem>.key` readable by
the owner only, the signing root's CRL DER `sign.crl`. Every problem reading them is a
`PkiError` naming the file.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jpkisim import pki_builder, pki_ca
from jpkisim.pki_index import PkiError, PkiIndex, write_atomically

PKI_JSON, INDEX_JSON, SIGN_CRL = "pki.json", "index.json", "sign.crl"
SIGN_ROOT, AUTH_ROOT, OCSP, TSA_ROOT, TSA = "sign-root", "auth-root", "ocsp", "tsa-root", "tsa"
CERT_STEMS = (SIGN_ROOT, AUTH_ROOT, OCSP, TSA_ROOT, TSA)
ROOT_STEMS = (SIGN_ROOT, AUTH_ROOT, TSA_ROOT)
PKI_FILES = (
    PKI_JSON,
    INDEX_JSON,
    SIGN_CRL,
    *(f"{stem}.crt" for stem in CERT_STEMS),
    *(f"{stem}.key" for stem in CERT_STEMS),
)


def check_base_url(url: str) -> str:
    """`url` without a trailing slash, if it is an http(s) URL."""
    if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise PkiError(f"base URL must be an http(s) URL, not {url!r}")
    return url.rstrip("/")


def read_base_url(directory: Path) -> str:
    path = directory / PKI_JSON
    try:
        return check_base_url(str(json.loads(path.read_text("utf-8"))["base_url"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PkiError(f"{path} is damaged: {exc}") from exc


def write_base_url(directory: Path, base_url: str) -> None:
    settings = {"version": 1, "base_url": check_base_url(base_url)}
    write_atomically(directory / PKI_JSON, json.dumps(settings, indent=2).encode())


def load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as exc:
        raise PkiError(f"{path} is not a PEM certificate: {exc}") from exc


def load_key(path: Path) -> rsa.RSAPrivateKey:
    """An authority's key, as this PKI wrote it.

    OpenSSL's RSA consistency check (primality of p and q) is skipped: it took 25-30 ms a
    key, 15 keys each time a PKI is opened, and a service in development opens it three
    times at start. These are the PKI's own test keys; `TestPki` checks that each one
    belongs to its certificate instead, which is what a damaged or swapped file breaks.
    """
    try:
        key = serialization.load_pem_private_key(
            path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError) as exc:
        raise PkiError(f"{path} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError(f"{path} is not an RSA key")
    return key


def create_authorities(directory: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """Write new keys and certificates of all authorities; returns the signing root and key."""
    keys = {stem: pki_builder.new_rsa_key() for stem in CERT_STEMS}
    sign_root = pki_ca.build_root(pki_ca.SIGN_ROOT_NAME, keys[SIGN_ROOT])
    tsa_root = pki_ca.build_root(pki_ca.TSA_ROOT_NAME, keys[TSA_ROOT])
    certs = {
        SIGN_ROOT: sign_root,
        AUTH_ROOT: pki_ca.build_root(pki_ca.AUTH_ROOT_NAME, keys[AUTH_ROOT]),
        OCSP: pki_ca.build_ocsp_responder(keys[OCSP].public_key(), sign_root, keys[SIGN_ROOT]),
        TSA_ROOT: tsa_root,
        TSA: pki_ca.build_tsa(keys[TSA].public_key(), tsa_root, keys[TSA_ROOT]),
    }
    for stem in CERT_STEMS:
        key_pem = pki_builder.key_to_pem(keys[stem])
        write_atomically(directory / f"{stem}.key", key_pem, private=True)
        pem = certs[stem].public_bytes(serialization.Encoding.PEM)
        write_atomically(directory / f"{stem}.crt", pem)
    return sign_root, keys[SIGN_ROOT]


def write_crl(
    directory: Path, root: x509.Certificate, key: rsa.RSAPrivateKey, index: PkiIndex
) -> bytes:
    """Write the signing root's next CRL and advance `index`'s CRL number (lock held)."""
    revoked = [
        pki_builder.RevokedEntry(
            serial=r.serial,
            revoked_at=r.revoked_at,
            reason=None if r.reason in (None, "unspecified") else x509.ReasonFlags(r.reason),
        )
        for r in index.records
        if r.kind == "sign" and r.revoked_at is not None
    ]
    crl = pki_ca.build_crl(root, key, index.next_crl_number, revoked)
    index.next_crl_number += 1
    der = crl.public_bytes(serialization.Encoding.DER)
    write_atomically(directory / SIGN_CRL, der)
    return der


def read_crl_if_current(directory: Path, now: datetime.datetime) -> bytes | None:
    """The stored CRL's DER while its nextUpdate is after `now`, else None."""
    path = directory / SIGN_CRL
    try:
        der = path.read_bytes()
        next_update = x509.load_der_x509_crl(der).next_update_utc
    except (OSError, ValueError) as exc:
        raise PkiError(f"{path} is not a readable DER CRL: {exc}") from exc
    return der if next_update is not None and next_update > now else None
