"""Sender accounts: sign-up, login (password and optional TOTP), API tokens, sign-out."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from webapp.audit import append_event
from webapp.db.models import ActorKind, ApiToken, User, normalize_email
from webapp.errors import ConflictError, DomainError, RateLimitedError, UnauthorizedError
from webapp.security import (
    hash_secret,
    new_token,
    new_totp_secret,
    password_problems,
    token_hash,
    verify_secret,
    verify_totp,
)
from webapp.storage import KeyEncryptionKey
from webapp.text_input import normalized_text

LOGIN_MAX_FAILURES = 5
LOGIN_LOCK = datetime.timedelta(minutes=15)


class WeakPasswordError(DomainError):
    """The password breaks the rule; `problems` are text keys."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("weak_password", problems[0])
        self.problems = problems


def check_email(email: str) -> str:
    """The address in its canonical form (as stored and compared), or `invalid_email`.

    email-validator checks the syntax: no display name or angle brackets, no quoted local
    part, no IP address literal (`a@[127.0.0.1]`), no special-use domain (`localhost`,
    `invalid`; `.test` is allowed, for development). The domain is stored in ASCII (IDNA),
    and the whole address lower-cased, as the service has always compared addresses.
    """
    candidate = email.strip()
    if len(candidate) > 254 or normalized_text(candidate) is None:
        raise DomainError("invalid_email")
    try:
        checked = validate_email(
            candidate, check_deliverability=False, allow_quoted_local=False,
            allow_domain_literal=False, allow_display_name=False, test_environment=True,
        )  # fmt: skip
    except EmailNotValidError:
        raise DomainError("invalid_email") from None
    address = (checked.ascii_email or checked.normalized).lower()
    if len(address) > 254:
        raise DomainError("invalid_email")
    return address


def sign_up(db: Session, email: str, password: str, display_name: str) -> User:
    """A new sender; the password must pass the rule."""
    address = check_email(email)
    problems = password_problems(password, address)
    if problems:
        raise WeakPasswordError(problems)
    if db.scalar(select(User).where(User.email == address)) is not None:
        raise ConflictError("email_taken")
    user = User(
        email=address,
        display_name=display_name.strip() or address,
        password_hash=hash_secret(password),
    )
    db.add(user)
    db.flush()
    append_event(db, action="account.created", actor_kind=ActorKind.SENDER, actor=user.id)
    return user


def _stored_form(email: str) -> str:
    """The address as `sign_up` stored it (its domain in IDNA), so that `taro@例え.jp`
    signs in as typed; an address that is not valid cannot match, but is looked up the
    same way (a sign-in never says which part was wrong)."""
    try:
        return check_email(email)
    except DomainError:
        return normalize_email(email)


def authenticate(
    db: Session,
    kek: KeyEncryptionKey,
    *,
    email: str,
    password: str,
    totp_code: str | None,
    now: datetime.datetime,
    ip: str | None = None,
) -> User:
    """The sender whose password (and code, when set up) match; failures count and lock."""
    user = db.scalar(select(User).where(User.email == _stored_form(email)))
    if user is None:
        verify_secret(password, hash_secret("timing-equaliser"))  # same work as a real check
        raise UnauthorizedError("login_failed")
    if user.locked_until is not None and user.locked_until > now:
        raise RateLimitedError("login_locked")
    if not verify_secret(password, user.password_hash):
        _failed(db, user, now, ip)
        raise UnauthorizedError("login_failed")
    if user.totp_secret_encrypted is not None:
        if not totp_code:
            raise UnauthorizedError("totp_required")
        secret = kek.decrypt_secret(
            user.totp_secret_encrypted, purpose=_totp_purpose(user)
        ).decode()
        if not verify_totp(secret, totp_code):
            _failed(db, user, now, ip)
            raise UnauthorizedError("totp_wrong")
    user.failed_logins = 0
    user.locked_until = None
    append_event(db, action="account.login", actor_kind=ActorKind.SENDER, actor=user.id, ip=ip)
    return user


def _totp_purpose(user: User) -> str:
    return f"totp:{user.id}"


def _failed(db: Session, user: User, now: datetime.datetime, ip: str | None) -> None:
    user.failed_logins += 1
    if user.failed_logins >= LOGIN_MAX_FAILURES:
        user.locked_until = now + LOGIN_LOCK
        user.failed_logins = 0
    append_event(
        db, action="account.login_failed", actor_kind=ActorKind.SENDER, actor=user.id, ip=ip
    )
    db.commit()  # the failure counts even though the request fails


def start_totp(db: Session, kek: KeyEncryptionKey, user: User) -> str:
    """Turn on the second factor; the secret (for the authenticator app) is returned once."""
    secret = new_totp_secret()
    user.totp_secret_encrypted = kek.encrypt_secret(secret.encode(), purpose=_totp_purpose(user))
    append_event(db, action="account.totp_enabled", actor_kind=ActorKind.SENDER, actor=user.id)
    return secret


@dataclass(frozen=True)
class IssuedToken:
    """An API token as shown once at creation; only its hash is kept."""

    id: str
    token: str


def create_api_token(db: Session, user: User, name: str) -> IssuedToken:
    token = new_token()
    row = ApiToken(user_id=user.id, name=name.strip() or "API", token_hash=token_hash(token))
    db.add(row)
    db.flush()
    append_event(
        db, action="api_token.created", actor_kind=ActorKind.SENDER, actor=user.id,
        detail={"token_id": row.id, "name": row.name},
    )  # fmt: skip
    return IssuedToken(row.id, token)


API_TOKEN_USE_RESOLUTION = datetime.timedelta(minutes=1)
"""How fresh a token's "last used" is kept: writing it on every call made every API
request, reads included, a write transaction (on SQLite, a turn at the one writer)."""


def user_for_api_token(db: Session, token: str, now: datetime.datetime) -> User:
    """The sender a bearer token belongs to; looked up by hash (the hash is the index)."""
    row = _live_api_token(db, token)
    if _use_to_record(row, now):
        row.last_used_at = now
    return row.user


def reader_for_api_token(
    db: Session, writes: sessionmaker[Session], token: str, now: datetime.datetime
) -> User:
    """`user_for_api_token` for a read-only session: the token's use, when it is due to be
    recorded, is written and committed in a short transaction of its own."""
    row = _live_api_token(db, token)
    if _use_to_record(row, now):
        with writes() as write:
            write.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
            write.commit()
    return row.user


def _live_api_token(db: Session, token: str) -> ApiToken:
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        raise UnauthorizedError("invalid_token")
    return row


def _use_to_record(row: ApiToken, now: datetime.datetime) -> bool:
    return row.last_used_at is None or now - row.last_used_at >= API_TOKEN_USE_RESOLUTION


def sign_out_everywhere(db: Session, user: User, now: datetime.datetime) -> None:
    """End every browser session and revoke every API token of the sender."""
    user.sessions_epoch += 1
    for token in user.api_tokens:
        if token.revoked_at is None:
            token.revoked_at = now
    append_event(
        db, action="account.signed_out_everywhere", actor_kind=ActorKind.SENDER, actor=user.id
    )
