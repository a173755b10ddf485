"""`mynasign`: run the service (`dev` on embedded defaults, `serve` for production), migrate."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from sqlalchemy import select

from webapp.archive.cli import add_archive_commands, run_archive_command
from webapp.audit.cli import add_audit_commands, run_audit_command
from webapp.settings import ConfigurationError, Settings, load_settings

DEMO_EMAIL = "demo@mynasign.test"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mynasign", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="run on embedded defaults (SQLite, local files, dev PKI)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--data-dir", type=Path, default=Path("var"))
    dev.add_argument(
        "--base-url", help="the address people open (a load balancer's); default: host and port"
    )
    serve = commands.add_parser("serve", help="run in production (settings from MYNASIGN_*)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    db = commands.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply the database migrations (Alembic)")
    add_audit_commands(commands)  # issue 12: `audit export` / `audit verify`
    add_archive_commands(commands)  # issue 12: `archive renew`
    return parser


def demo_sender(settings: Settings) -> tuple[str, str | None, str | None]:
    """The demo sender's e-mail, and (when just made) its password and API token."""
    from webapp.db.engine import make_engine, make_session_factory  # noqa: PLC0415
    from webapp.db.migrate import upgrade  # noqa: PLC0415
    from webapp.db.models import User  # noqa: PLC0415
    from webapp.services.accounts import create_api_token, sign_up  # noqa: PLC0415

    assert settings.database_url is not None  # noqa: S101 - filled in by load_settings
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as db:
            if db.scalar(select(User).where(User.email == DEMO_EMAIL)) is not None:
                return DEMO_EMAIL, None, None
            password = secrets.token_urlsafe(12)
            user = sign_up(db, DEMO_EMAIL, password, "デモ 送信者")
            token = create_api_token(db, user, "development").token
            db.commit()
    finally:
        engine.dispose()
    token_file = Path(settings.data_dir) / "dev-api-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    return DEMO_EMAIL, password, token


DEMO_CARD_PASSWORD = "TEST1234"  # noqa: S105 - the simulated card's, printed on purpose


def card_instructions(settings: Settings) -> list[str]:
    """How to sign with a simulated My Number Card that the development PKI trusts."""
    data = Path(settings.data_dir)
    card = data / "demo-card.json"
    return [
        "  sign with a simulated My Number Card (signing password "
        f"{DEMO_CARD_PASSWORD}); make the card once:",
        f"    jpki-sim card new --pki {data / 'pki'} --password {DEMO_CARD_PASSWORD} "
        f'--name "試験 花子" --out {card}',
        "  then, with the URL under the QR code of the card-signing page:",
        f"    jpki-bridge sign <URL> --sim {card}",
        "  or through PC/SC (pcscd with vsmartcard's vpcd running):",
        f"    jpki-sim serve --state {card} &  jpki-bridge sign <URL> --reader 'Virtual PCD'",
    ]


def _run(settings: Settings, host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    from webapp.app import create_app  # noqa: PLC0415
    from webapp.log_redaction import install_log_redaction, uvicorn_log_config  # noqa: PLC0415

    install_log_redaction()  # issue 10: no token or password in any log line
    uvicorn.run(
        create_app(settings, server_process=True), host=host, port=port,
        proxy_headers=settings.is_production, log_config=uvicorn_log_config(),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "dev":
            settings = load_settings(
                environment="development", data_dir=args.data_dir,
                base_url=args.base_url or f"http://{args.host}:{args.port}",
            )  # fmt: skip
            email, password, _ = demo_sender(settings)
            print(f"mynasign (development) on {settings.base_url}")
            print(
                f"  demo sender: {email}"
                + (f" / password {password}" if password else " (made earlier)")
            )
            token_file = Path(settings.data_dir) / "dev-api-token"
            print(f"  API token in {token_file}; API docs at {settings.base_url}/docs")
            if not settings.smtp_host:
                print(f"  mail stays in the local outbox: {settings.base_url}/dev/outbox")
            print("\n".join(card_instructions(settings)))
            _run(settings, args.host, args.port)
        elif args.command == "audit":  # issue 12
            return run_audit_command(args)
        elif args.command == "archive":  # issue 12: timestamp renewal
            return run_archive_command(args)
        elif args.command == "serve":
            settings = load_settings(environment="production")
            _run(settings, args.host, args.port)
        else:
            from webapp.db.migrate import upgrade  # noqa: PLC0415

            settings = load_settings()
            assert settings.database_url is not None  # noqa: S101
            upgrade(settings.database_url)
            print("database up to date")
    except ConfigurationError as exc:
        print(f"mynasign: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
