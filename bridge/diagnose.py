"""`jpki-bridge readers` and `jpki-bridge check`: does my reader, card and password work?

`check` runs the same card flow as `sign` over a random digest, with no server: it
verifies the password, reads the certificate, signs, checks the signature, and prints
the holder's name, validity and the tries left it found.
"""

from __future__ import annotations

import datetime
import secrets
from typing import TextIO

from bridge.cards import CardProvider
from bridge.errors import CardUnavailableError, ExitCode
from bridge.flow import CardFlow, FlowOptions
from bridge.interaction import UserInteraction
from bridge.messages import Messages
from bridge.protocol import Order, printable
from card.certificate import CertificateParseError, JpkiCertificate
from card.errors import CardError, NotJpkiCardError
from card.jpki import JpkiSession, TokenKind
from card.trust import jpki_signing_roots

_KIND_KEYS = {
    TokenKind.MY_NUMBER_CARD: "kind_my_number_card",
    TokenKind.SMARTPHONE: "kind_smartphone",
    TokenKind.JUKI_CARD: "kind_juki_card",
    TokenKind.OTHER: "kind_other",
}


def list_readers(t: Messages, out: TextIO) -> ExitCode:
    """Print each reader, whether a card is on it, and what JPKI token it holds."""
    from card.pcsc import reader_statuses  # noqa: PLC0415 - pyscard: the [bridge] extra

    try:
        statuses = reader_statuses()
    except CardError as exc:
        raise CardUnavailableError("card_no_reader", detail=str(exc)) from None
    if not statuses:
        print(t("readers_none"), file=out)
        return ExitCode.NO_CARD
    for status in statuses:
        print(_describe(t, status.name, status.card_present), file=out)
    return ExitCode.SIGNED


def _describe(t: Messages, reader: str, card_present: bool) -> str:
    if not card_present:
        return t("readers_empty", reader=reader)
    try:
        from card.pcsc import PcscConnection  # noqa: PLC0415 - pyscard: the [bridge] extra

        with PcscConnection(reader, exclusive=False, reset_on_close=False) as connection:
            token = JpkiSession(connection).read_token()
    except NotJpkiCardError:
        return t("readers_not_jpki", reader=reader)
    except CardError as exc:
        return t("readers_unreadable", reader=reader, detail=str(exc))
    kind = t(_KIND_KEYS[token.kind])
    return t("readers_card", reader=reader, kind=kind, token=printable(token.text, 40))


def check_card(provider: CardProvider, ui: UserInteraction, t: Messages, out: TextIO) -> ExitCode:
    """Sign a random digest locally with the card flow; print what the certificate says."""
    flow = CardFlow(provider, ui, FlowOptions(order=Order.CARD_FIRST))
    signed = flow.sign(secrets.token_bytes(32))
    print(t("check_ok"), file=out)
    try:
        certificate = JpkiCertificate.from_der(signed.certificate)
    except CertificateParseError as exc:
        raise CardUnavailableError("card_failure", detail=str(exc)) from None
    print(t("check_name", name=certificate.name or certificate.subject), file=out)
    start = certificate.not_before.astimezone().strftime("%Y-%m-%d")
    end = certificate.not_after.astimezone().strftime("%Y-%m-%d")
    print(t("check_validity", start=start, end=end), file=out)
    if certificate.not_after < datetime.datetime.now(datetime.UTC):
        print(t("check_expired"), file=out)
    if signed.tries_left_before is None:
        print(t("check_tries_unknown"), file=out)
    else:
        print(t("check_tries", tries=signed.tries_left_before), file=out)
    root = certificate.root_generation(jpki_signing_roots())
    print(t("check_root", root=root) if root else t("check_root_unknown"), file=out)
    return ExitCode.SIGNED
