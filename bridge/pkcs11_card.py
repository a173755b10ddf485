"""The card through a PKCS#11 module (OpenSC's, or the JPKI client's): a provider for the core.

The module does its own VERIFY at login, so the card layer's `Pkcs11SigningToken` is the
whole burst. Tries left are read from the token's flags before login: locked (0), final
try (1), or neither (None: unknown but not the last). If the flags cannot be read the
bridge assumes the last try, so it never spends one without a yes.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from bridge.cards import CardHandle
from bridge.errors import UsageError
from card.errors import NoCardError, PasswordLockedError, Pkcs11Error
from card.pkcs11 import Pkcs11SigningToken, signing_password_tries_left
from card.token import SigningToken

log = logging.getLogger(__name__)
POLL_SECONDS = 0.25


class Pkcs11CardHandle:
    """One login session through the module."""

    apdus_sent = 0

    def __init__(self, module_path: str) -> None:
        self.module_path = module_path
        self._token: Pkcs11SigningToken | None = None

    def tries_left(self) -> int | None:
        try:
            tries = signing_password_tries_left(self.module_path)
        except Pkcs11Error as exc:  # flags unknown: assume the last try
            log.debug("cannot read the PKCS#11 token flags: %s", exc)
            return 1
        if tries == 0:
            raise PasswordLockedError("the password is locked after too many wrong tries")
        return tries

    def login(self, password: str) -> SigningToken:
        self._token = Pkcs11SigningToken(self.module_path, password)
        return self._token

    def close(self) -> None:
        if self._token is not None:
            self._token.close()
            self._token = None


class Pkcs11CardProvider:
    """Cards the PKCS#11 module finds on its readers."""

    def __init__(self, module_path: str) -> None:
        if not Path(module_path).is_file():
            raise UsageError("pkcs11_module_missing", path=module_path)
        self.module_path = module_path

    def wait_for_card(self, timeout: float) -> None:
        """Return when the module lists the signing token, looking every quarter second."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                signing_password_tries_left(self.module_path)
                return
            except NoCardError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
                time.sleep(min(POLL_SECONDS, remaining))

    def open(self) -> CardHandle:
        return Pkcs11CardHandle(self.module_path)
