"""`mynasign archive renew [--before DAYS]`: one renewal round now, from the command line.

It opens the service as configured (`MYNASIGN_*`, the database, files, seal key and TSA),
runs one round of `renew_due` and prints what it renewed. Running it while the service
runs is safe: a document is claimed by one process at a time (`webapp.archive.renewal`).
Exit 0 when nothing failed, 1 when a document could not be renewed (named on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from webapp.archive.renewal import DEFAULT_WINDOW_DAYS, RenewalReport, renew_due


def add_archive_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    archive = commands.add_parser("archive", help="long-term archive: renew document timestamps")
    actions = archive.add_subparsers(dest="archive_command", required=True)
    renew = actions.add_parser(
        "renew",
        help="add validation data and a new document timestamp to every finished document "
        "whose newest timestamp's TSA certificate ends within DAYS, or is weak",
    )
    renew.add_argument(
        "--before", type=int, default=DEFAULT_WINDOW_DAYS, metavar="DAYS",
        help=f"the window in days (default {DEFAULT_WINDOW_DAYS})",
    )  # fmt: skip


async def _round(days: int) -> RenewalReport:
    from webapp.runtime import open_runtime  # noqa: PLC0415 - the whole service, on demand
    from webapp.settings import load_settings  # noqa: PLC0415

    async with open_runtime(load_settings()) as runtime:
        return await renew_due(runtime.context, window_days=days)


def run_archive_command(args: argparse.Namespace) -> int:
    if args.before < 0:
        print("mynasign archive renew: --before must be 0 or more days", file=sys.stderr)
        return 2
    report = asyncio.run(_round(args.before))
    for document_id in report.renewed:
        print(f"renewed {document_id}")
    for document_id, code in report.failed.items():
        print(f"NOT renewed {document_id}: {code}", file=sys.stderr)
    print(f"{report.examined} examined, {len(report.renewed)} renewed, {len(report.failed)} failed")
    return 1 if report.failed else 0
