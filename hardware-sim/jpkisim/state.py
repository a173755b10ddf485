"""The simulated card's state file: secrets, certificates, tries left and behaviour knobs.

This is the state of a TEST card. The signing password and the authentication PIN are
stored in clear, exactly as a card holds its reference data, because the simulator must
compare them; never put a real card's password in such a file. The file is written
atomically (temporary file + ``os.replace``) with permissions 0600.

JSON layout (one object; unknown keys are refused, missing required keys are named)::

    {"format": "jpkisim-card-state/1", "token_kind": "card",
     "signing_password": "ABC123", "auth_pin": "1234",
     "signing_tries_left": 5, "auth_tries_left": 3,
     "sign_key_pem": "-----BEGIN PRIVATE KEY-----...", "sign_cert_der": "<base64>",
     "sign_ca_der": "<base64>", "auth_key_pem": "...", "auth_cert_der": "<base64>",
     "auth_ca_der": "<base64>", "apdu_latency_ms": 0, "sign_latency_ms": 0,
     "extended_length": false, "remove_after_apdus": null, "lock_sw": "6984",
     "atr": "3B E0 00 FF 81 31 FE 45 14"}
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TokenKind = Literal["card", "smartphone", "juki"]
TOKEN_BY_KIND: dict[str, str] = {
    "card": "JPKIAPICCTOKEN2",
    "smartphone": "JPKIAPGPSETOKEN",
    "juki": "JPKIAPICCTOKEN",
}
SIGNING_PASSWORD_MAX_TRIES = 5
AUTH_PIN_MAX_TRIES = 3
DEFAULT_ATR = bytes.fromhex("3BE000FF8131FE4514")
LOCK_SWS = (0x6983, 0x6984)
STATE_FORMAT = "jpkisim-card-state/1"

_SIGNING_PASSWORD = re.compile(r"[A-Z0-9]{6,16}")
_AUTH_PIN = re.compile(r"[0-9]{4}")
_DER_FIELDS = ("sign_cert_der", "sign_ca_der", "auth_cert_der", "auth_ca_der")
_KEY_FIELDS = ("sign_key_pem", "auth_key_pem")


class StateError(ValueError):
    """The state file or a CardState is invalid; ``field`` names the culprit."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"card state field {field_name!r}: {problem}")
        self.field = field_name


class IssuedCardLike(Protocol):
    """What ``jpkisim.pki.IssuedCard`` provides (duck-typed so this module stays standalone)."""

    @property
    def sign_key_pem(self) -> bytes | str: ...
    @property
    def sign_cert_der(self) -> bytes: ...
    @property
    def sign_ca_der(self) -> bytes: ...
    @property
    def auth_key_pem(self) -> bytes | str: ...
    @property
    def auth_cert_der(self) -> bytes: ...
    @property
    def auth_ca_der(self) -> bytes: ...


@dataclass
class CardState:
    """Everything a simulated My Number Card remembers, plus knobs for its behaviour."""

    token_kind: TokenKind
    signing_password: str
    auth_pin: str
    sign_key_pem: str
    sign_cert_der: bytes
    sign_ca_der: bytes
    auth_key_pem: str
    auth_cert_der: bytes
    auth_ca_der: bytes
    signing_tries_left: int = SIGNING_PASSWORD_MAX_TRIES
    auth_tries_left: int = AUTH_PIN_MAX_TRIES
    apdu_latency_ms: float = 0.0
    sign_latency_ms: float = 0.0
    extended_length: bool = False
    remove_after_apdus: int | None = None
    lock_sw: int = 0x6984
    atr: bytes = DEFAULT_ATR

    def __post_init__(self) -> None:
        self.validate()

    @property
    def token(self) -> str:
        """The ASCII token the card's EF 0006 holds (before padding)."""
        return TOKEN_BY_KIND[self.token_kind]

    @classmethod
    def from_issued(
        cls,
        issued: IssuedCardLike,
        *,
        signing_password: str,
        auth_pin: str,
        token_kind: TokenKind = "card",  # noqa: S107 (a kind of token EF, not a secret)
        **knobs: Any,
    ) -> CardState:
        """Build a fresh card (full tries) from what the test PKI issued."""
        return cls(
            token_kind=token_kind,
            signing_password=signing_password,
            auth_pin=auth_pin,
            sign_key_pem=_as_text(issued.sign_key_pem),
            sign_cert_der=issued.sign_cert_der,
            sign_ca_der=issued.sign_ca_der,
            auth_key_pem=_as_text(issued.auth_key_pem),
            auth_cert_der=issued.auth_cert_der,
            auth_ca_der=issued.auth_ca_der,
            **knobs,
        )

    def sign_private_key(self) -> rsa.RSAPrivateKey:
        """The signing key (EF 001A) as a cryptography object."""
        return _load_rsa_key("sign_key_pem", self.sign_key_pem)

    def auth_private_key(self) -> rsa.RSAPrivateKey:
        """The authentication key (EF 0017) as a cryptography object."""
        return _load_rsa_key("auth_key_pem", self.auth_key_pem)

    def validate(self) -> None:
        """Raise StateError naming the first invalid field (keys and certificates included)."""
        self.validate_scalars()
        self._validate_keys_and_certificates()

    def validate_scalars(self) -> None:
        """Check every field except keys and certificates (cheap: run before each save)."""
        if self.token_kind not in get_args(TokenKind):
            raise StateError("token_kind", f"must be one of {list(TOKEN_BY_KIND)}")
        if not isinstance(self.signing_password, str) or not _SIGNING_PASSWORD.fullmatch(
            self.signing_password
        ):
            raise StateError("signing_password", "must be 6 to 16 characters A-Z and 0-9")
        if not isinstance(self.auth_pin, str) or not _AUTH_PIN.fullmatch(self.auth_pin):
            raise StateError("auth_pin", "must be exactly 4 digits")
        _check_int("signing_tries_left", self.signing_tries_left, 0, SIGNING_PASSWORD_MAX_TRIES)
        _check_int("auth_tries_left", self.auth_tries_left, 0, AUTH_PIN_MAX_TRIES)
        for name in ("apdu_latency_ms", "sign_latency_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise StateError(name, "must be a number >= 0")
        if not isinstance(self.extended_length, bool):
            raise StateError("extended_length", "must be true or false")
        if self.remove_after_apdus is not None:
            _check_int("remove_after_apdus", self.remove_after_apdus, 0, None)
        if self.lock_sw not in LOCK_SWS:
            raise StateError("lock_sw", "must be 6983 or 6984")
        if not isinstance(self.atr, bytes) or not 2 <= len(self.atr) <= 33:
            raise StateError("atr", "must be 2 to 33 bytes")

    def _validate_keys_and_certificates(self) -> None:
        certs = {}
        for name in _DER_FIELDS:
            der = getattr(self, name)
            if not isinstance(der, bytes):
                raise StateError(name, "must be DER bytes")
            try:
                certs[name] = x509.load_der_x509_certificate(der)
            except ValueError as exc:
                raise StateError(name, f"not a DER X.509 certificate ({exc})") from exc
            if len(der) > 0x7FFF:
                raise StateError(name, "certificate longer than an EF can hold")
        for key_field, cert_field in (
            ("sign_key_pem", "sign_cert_der"),
            ("auth_key_pem", "auth_cert_der"),
        ):
            key = _load_rsa_key(key_field, getattr(self, key_field))
            if certs[cert_field].public_key() != key.public_key():
                raise StateError(cert_field, f"public key does not match {key_field}")

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in the state file."""
        out: dict[str, Any] = {"format": STATE_FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _DER_FIELDS:
                value = base64.b64encode(value).decode("ascii")
            elif f.name == "atr":
                value = value.hex(" ").upper()
            elif f.name == "lock_sw":
                value = f"{value:04X}"
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: object) -> CardState:
        """Parse and validate the state file's JSON object."""
        if not isinstance(data, dict):
            raise StateError("<root>", "must be a JSON object")
        raw = dict(data)
        fmt = raw.pop("format", STATE_FORMAT)
        if fmt != STATE_FORMAT:
            raise StateError("format", f"expected {STATE_FORMAT!r}")
        known = {f.name: f for f in fields(cls)}
        for key in raw:
            if key not in known:
                raise StateError(key, "unknown field")
        for name, f in known.items():
            if name not in raw and f.default is MISSING:
                raise StateError(name, "missing")
        for name in _DER_FIELDS:
            raw[name] = _b64(name, raw[name])
        for name in _KEY_FIELDS:
            if not isinstance(raw[name], str):
                raise StateError(name, "must be a PEM string")
        if "atr" in raw:
            raw["atr"] = _hex(raw["atr"])
        if "lock_sw" in raw:
            raw["lock_sw"] = _sw(raw["lock_sw"])
        return cls(**raw)

    @classmethod
    def load(cls, path: Path | str) -> CardState:
        """Read and validate a state file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise StateError("<file>", f"cannot read {path}: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateError("<file>", f"not JSON: {exc}") from exc
        return cls.from_json(data)

    def save(self, path: Path | str) -> None:
        """Write the state atomically with permissions 0600."""
        self.validate_scalars()
        target = Path(path)
        text = json.dumps(self.to_json(), indent=2) + "\n"
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(text)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise


def _as_text(pem: bytes | str) -> str:
    return pem.decode("ascii") if isinstance(pem, bytes) else pem


def _check_int(name: str, value: object, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StateError(name, "must be an integer")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise StateError(name, f"must be {bounds}")


def _load_rsa_key(name: str, pem: str) -> rsa.RSAPrivateKey:
    if not isinstance(pem, str):
        raise StateError(name, "must be a PEM string")
    try:
        # The slow RSA consistency check is skipped: these are test keys, and the card's
        # signer checks every signature it makes with the public key anyway.
        key = serialization.load_pem_private_key(
            pem.encode("ascii"), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise StateError(name, f"not an unencrypted PKCS#8 PEM private key ({exc})") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise StateError(name, "must be an RSA key")
    return key


def _b64(name: str, value: object) -> bytes:
    if not isinstance(value, str):
        raise StateError(name, "must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise StateError(name, f"not base64 ({exc})") from exc


def _hex(value: object) -> bytes:
    if not isinstance(value, str):
        raise StateError("atr", "must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise StateError("atr", f"not hex ({exc})") from exc


def _sw(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.removeprefix("0x"), 16)
        except ValueError as exc:
            raise StateError("lock_sw", "not a hex status word") from exc
    raise StateError("lock_sw", "must be a hex string such as '6984'")


__all__ = [
    "AUTH_PIN_MAX_TRIES",
    "DEFAULT_ATR",
    "LOCK_SWS",
    "SIGNING_PASSWORD_MAX_TRIES",
    "TOKEN_BY_KIND",
    "CardState",
    "IssuedCardLike",
    "StateError",
    "TokenKind",
]
