"""`mynasign audit export FILE` and `mynasign audit verify FILE --tsa-cert PEM`.

Export reads the service's database (settings from `MYNASIGN_*`, as `mynasign db`).
Verify needs nothing but the file and the TSA's certificate(s): exit 0 when the chain is
whole, 1 naming the first broken event, 2 when the files cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

EXIT_WHOLE, EXIT_BROKEN, EXIT_UNREADABLE = 0, 1, 2


def add_audit_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `audit` command group, for `webapp.cli`."""
    audit = commands.add_parser(
        "audit", help="the audit log: export it with its timestamps, verify an export offline"
    )
    group = audit.add_subparsers(dest="audit_command", required=True)
    export = group.add_parser("export", help="write the audit chain and its TSA tokens to FILE")
    export.add_argument("file", type=Path)
    verify = group.add_parser(
        "verify", help="check an export offline: every hash, link and timestamp token"
    )
    verify.add_argument("file", type=Path)
    verify.add_argument(
        "--tsa-cert", type=Path, required=True, action="append", metavar="PEM",
        help="the TSA's certificate, or its root (PEM; may be given more than once)",
    )  # fmt: skip


def run_audit_command(args: argparse.Namespace) -> int:
    if args.audit_command == "export":
        return _export(args.file)
    return _verify(args.file, args.tsa_cert)


def _export(path: Path) -> int:
    from webapp.audit.export import export_chain  # noqa: PLC0415 - loads the database layer
    from webapp.db.engine import make_engine  # noqa: PLC0415
    from webapp.db.types import utc_now  # noqa: PLC0415
    from webapp.runtime import database_url  # noqa: PLC0415
    from webapp.settings import load_settings  # noqa: PLC0415

    settings = load_settings()
    engine = make_engine(database_url(settings))
    try:
        with path.open("wb") as output:
            summary = export_chain(engine, output, now=utc_now())
    except OSError as exc:
        print(f"mynasign: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        engine.dispose()
    head = f"head seq {summary.head.seq} {summary.head.hash}" if summary.head else "empty"
    print(f"exported {summary.events} events and {summary.anchors} timestamps to {path} ({head})")
    return EXIT_WHOLE


def _verify(path: Path, certificate_files: list[Path]) -> int:
    from webapp.audit.export import verify_export  # noqa: PLC0415

    try:
        certificates = [der for file in certificate_files for der in _pem_certificates(file)]
    except (OSError, ValueError) as exc:
        print(f"mynasign: cannot read the TSA certificate: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        with path.open("rb") as lines:
            report = verify_export(lines, certificates)
    except OSError as exc:
        print(f"mynasign: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    if not report.ok:
        where = f"event seq {report.first_bad_seq}" if report.first_bad_seq else "the file"
        print(f"BROKEN at {where}: {report.reason}")
        print(f"改ざんまたは欠落があります（{where}）。")
        return EXIT_BROKEN
    print(f"whole: {report.events} events, {report.anchors} timestamps checked")
    if report.last_anchored_seq is not None and report.last_anchored_at is not None:
        print(
            f"events up to seq {report.last_anchored_seq} are proven by the TSA's timestamp of "
            f"{report.last_anchored_at.isoformat()}"
        )
    if report.last_anchored_seq is None or report.last_anchored_seq < report.events:
        after = report.last_anchored_seq or 0
        print(f"events after seq {after} are not covered by a timestamp yet")
    print("改ざんは見つかりませんでした。")
    return EXIT_WHOLE


def _pem_certificates(path: Path) -> list[bytes]:
    found = x509.load_pem_x509_certificates(path.read_bytes())
    return [certificate.public_bytes(Encoding.DER) for certificate in found]
