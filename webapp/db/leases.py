"""Leases: work that must run once across every instance (a round, a document's closing step).

A lease is a row named after the work. Whoever inserts it, or takes it over once it has
run out, does the work; everyone else leaves it. It works the same on SQLite and
PostgreSQL (the row's primary key and a locked read decide), needs no other server, and
a crashed holder delays the work by at most the lease's length. procrastinate would give
the same on PostgreSQL only; the embedded default is SQLite, so one mechanism serves both.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from webapp.db.base import Base
from webapp.db.types import UtcDateTime

LEASE_NAME_LENGTH = 200


class Lease(Base):
    """Who holds the right to do one piece of work, until when."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(LEASE_NAME_LENGTH), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime())


def claim_lease(
    sessions: sessionmaker[Session],
    name: str,
    *,
    now: datetime.datetime,
    length: datetime.timedelta,
) -> str | None:
    """A holder token if this caller now holds the lease `name`, else None (held elsewhere)."""
    holder = secrets.token_hex(16)
    with sessions() as db:
        try:
            with db.begin():
                lease = db.scalar(select(Lease).where(Lease.name == name).with_for_update())
                if lease is None:
                    db.add(Lease(name=name, holder=holder, expires_at=now + length))
                elif lease.expires_at <= now:
                    lease.holder, lease.expires_at = holder, now + length
                else:
                    return None
        except IntegrityError:  # another instance inserted it first
            return None
    return holder


def release_lease(sessions: sessionmaker[Session], name: str, holder: str) -> None:
    """Give the lease back (only the holder's own: a taken-over lease stays)."""
    with sessions() as db, db.begin():
        db.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


@contextmanager
def leased(
    sessions: sessionmaker[Session],
    name: str,
    *,
    clock: Callable[[], datetime.datetime],
    length: datetime.timedelta,
) -> Iterator[bool]:
    """`with leased(...) as mine:` do the work only if `mine`; the lease ends with the block."""
    holder = claim_lease(sessions, name, now=clock(), length=length)
    try:
        yield holder is not None
    finally:
        if holder is not None:
            release_lease(sessions, name, holder)
