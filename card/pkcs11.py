"""PKCS#11 back end: the card's signing key through OpenSC's or the JPKI client's module.

For PCs where a PKCS#11 module already drives the card. OpenSC names the signing slot's
token "JPKI (Digital Signature PIN)"; the key and certificate have id 02, and the
certificate is readable only after login.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11e

from card.errors import NoCardError, PasswordLockedError, Pkcs11Error, WrongPasswordError
from card.password import normalize_signing_password

JPKI_SIGNING_TOKEN_LABEL = "JPKI (Digital Signature PIN)"  # noqa: S105 - a label
JPKI_SIGNING_KEY_ID = b"\x02"


def signing_password_tries_left(
    module_path: str, token_label: str = JPKI_SIGNING_TOKEN_LABEL
) -> int | None:
    """What the token's flags say before login: 0 locked, 1 final try, None neither.

    PKCS#11 gives no count, only these flags. `NoCardError` when the token is not there
    (no card on the reader), `Pkcs11Error` when the module fails.
    """
    try:
        flags = int(pkcs11.lib(module_path).get_token(token_label=token_label).flags)
    except p11e.NoSuchToken:
        raise NoCardError(f"no token {token_label!r}: is the card on the reader?") from None
    except (RuntimeError, OSError, p11e.PKCS11Error) as exc:
        raise Pkcs11Error(f"the PKCS#11 module failed: {type(exc).__name__}") from None
    if flags & TokenFlag.USER_PIN_LOCKED:
        return 0
    return _tries_left_from_flags(flags)


def _tries_left_from_flags(flags: int) -> int | None:
    if flags & TokenFlag.USER_PIN_FINAL_TRY:
        return 1
    return None


class Pkcs11SigningToken:
    """A `SigningToken` over a PKCS#11 module; logs in at open, logs out at close."""

    def __init__(
        self,
        module_path: str,
        password: str,
        *,
        token_label: str = JPKI_SIGNING_TOKEN_LABEL,
        key_id: bytes = JPKI_SIGNING_KEY_ID,
        normalize_password: bool = True,
    ) -> None:
        secret = normalize_signing_password(password) if normalize_password else password
        try:
            library = pkcs11.lib(module_path)
        except (RuntimeError, OSError) as exc:
            raise Pkcs11Error(f"cannot load the PKCS#11 module {module_path}: {exc}") from None
        try:
            token = library.get_token(token_label=token_label)
        except p11e.NoSuchToken:
            raise NoCardError(f"no token {token_label!r}: is the card on the reader?") from None
        except p11e.PKCS11Error as exc:
            raise Pkcs11Error(f"looking for token {token_label!r}: {type(exc).__name__}") from None
        if token.flags & TokenFlag.USER_PIN_LOCKED:
            raise PasswordLockedError("the password is locked after too many wrong tries")
        self.token_label = token_label
        self.key_id = key_id
        try:
            self._session: Any = token.open(user_pin=secret)
        except p11e.PinIncorrect:
            flags = library.get_token(token_label=token_label).flags
            if flags & TokenFlag.USER_PIN_LOCKED:
                raise PasswordLockedError("the password is now locked") from None
            raise WrongPasswordError(_tries_left_from_flags(flags)) from None
        except p11e.PinLocked:
            raise PasswordLockedError("the password is locked after too many wrong tries") from None
        except p11e.PKCS11Error as exc:
            raise Pkcs11Error(f"login to {token_label!r} failed: {type(exc).__name__}") from None
        finally:
            del secret
        self._certificate: bytes | None = None

    def signing_certificate(self) -> bytes:
        if self._certificate is None:
            found = list(
                self._session.get_objects(
                    {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: self.key_id}
                )
            )
            if not found:
                raise Pkcs11Error(f"no certificate with id {self.key_id.hex()} on the token")
            self._certificate = bytes(found[0][Attribute.VALUE])
        return self._certificate

    def ca_certificates(self) -> list[bytes]:
        return []

    def sign_digest_info(self, digest_info: bytes) -> bytes:
        try:
            key = self._session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=self.key_id)
            return bytes(key.sign(digest_info, mechanism=Mechanism.RSA_PKCS))
        except p11e.NoSuchKey:
            raise Pkcs11Error(f"no private key with id {self.key_id.hex()}") from None
        except p11e.PKCS11Error as exc:
            raise Pkcs11Error(f"the token could not sign: {type(exc).__name__}") from None

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
