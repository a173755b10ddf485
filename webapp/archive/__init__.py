"""Keeping finished documents verifiable for decades: renewing their document timestamps.

    await renew_due(ctx, window_days=365) -> RenewalReport   (roots: the sealer's)
    renewal_task(ctx) -> PeriodicTask                        the lifespan's daily round
    `mynasign archive renew [--before DAYS]`                 one round from the command line

A finished document is renewed when the certificate of the TSA behind its newest
document timestamp ends within the window, or that timestamp relies on a weak
algorithm (SHA-1, MD5, RSA under 2048 bits): the timestamp's validation data goes into
the DSS and a new document timestamp covers everything (PAdES B-LTA, ETSI EN 319 142-1).
The result is the document's next revision and an audit event `document.timestamp_renewed`.
"""

from __future__ import annotations

from collections.abc import Sequence

from webapp.archive.pdf import NewestTimestamp, newest_timestamp, renew_archive_timestamp
from webapp.archive.renewal import DEFAULT_WINDOW_DAYS, RENEWED_ACTION, RenewalReport, renew_due
from webapp.services.context import ServiceContext
from webapp.services.periodic import PeriodicTask

RENEWAL_INTERVAL_SECONDS = 6 * 3600.0
"""Rounds run every six hours: a day's delay never matters against a window of a year."""


def renewal_task(
    ctx: ServiceContext,
    trust_roots: Sequence[bytes] | None = None,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    interval: float = RENEWAL_INTERVAL_SECONDS,
) -> PeriodicTask:
    """The background task running `renew_due`; safe on every instance at once."""

    async def round_() -> None:
        await renew_due(ctx, trust_roots, window_days=window_days)

    return PeriodicTask("archive-renewal", round_, interval)


__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "RENEWED_ACTION",
    "NewestTimestamp",
    "RenewalReport",
    "newest_timestamp",
    "renew_archive_timestamp",
    "renew_due",
    "renewal_task",
]
