"""Where the card comes from: a PC/SC reader or the in-process simulator, behind one interface.

A `CardProvider` waits for a card and opens it as a `CardHandle`: tries left, log in with
the password (which gives a `SigningToken`), close. PC/SC (pyscard) is imported only when
a reader is used, so the phone apps, which have none, import this module too. The PKCS#11
provider, whose module does its own VERIFY, lives in `bridge.pkcs11_card`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bridge.errors import UsageError
from card.connection import CallableConnection, CardConnection
from card.errors import NoCardError
from card.jpki import JpkiCardToken, JpkiSession
from card.token import SigningToken


class CardHandle(Protocol):
    """An opened card, used for one burst and then closed."""

    @property
    def apdus_sent(self) -> int:
        """APDUs sent so far (0 where the back end does not count them)."""
        ...

    def tries_left(self) -> int | None:
        """Signing-password tries left; None: unknown, but not reported as the last one."""
        ...

    def login(self, password: str) -> SigningToken:
        """Verify the (normalized) signing password; the token that then signs."""
        ...

    def close(self) -> None: ...


class CardProvider(Protocol):
    """Waits for a card and opens it."""

    def wait_for_card(self, timeout: float) -> None:
        """Return once a card is present; `NoCardError` after `timeout` seconds."""
        ...

    def open(self) -> CardHandle:
        """Open the present card (`NotJpkiCardError` if it has no JPKI application)."""
        ...


class JpkiCardHandle:
    """A card reached through APDUs: the JPKI application selected at open."""

    def __init__(self, connection: CardConnection, *, extended_length: bool = False) -> None:
        self.connection = connection
        self.session = JpkiSession(connection, extended_length=extended_length)
        try:
            self.session.select_application()
        except BaseException:
            connection.close()
            raise

    @property
    def apdus_sent(self) -> int:
        return int(getattr(self.connection, "apdus_sent", 0))

    def tries_left(self) -> int | None:
        return self.session.signing_password_tries_left()

    def login(self, password: str) -> SigningToken:
        self.session.verify_signing_password(password)
        return JpkiCardToken(self.session)

    def close(self) -> None:
        self.connection.close()


class PcscCardProvider:
    """The card on a PC/SC reader (the named one, or the first one connected)."""

    def __init__(self, reader: str | None = None) -> None:
        self.reader = reader
        self._found: str | None = None

    def wait_for_card(self, timeout: float) -> None:
        from card.pcsc import wait_for_card  # noqa: PLC0415 - pyscard: not on the phones

        self._found = wait_for_card(self.reader, timeout)

    def open(self) -> CardHandle:
        from card.pcsc import PcscConnection  # noqa: PLC0415 - pyscard: not on the phones

        return JpkiCardHandle(PcscConnection(self._found or self.reader))


class SimulatorCardProvider:
    """A `jpki-sim` card state, simulated in this process (no pcscd needed).

    `represent_after_removal`: a card that was taken away comes back at the next wait,
    as a person putting it back would (the CLI's behaviour); tests leave it off and put
    the card back themselves with `card.reinsert()`.
    """

    def __init__(self, state_path: Path, *, represent_after_removal: bool = False) -> None:
        try:
            from jpkisim.card import SimulatedCard  # noqa: PLC0415 - optional, test tooling
            from jpkisim.state import CardState, StateError  # noqa: PLC0415
        except ImportError:
            raise UsageError("sim_unavailable") from None
        try:
            state = CardState.load(state_path)
        except (OSError, ValueError, StateError) as exc:
            raise UsageError(
                "sim_state_unreadable", path=str(state_path), detail=str(exc)
            ) from None
        self.card = SimulatedCard(state, state_path)
        self.represent_after_removal = represent_after_removal

    def wait_for_card(self, timeout: float) -> None:
        if self.card.removed and self.represent_after_removal:
            self.card.reinsert()
        if not self.card.inserted.wait(timeout):
            raise NoCardError(f"no simulated card within {timeout:g} s")

    def open(self) -> CardHandle:
        try:
            self.card.power_on()
        except ConnectionError as exc:
            raise NoCardError("the simulated card is not in the reader") from exc
        return JpkiCardHandle(
            CallableConnection(self.card.process_apdu, self.card.atr, on_close=self.card.power_off)
        )
