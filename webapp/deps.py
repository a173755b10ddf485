"""FastAPI dependencies: the service context, a database session, who is calling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from webapp.audit.actor import Audit
from webapp.db.models import ActorKind, User
from webapp.errors import UnauthorizedError
from webapp.services.accounts import reader_for_api_token, user_for_api_token
from webapp.services.context import ServiceContext


def get_context(request: Request) -> ServiceContext:
    context: ServiceContext = request.app.state.context
    return context


Context = Annotated[ServiceContext, Depends(get_context)]


def get_db(context: Context) -> Iterator[Session]:
    """One session per request; the request's work commits at the end if nothing failed.

    Used with `scope="function"`: the commit runs when the endpoint returns, before the
    answer is sent, so a 2xx means committed and a failed commit answers an error.
    """
    with context.sessions() as db:
        yield db
        db.commit()


Db = Annotated[Session, Depends(get_db, scope="function")]


def get_read_db(context: Context) -> Iterator[Session]:
    """A session for a request that only reads (`ServiceContext.reading`): on SQLite it
    does not queue behind writers, which a list or status request has no reason to do."""
    with context.reading() as db:
        yield db


ReadDb = Annotated[Session, Depends(get_read_db, scope="function")]


def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    """The token of `Authorization: Bearer <token>`."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("login_required")
    return token.strip()


BearerToken = Annotated[str, Depends(bearer_token)]


def api_sender(db: Db, context: Context, token: BearerToken) -> User:
    """The sender of a bearer API token; committed at once, so no lock outlives the check
    (SQLite takes its write lock per transaction, and a send or seal may take seconds)."""
    user = user_for_api_token(db, token, context.now())
    db.commit()
    return user


ApiSender = Annotated[User, Depends(api_sender)]


def api_reader(db: ReadDb, context: Context, token: BearerToken) -> User:
    """`api_sender` for routes that only read (with `ReadDb`)."""
    return reader_for_api_token(db, context.sessions, token, context.now())


ApiReader = Annotated[User, Depends(api_reader)]


def client(request: Request) -> tuple[str | None, str | None]:
    return (request.client.host if request.client else None, request.headers.get("user-agent"))


def sender_audit(request: Request, sender: ApiSender) -> Audit:
    ip, agent = client(request)
    return Audit(ActorKind.SENDER, sender.id, ip, agent)


SenderAudit = Annotated[Audit, Depends(sender_audit)]
