"""`jpki-sim`: make a test PKI and simulated cards, serve them to pcscd and on loopback."""

from __future__ import annotations

import argparse
import datetime
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from jpkisim.card import SimulatedCard
from jpkisim.pki import DEFAULT_BASE_URL, CardIdentity, PkiError, TestPki
from jpkisim.state import CardState, StateError

SEX_ALIASES = {
    "1": "1", "male": "1", "m": "1", "男": "1",
    "2": "2", "female": "2", "f": "2", "女": "2",
    "3": "3", "other": "3", "unknown": "3", "x": "3",
}  # fmt: skip
DEFAULT_VPCD_PORT = 0x8C7B


def _sex(value: str) -> str:
    try:
        return SEX_ALIASES[value.strip().lower()]
    except KeyError:
        raise argparse.ArgumentTypeError("sex is 1/male, 2/female or 3/other") from None


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("dates are YYYY-MM-DD") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jpki-sim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    pki = commands.add_parser("pki", help="the test PKI").add_subparsers(
        dest="pki_command", required=True
    )
    init = pki.add_parser("init", help="create a test PKI (TEST roots, OCSP, TSA, CRL) in DIR")
    init.add_argument("dir", type=Path)
    init.add_argument("--base-url", default=DEFAULT_BASE_URL, help="where `pki serve` will listen")
    init.add_argument("--force", action="store_true", help="replace a PKI already in DIR")
    serve_pki = pki.add_parser("serve", help="serve OCSP, CRL and RFC 3161 timestamps")
    serve_pki.add_argument("dir", type=Path)
    serve_pki.add_argument("--host", default="127.0.0.1")
    serve_pki.add_argument(
        "--port", type=int, default=None, help="default: the port of the PKI's base URL (8780)"
    )

    card = commands.add_parser("card", help="simulated cards").add_subparsers(
        dest="card_command", required=True
    )
    new = card.add_parser("new", help="a new card whose signing certificate the PKI issues")
    new.add_argument("--pki", type=Path, required=True)
    new.add_argument("--password", required=True, help="the signing password (6-16 A-Z/0-9)")
    new.add_argument("--auth-pin", default="1234", help="the 4-digit authentication PIN")
    defaults = CardIdentity()
    new.add_argument("--name", default=defaults.name)
    new.add_argument("--birth", type=_date, default=defaults.birth)
    new.add_argument("--sex", type=_sex, default=defaults.sex)
    new.add_argument("--address", default=defaults.address)
    new.add_argument("--token", choices=["card", "smartphone", "juki"], default="card")
    new.add_argument("--apdu-latency-ms", type=float, default=0.0)
    new.add_argument("--sign-latency-ms", type=float, default=0.0)
    new.add_argument("--extended-length", action="store_true")
    new.add_argument(
        "--remove-after", type=int, metavar="N", help="the card goes away after N APDUs"
    )
    new.add_argument("--out", type=Path, required=True, help="the card's state file")
    revoke = card.add_parser("revoke", help="revoke a card's signing certificate")
    revoke.add_argument("--pki", type=Path, required=True)
    revoke.add_argument("state", type=Path)
    revoke.add_argument("--reason", default="keyCompromise")
    show = card.add_parser("show", help="what a card state holds (never its secrets)")
    show.add_argument("state", type=Path)

    serve = commands.add_parser("serve", help="put the card on pcscd's vpcd reader")
    serve.add_argument("--state", type=Path, required=True)
    serve.add_argument("--vpcd-host", default="127.0.0.1")
    serve.add_argument("--vpcd-port", type=int, default=DEFAULT_VPCD_PORT)
    serve.add_argument(
        "--apdu-log", type=Path, help="one line per command APDU, VERIFY data redacted"
    )
    return parser


def _pki_init(args: argparse.Namespace) -> int:
    pki = TestPki.init(args.dir, base_url=args.base_url, force=args.force)
    print(f"test PKI in {args.dir} (services expected at {pki.base_url})")
    return 0


def _pki_serve(args: argparse.Namespace) -> int:
    from jpkisim.pki_server import serve_forever  # noqa: PLC0415 - only this command needs it

    serve_forever(args.dir, args.host, args.port)
    return 0


def _card_new(args: argparse.Namespace) -> int:
    pki = TestPki.load(args.pki)
    identity = CardIdentity(name=args.name, birth=args.birth, sex=args.sex, address=args.address)
    issued = pki.issue_card(identity)
    state = CardState.from_issued(
        issued,
        signing_password=args.password,
        auth_pin=args.auth_pin,
        token_kind=args.token,
        apdu_latency_ms=args.apdu_latency_ms,
        sign_latency_ms=args.sign_latency_ms,
        extended_length=args.extended_length,
        remove_after_apdus=args.remove_after,
    )
    state.save(args.out)
    serial = TestPki.card_serial(issued)
    print(f"card for {identity.name} in {args.out} (certificate serial {serial:x})")
    return 0


def _card_revoke(args: argparse.Namespace) -> int:
    state = CardState.load(args.state)
    record = TestPki.load(args.pki).revoke_certificate(state.sign_cert_der, reason=args.reason)
    print(f"revoked certificate serial {record.serial:x} ({args.reason})")
    return 0


def _card_show(args: argparse.Namespace) -> int:
    state = CardState.load(args.state)
    print(f"token: {state.token}")
    print(f"signing password tries left: {state.signing_tries_left}")
    print(f"authentication PIN tries left: {state.auth_tries_left}")
    print(f"extended length: {'on' if state.extended_length else 'off'}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from jpkisim.vpcd import LinkEnd, VpcdLink  # noqa: PLC0415 - only this command needs it

    state = CardState.load(args.state)
    card = SimulatedCard(state, args.state, apdu_log=args.apdu_log)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"card {args.state} -> vpcd {args.vpcd_host}:{args.vpcd_port}", flush=True)
    link = VpcdLink(card, args.vpcd_host, args.vpcd_port)
    while link.run(stop) is LinkEnd.PEER_CLOSED:  # pcscd restarted: wait for it again
        if stop.wait(0.2):
            break
    return 0


HANDLERS = {
    ("pki", "init"): _pki_init,
    ("pki", "serve"): _pki_serve,
    ("card", "new"): _card_new,
    ("card", "revoke"): _card_revoke,
    ("card", "show"): _card_show,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="jpki-sim: %(message)s")
    sub = str(getattr(args, "pki_command", None) or getattr(args, "card_command", ""))
    handler = _serve if args.command == "serve" else HANDLERS[(args.command, sub)]
    try:
        return handler(args)
    except (PkiError, StateError, OSError, ValueError) as exc:
        print(f"jpki-sim: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
