"""`jpki-bridge`: sign a QR session's document with a My Number Card; list readers; check a card.

Messages are Japanese unless `--lang en`; exit codes are `bridge.errors.ExitCode` and
are listed in `--help`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from bridge.cards import CardProvider, PcscCardProvider, SimulatorCardProvider
from bridge.core import BridgeSession, SessionOptions
from bridge.diagnose import check_card, list_readers
from bridge.errors import BridgeError, ExitCode
from bridge.messages import LANGUAGES, Messages
from bridge.protocol import Order, message_json_schema
from bridge.terminal import TerminalInteraction
from bridge.url import BridgeUrlError, bridge_target
from card.certificate import CertificateParseError, JpkiCertificate

PC_MODULES = frozenset({"smartcard", "pkcs11"})
"""pyscard and python-pkcs11: the PC's ways to the card, in the `[bridge]` extra."""


def _language(argv: Sequence[str]) -> str:
    """`--lang` looked up before parsing, so `--help` is already in that language."""
    for index, arg in enumerate(argv):
        if arg == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return "ja"


def build_parser(t: Messages) -> argparse.ArgumentParser:
    """The command line, its help in the catalogue's language."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=LANGUAGES, default="ja", help=t("cli_lang"))
    card = argparse.ArgumentParser(add_help=False)
    source = card.add_mutually_exclusive_group()
    source.add_argument("--reader", metavar="NAME", help=t("cli_reader"))
    source.add_argument("--sim", metavar="STATE", type=Path, help=t("cli_sim"))
    source.add_argument("--pkcs11", metavar="MODULE", help=t("cli_pkcs11"))
    card.add_argument("--password-stdin", action="store_true", help=t("cli_password_stdin"))

    parser = argparse.ArgumentParser(
        prog="jpki-bridge",
        description=t("cli_description"),
        epilog=t("cli_exit_codes"),
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter
    sign = commands.add_parser(
        "sign",
        parents=[common, card],
        help=t("cli_sign"),
        epilog=t("cli_exit_codes"),
        formatter_class=raw,
    )
    sign.add_argument("url", metavar="URL", help=t("cli_url"))
    sign.add_argument(
        "--order",
        choices=[order.value for order in Order],
        default=Order.PASSWORD_FIRST.value,
        help=t("cli_order"),
    )
    sign.add_argument("--allow-last-try", action="store_true", help=t("cli_allow_last_try"))
    sign.add_argument("--insecure", action="store_true", help=t("cli_insecure"))
    for name, parents in (("readers", [common]), ("check", [common, card])):
        commands.add_parser(
            name,
            parents=parents,
            help=t(f"cli_{name}"),
            epilog=t("cli_exit_codes"),
            formatter_class=raw,
        )
    commands.add_parser("schema", parents=[common], help=t("cli_schema"))
    app = commands.add_parser("app", parents=[common], help=t("cli_app"))
    app.add_argument("url", metavar="URL", nargs="?", help=t("cli_app_url"))
    app.add_argument("--sim", metavar="STATE", type=Path, help=t("cli_sim"))
    app.add_argument("--allow-last-try", action="store_true", help=t("cli_allow_last_try"))
    app.add_argument("--insecure", action="store_true", help=t("cli_insecure"))
    handler = commands.add_parser(
        "install-url-handler", parents=[common], help=t("cli_install_url_handler")
    )
    handler.add_argument("--uninstall", action="store_true", help=t("cli_uninstall"))
    return parser


def _app(args: argparse.Namespace, t: Messages) -> ExitCode:
    try:
        from bridge.app.launch import build_app  # noqa: PLC0415 - Toga only for the app
    except ImportError:
        print(t("cli_app_missing"), file=sys.stderr)
        return ExitCode.USAGE
    app = build_app(
        args.url, lang=args.lang, sim=args.sim, insecure=args.insecure,
        allow_last_try=args.allow_last_try,
    )  # fmt: skip
    app.main_loop()
    return ExitCode.SIGNED


def _url_handler(args: argparse.Namespace, t: Messages) -> ExitCode:
    from bridge import urlhandler  # noqa: PLC0415

    done = urlhandler.uninstall() if args.uninstall else urlhandler.install()
    if done is None:
        print(t("url_handler_macos"))
    else:
        key = "url_handler_removed" if args.uninstall else "url_handler_installed"
        print(t(key, where=done.where))
    return ExitCode.SIGNED


def _provider(args: argparse.Namespace) -> tuple[CardProvider, str]:
    if args.sim is not None:
        return SimulatorCardProvider(args.sim, represent_after_removal=True), "sim"
    if args.pkcs11 is not None:
        from bridge.pkcs11_card import Pkcs11CardProvider  # noqa: PLC0415 - the [bridge] extra

        return Pkcs11CardProvider(args.pkcs11), "pkcs11"
    return PcscCardProvider(args.reader), "reader"


def _sign(args: argparse.Namespace, t: Messages) -> ExitCode:
    try:
        target = bridge_target(args.url, insecure=args.insecure)
    except BridgeUrlError as exc:
        print(t(exc.reason, detail=str(exc)), file=sys.stderr)
        return ExitCode.USAGE
    provider, kind = _provider(args)
    ui = TerminalInteraction(t, password_stdin=args.password_stdin, card_kind=kind)
    options = SessionOptions(order=Order(args.order), allow_last_try=args.allow_last_try)
    session = BridgeSession(target.websocket_url, provider, ui, options)
    signed = asyncio.run(session.run())
    print(t("signed"))
    with contextlib.suppress(CertificateParseError):
        name = JpkiCertificate.from_der(signed.certificate).name
        if name:
            print(t("signed_as", name=name))
    return ExitCode.SIGNED


def _check(args: argparse.Namespace, t: Messages) -> ExitCode:
    provider, kind = _provider(args)
    ui = TerminalInteraction(t, password_stdin=args.password_stdin, card_kind=kind)
    return check_card(provider, ui, t, sys.stdout)


@contextlib.contextmanager
def _terminal_restored() -> Iterator[None]:
    """Give the terminal back as found, even if a no-echo prompt was cut short."""
    try:
        import termios  # noqa: PLC0415 - POSIX only

        saved = termios.tcgetattr(sys.stdin.fileno()) if sys.stdin.isatty() else None
    except (ImportError, OSError, ValueError):
        saved = None
    try:
        yield
    finally:
        if saved is not None:
            with contextlib.suppress(OSError):
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `jpki-bridge`; the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    t = Messages(_language(arguments))
    parser = build_parser(t)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:
        return int(exc.code or 0)
    with _terminal_restored():
        try:
            if args.command == "schema":
                print(json.dumps(message_json_schema(), indent=2, ensure_ascii=False))
                return ExitCode.SIGNED
            if args.command == "readers":
                return list_readers(t, sys.stdout)
            if args.command == "check":
                return _check(args, t)
            if args.command == "app":
                return _app(args, t)
            if args.command == "install-url-handler":
                return _url_handler(args, t)
            return _sign(args, t)
        except BridgeError as exc:
            print(t(exc.key, **exc.params), file=sys.stderr)
            return exc.exit_code
        except ModuleNotFoundError as exc:
            if exc.name not in PC_MODULES:
                raise
            print(t("cli_bridge_extra_missing", module=exc.name), file=sys.stderr)
            return ExitCode.USAGE
        except KeyboardInterrupt:
            print(t("cli_interrupted"), file=sys.stderr)
            return ExitCode.NOT_SIGNED
        except BrokenPipeError:  # output piped into a reader that stopped (`| head`)
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written
            return ExitCode.SIGNED if args.command == "schema" else ExitCode.USAGE


if __name__ == "__main__":
    sys.exit(main())
