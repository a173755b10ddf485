"""The card flow: password and card in either order, then one burst that ends in a checked CMS.

Runs in a worker thread. The burst (select, tries left, VERIFY, read certificate, sign)
happens with the card held; its progress and card errors go to `emit` (the core forwards
them to the server) and to the person. What to sign comes from a `DigestSource` given the
certificate just read: a fixed digest (protocol v1, `bridge check`), or, in protocol v2,
one short round trip to the server while the card stays where it is (the server puts the
certificate's name into the PDF's `/Name` and answers with the digest). Safety rules: the
password is normalized before any VERIFY, tries are read before VERIFY, the last try
needs a yes, a wrong password is never retried without asking again, and the password
is dropped when the flow ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge import protocol
from bridge.cards import CardHandle, CardProvider
from bridge.errors import CardUnavailableError, LockedError, NotSignedError
from bridge.interaction import Problem, UserInteraction
from bridge.messages import text
from bridge.protocol import CardErrorCode, Order, Stage
from card.cms import CmsCheckError, SignatureCheckError, build_signed_data, verify_signed_data
from card.errors import (
    CardError,
    CardRemovedError,
    InvalidPasswordFormatError,
    NoCardError,
    NoReaderError,
    NotJpkiCardError,
    PasswordLockedError,
    WrongPasswordError,
)
from card.password import normalize_signing_password

POLL_SECONDS = 0.5
Emit = Callable[[protocol.Progress | protocol.CardError], None]
DigestSource = Callable[[bytes], bytes]
"""Given the signing certificate (DER) read after VERIFY, the SHA-256 digest to sign.

May wait (for the server, in v2) while the card is held; raises a `BridgeError` to stop.
"""


@dataclass(frozen=True)
class FlowOptions:
    """How the flow behaves: order, last-try policy, patience."""

    order: Order = Order.PASSWORD_FIRST
    allow_last_try: bool = False
    card_wait: float = 120.0
    """Seconds to wait for the card each time it is asked for."""
    max_card_losses: int = 5


@dataclass(frozen=True)
class SignedDigest:
    """A checked CMS and what the burst that made it cost (monotonic seconds)."""

    cms: bytes
    certificate: bytes
    digest: bytes
    """The digest the CMS signs (its message-digest)."""
    tries_left_before: int | None
    apdus_sent: int
    burst_started: float
    burst_finished: float


@dataclass
class _Attempt:
    """What the flow remembers between bursts; the password only until the flow ends."""

    password: str | None = None
    tries_hint: int | None = None
    tries_before_lost_verify: int | None = None
    """Tries left before a VERIFY whose answer was lost with the card."""
    losses: int = 0

    def __repr__(self) -> str:
        return f"_Attempt(tries_hint={self.tries_hint}, losses={self.losses})"


class CardFlow:
    """Signs one digest with the card, asking the person through `ui`."""

    def __init__(
        self,
        provider: CardProvider,
        ui: UserInteraction,
        options: FlowOptions,
        *,
        emit: Emit | None = None,
        abort: threading.Event | None = None,
        deadline: float | None = None,
    ) -> None:
        self.provider = provider
        self.ui = ui
        self.options = options
        self._emit = emit or (lambda _message: None)
        self._abort = abort or threading.Event()
        self._deadline = deadline
        self._last_try_confirmed = False

    def sign(self, digest: bytes | DigestSource) -> SignedDigest:
        """The CMS over `digest` (or over what `digest` gives for the card's certificate);
        a `BridgeError` when it cannot be made."""
        source: DigestSource = (
            (lambda _certificate: digest) if isinstance(digest, bytes) else digest
        )
        try:
            return self._sign(source)
        except PasswordLockedError:
            self._card_error(CardErrorCode.LOCKED, "card_locked", tries_left=0)
            raise LockedError("card_locked", reason="locked") from None
        except NotJpkiCardError:
            raise self._unavailable(CardErrorCode.NOT_JPKI_CARD, "card_not_jpki") from None
        except NoReaderError as exc:
            raise self._unavailable(CardErrorCode.NO_READER, "card_no_reader", exc) from None
        except NoCardError:
            raise self._unavailable(CardErrorCode.NO_CARD, "card_none") from None
        except (SignatureCheckError, CmsCheckError):
            code = CardErrorCode.SIGNATURE_CHECK_FAILED
            raise self._unavailable(code, "card_signature_bad") from None
        except CardError as exc:
            raise self._unavailable(CardErrorCode.CARD_FAILURE, "card_failure", exc) from None

    def _sign(self, digest: DigestSource) -> SignedDigest:
        attempt = _Attempt()
        try:
            while True:
                if self.options.order is Order.PASSWORD_FIRST and attempt.password is None:
                    attempt.password = self._ask_password(attempt.tries_hint)
                try:
                    return self._burst(self._present_card(), attempt, digest)
                except WrongPasswordError as exc:
                    attempt.password = None
                    attempt.tries_hint = exc.tries_left
                    key = "card_wrong_password"
                    self._card_error(CardErrorCode.WRONG_PASSWORD, key, exc.tries_left)
                except CardRemovedError:
                    attempt.losses += 1
                    self._card_error(CardErrorCode.CARD_REMOVED, "card_removed")
                    if attempt.losses > self.options.max_card_losses:
                        raise CardUnavailableError(
                            "card_lost_too_often", reason="card_removed"
                        ) from None
        finally:
            attempt.password = None

    def _burst(
        self, handle: CardHandle, attempt: _Attempt, digest_for: DigestSource
    ) -> SignedDigest:
        """Tries left, VERIFY, certificate, (v2: the digest for it), signature: the card is
        held throughout."""
        try:
            started = time.monotonic()
            tries = handle.tries_left()
            lost, attempt.tries_before_lost_verify = attempt.tries_before_lost_verify, None
            if lost is not None and tries is not None and tries < lost:
                raise WrongPasswordError(tries)  # the VERIFY whose answer was lost was wrong
            if tries == 0:
                raise PasswordLockedError("the password is locked")
            if attempt.password is None:  # card first: ask while the card stays
                self._confirm_last_try(tries)
                attempt.password = self._ask_password(tries)
            self._confirm_last_try(tries)
            self._stage(Stage.VERIFYING)
            try:
                token = handle.login(attempt.password)
            except CardRemovedError:
                attempt.tries_before_lost_verify = tries  # did that VERIFY spend a try?
                raise
            self._stage(Stage.READING_CERTIFICATE)
            certificate = token.signing_certificate()
            digest = digest_for(certificate)  # v2: the server's answer, the card still held
            self._check_abort()
            self._stage(Stage.SIGNING)
            cms = build_signed_data(token, digest)
            finished = time.monotonic()
            apdus = handle.apdus_sent
        finally:
            handle.close()
        verify_signed_data(cms, digest)
        return SignedDigest(cms, certificate, digest, tries, apdus, started, finished)

    def _ask_password(self, tries_left: int | None) -> str:
        self._stage(Stage.WAITING_FOR_PASSWORD)
        while True:
            self._check_abort()
            typed = self.ui.ask_password(tries_left)
            try:
                return normalize_signing_password(typed)
            except InvalidPasswordFormatError:
                self.ui.show_error(Problem("password_format"))
            finally:
                del typed

    def _confirm_last_try(self, tries_left: int | None) -> None:
        if tries_left != 1 or self.options.allow_last_try or self._last_try_confirmed:
            return
        if not self.ui.confirm_last_try(tries_left):
            raise NotSignedError("last_try_refused", reason="last_try_refused")
        self._last_try_confirmed = True

    def _present_card(self) -> CardHandle:
        self._stage(Stage.WAITING_FOR_CARD)
        self.ui.ask_for_card()
        deadline = time.monotonic() + self.options.card_wait
        if self._deadline is not None:
            deadline = min(deadline, self._deadline)
        while True:
            self._check_abort()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoCardError("no card was presented in time")
            try:
                self.provider.wait_for_card(min(POLL_SECONDS, remaining))
                handle = self.provider.open()
            except NoCardError:
                continue
            self._stage(Stage.CARD_PRESENT)
            return handle

    def _check_abort(self) -> None:
        if self._abort.is_set():
            raise NotSignedError("aborted", reason="aborted")

    def _stage(self, stage: Stage) -> None:
        self.ui.show_progress(stage)
        self._emit(protocol.Progress(stage=stage))

    def _card_error(self, code: CardErrorCode, key: str, tries_left: int | None = None) -> None:
        params: dict[str, object] = {}
        if tries_left is not None:
            params["tries_left"] = tries_left
        elif code is CardErrorCode.WRONG_PASSWORD:
            key = "card_wrong_password_unknown"
        self.ui.show_error(Problem(key, params))
        message = text("en", key, **params)
        self._emit(protocol.CardError(code=code, tries_left=tries_left, message=message))

    def _unavailable(
        self, code: CardErrorCode, key: str, cause: Exception | None = None
    ) -> CardUnavailableError:
        self._card_error(code, key)
        detail = "" if cause is None else str(cause)
        return CardUnavailableError(key, reason=code.value, detail=detail)
