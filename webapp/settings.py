"""Settings of the web service: `MYNASIGN_*` environment variables, validated once at start.

`load_settings()` reads the environment and either returns complete settings or raises one
`ConfigurationError` that lists every problem (unknown variables named, missing ones named,
bad ones explained). Production refuses development secrets and incomplete setups;
development generates its secrets once and keeps them in `<data_dir>/dev-secrets.json`.
Every field is documented, with its variable, in `docs/operations.md`.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import functools
import ipaddress
import json
import logging
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from cryptography import x509
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

logger = logging.getLogger(__name__)

ENV_PREFIX = "MYNASIGN_"
NOT_SETTINGS_PREFIX = "MYNASIGN_TEST_"  # knobs of the test suite; the service never reads them
DEV_SECRETS_FILE = "dev-secrets.json"
DEV_KEK_MARKER = b"mynasign-dev-kek"  # a generated development KEK starts with these 16 bytes
DEV_SESSION_SECRET_PREFIX = "dev-insecure-"  # noqa: S105 (a marker, not a secret)
DEFAULT_MAIL_FROM = "mynasign <no-reply@localhost>"
MAKE_KEK = "python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'"
MAKE_RANDOM_TEXT = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
SECRET_FIELDS = frozenset({"kek", "session_secret", "smtp_password", "seal_pkcs11_pin"})

Environment = Literal["development", "production"]
SmtpSecurity = Literal["starttls", "tls", "none"]
RevocationMethod = Literal["ocsp", "crl", "none", "development"]
Storage = Literal["local", "s3"]
PathList = Annotated[list[Path], NoDecode]
ANDROID_PACKAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")  # issue 11
IOS_APP_ID = re.compile(r"[A-Z0-9]{10}\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")  # issue 11
Problem = tuple[frozenset[str], str]  # the fields involved, and what is wrong


class ConfigurationError(Exception):
    """The configuration cannot be used; `problems` says every reason, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"mynasign cannot start; fix the configuration:\n{lines}")


class _CrossFieldError(ValueError):
    """Cross-field problems found by the model validator: (fields involved, message) pairs."""

    def __init__(self, items: list[Problem]) -> None:
        super().__init__("; ".join(message for _, message in items))
        self.items = items


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return f"{ENV_PREFIX}{field.upper()}"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host name")
    return value


def _decoded_size(text: str) -> int | None:
    try:
        return len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return None


def _is_kek(text: str) -> bool:
    return _decoded_size(text) == 32


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Every setting of the service; see `docs/operations.md` for each one's meaning."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", env_ignore_empty=True, hide_input_in_errors=True
    )

    environment: Environment = "development"
    data_dir: Path = Path("var")
    database_url: str | None = None
    base_url: str = "http://127.0.0.1:8000"

    smtp_host: str | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_security: SmtpSecurity = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_file: Path | None = None
    smtp_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    mail_from: str = DEFAULT_MAIL_FROM

    tsa_url: str | None = None

    seal_key_file: Path | None = None
    seal_cert_file: Path | None = None
    seal_chain_files: PathList = []
    seal_pkcs11_module: Path | None = None
    seal_pkcs11_token: str | None = None
    seal_pkcs11_key_label: str | None = None
    seal_pkcs11_pin: SecretStr | None = None

    kek: SecretStr | None = None
    session_secret: SecretStr | None = None

    # issue 9: many people at once
    worker_threads: Annotated[int, Field(ge=4, le=1000)] = 100
    """Blocking calls (database, files, PDF) that may run at once in worker threads."""
    pdf_processes: Annotated[int, Field(ge=0, le=64)] = 2
    """Worker processes for PDF steps (stamp, seals, card signatures, closing steps); 0 runs
    them in the server's own threads (tools and tests that replace the sealer)."""
    pdf_concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    """PDF steps running at once in the server's threads (`pdf_processes` = 0 only)."""
    loop_stall_warning_ms: Annotated[int, Field(ge=10, le=60_000)] = 100
    """An event loop step longer than this is logged as a warning (it delays everyone)."""
    loop_step_timing: bool = False
    """Time every step of the event loop (asyncio debug mode; load tests, not production)."""
    database_write_wait_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    """SQLite: how long a write waits for its turn in this process before answering 503."""
    database_pool_size: Annotated[int, Field(ge=1, le=500)] = 20
    """PostgreSQL connections kept per instance (as many more may open under load)."""

    max_upload_bytes: Annotated[int, Field(gt=0)] = 20 * 1024 * 1024
    max_pages: Annotated[int, Field(gt=0)] = 1000
    request_validity_days: Annotated[int, Field(ge=1, le=366)] = 14
    access_code_max_attempts: Annotated[int, Field(ge=1)] = 5
    access_code_lock_minutes: Annotated[int, Field(ge=1)] = 15
    # issue 10: abuse limits (access-code escalation, rate limits on the open doors)
    access_code_max_total: Annotated[int, Field(ge=1, le=20)] = 20
    """Wrong access codes over a link's life before it stays locked (sender issues a new one)."""
    redis_url: str | None = None
    """Where rate-limit counters are shared across instances; unset: this process's memory."""
    rate_limit_signup: str = "10/hour"
    rate_limit_login: str = "20/minute;100/hour"
    rate_limit_recipient_open: str = "30/minute;300/hour"
    rate_limit_access_code: str = "10/minute;60/hour"
    rate_limit_card_session: str = "20/minute;200/hour"
    rate_limit_bridge_hello: str = "30/minute;300/hour"
    rate_limits_enabled: bool = True

    @field_validator(
        "rate_limit_signup", "rate_limit_login", "rate_limit_recipient_open",
        "rate_limit_access_code", "rate_limit_card_session", "rate_limit_bridge_hello",
    )  # fmt: skip
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        from limits import parse_many  # noqa: PLC0415 - the server extra only

        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must be rates like '10/minute;100/hour'") from None
        return value

    card_trust_anchor_files: PathList = []
    revocation: str | None = None
    revocation_opt_out: bool = False

    # --- file storage (issue 9): where encrypted files are kept --------------------------
    storage: Storage = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None

    # --- the companion app (issue 11): app links and where to get the app ----------------
    android_app_package: str | None = None
    """The Android app's package name, for /.well-known/assetlinks.json (App Links)."""
    android_cert_sha256: Annotated[list[str], NoDecode] = []
    """SHA-256 fingerprints of the Android app's signing certificate(s), comma-separated."""
    ios_app_id: str | None = None
    """`TEAMID.bundle.id` of the iOS app, for /.well-known/apple-app-site-association."""
    app_store_url: str | None = None
    play_store_url: str | None = None
    pc_app_url: str | None = None
    """Where the PC app (Windows, macOS, Linux) is downloaded; unset: the pip instructions."""

    @field_validator("android_app_package")
    @classmethod
    def _check_android_package(cls, value: str | None) -> str | None:
        if value is not None and ANDROID_PACKAGE.fullmatch(value.strip()) is None:
            raise ValueError("must be an Android package name such as jp.example.mynasign")
        return None if value is None else value.strip()

    @field_validator("android_cert_sha256", mode="before")
    @classmethod
    def _check_android_cert(cls, value: Any) -> Any:
        """Fingerprints as `AA:BB:…` (32 bytes), separated by commas; colons optional."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            return value
        fingerprints = []
        for item in value:
            digits = str(item).replace(":", "").strip().upper()
            if re.fullmatch(r"[0-9A-F]{64}", digits) is None:
                raise ValueError(
                    "each must be a SHA-256 fingerprint: 32 hex bytes (AA:BB:…), "
                    "as `keytool -list -v` prints it"
                )
            fingerprints.append(":".join(digits[i : i + 2] for i in range(0, 64, 2)))
        return fingerprints

    @field_validator("ios_app_id")
    @classmethod
    def _check_ios_app_id(cls, value: str | None) -> str | None:
        if value is not None and IOS_APP_ID.fullmatch(value.strip()) is None:
            raise ValueError("must be TEAMID.bundle.id (a 10-character team ID, a dot, the id)")
        return None if value is None else value.strip()

    @field_validator("app_store_url", "play_store_url", "pc_app_url")
    @classmethod
    def _check_app_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value.strip())

    @field_validator("seal_chain_files", "card_trust_anchor_files", mode="before")
    @classmethod
    def _split_path_list(cls, value: Any) -> Any:
        """A JSON list, or paths separated by commas."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(_http_url(value.strip()))
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or a fragment")
        return value.strip().rstrip("/")

    @field_validator("tsa_url")
    @classmethod
    def _check_tsa_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value.strip())

    @field_validator("s3_endpoint_url")
    @classmethod
    def _check_s3_endpoint_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value.strip()).rstrip("/")

    @field_validator("mail_from")
    @classmethod
    def _check_mail_from(cls, value: str) -> str:
        if "\r" in value or "\n" in value or "@" not in parseaddr(value)[1]:
            raise ValueError("must be an e-mail address, optionally with a name: 'Name <a@b.jp>'")
        return value.strip()

    @field_validator("kek")
    @classmethod
    def _check_kek(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            size = _decoded_size(value.get_secret_value())
            if size is None:
                raise ValueError(f"must be base64 (make one with: {MAKE_KEK})")
            if size != 32:
                raise ValueError(f"must encode exactly 32 bytes, not {size} ({MAKE_KEK})")
        return value

    @field_validator("session_secret")
    @classmethod
    def _check_session_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(f"must be at least 32 characters (make one with: {MAKE_RANDOM_TEXT})")
        return value

    @field_validator("revocation")
    @classmethod
    def _check_revocation(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if value.lower() == "none":
            return "none"
        if value.lower().startswith(("http:", "https:")):
            return _http_url(value)
        return value

    @model_validator(mode="after")
    def _check_together(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'mynasign.db'}"
        problems = list(_problems(self))
        if problems:
            raise _CrossFieldError(problems)
        return self

    # --- derived values --------------------------------------------------------------

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def dev_secrets_path(self) -> Path:
        return self.data_dir / DEV_SECRETS_FILE

    @property
    def seal_mode(self) -> Literal["pkcs11", "key_file"] | None:
        """Where the platform seal key is: a PKCS#11 token, a key file, or not configured."""
        if self.seal_pkcs11_module is not None:
            return "pkcs11"
        return "key_file" if self.seal_key_file is not None else None

    @property
    def revocation_method(self) -> RevocationMethod:
        """How card certificates are checked; `development` means the dev PKI's services."""
        if self.revocation is None:
            return "development"
        if self.revocation == "none":
            return "none"
        return "ocsp" if self.revocation.lower().startswith("http") else "crl"

    @property
    def kek_bytes(self) -> bytes:
        """The 32-byte key-encryption key."""
        if self.kek is None:
            raise RuntimeError("no key-encryption key: take the settings from load_settings()")
        return base64.b64decode(self.kek.get_secret_value())

    @property
    def session_secret_value(self) -> str:
        if self.session_secret is None:
            raise RuntimeError("no session secret: take the settings from load_settings()")
        return self.session_secret.get_secret_value()

    def warnings(self) -> list[str]:
        """Allowed but risky choices, logged loudly at start."""
        found = []
        if self.is_production and self.revocation == "none":
            found.append(
                "card certificates are NOT checked for revocation "
                f"({env_name('revocation_opt_out')}=true): a revoked card's signature is accepted"
            )
        if self.is_production and self.seal_mode == "key_file":
            found.append("the platform seal key is a file; an HSM through PKCS#11 is safer")
        return found


def _problem(message: str, *fields: str) -> Problem:
    """A problem and the fields it involves (so it can be left out when one of them is bad)."""
    return frozenset(fields), message


def _unknown_variables(environ: Mapping[str, str]) -> Iterator[Problem]:
    known = {env_name(field) for field in Settings.model_fields}
    for name in sorted(environ):
        upper = name.upper()
        if (
            upper.startswith(ENV_PREFIX)
            and not upper.startswith(NOT_SETTINGS_PREFIX)
            and upper not in known
        ):
            close = difflib.get_close_matches(upper, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            yield _problem(f"{name} is not a setting of mynasign{hint}")


def _file_problems(settings: Settings) -> Iterator[Problem]:
    single = ("seal_key_file", "seal_cert_file", "seal_pkcs11_module", "smtp_ca_file")
    for field in single:
        path = getattr(settings, field)
        if path is not None and not path.is_file():
            yield _problem(f"{env_name(field)}: no such file: {path}", field)
    for path in settings.seal_chain_files:
        if not path.is_file():
            yield _problem(
                f"{env_name('seal_chain_files')}: no such file: {path}", "seal_chain_files"
            )
    anchors = "card_trust_anchor_files"
    for path in settings.card_trust_anchor_files:
        try:
            x509.load_pem_x509_certificates(path.read_bytes())
        except OSError:
            yield _problem(f"{env_name(anchors)}: cannot read {path}", anchors)
        except ValueError:
            yield _problem(f"{env_name(anchors)}: {path} holds no PEM certificate", anchors)
    if settings.revocation_method == "crl" and not Path(str(settings.revocation)).is_file():
        message = "neither an http(s) OCSP URL, 'none', nor an existing CRL file"
        yield _problem(f"{env_name('revocation')}: {message}: {settings.revocation}", "revocation")


def _seal_problems(settings: Settings) -> Iterator[Problem]:
    file_fields = ("seal_key_file", "seal_cert_file")
    token_fields = (
        "seal_pkcs11_module",
        "seal_pkcs11_token",
        "seal_pkcs11_key_label",
        "seal_pkcs11_pin",
    )
    given_file = [f for f in file_fields if getattr(settings, f) is not None]
    given_token = [f for f in token_fields if getattr(settings, f) is not None]
    involved = file_fields + token_fields
    if given_file and given_token:
        names = ", ".join(env_name(f) for f in given_file + given_token)
        message = f"choose one seal key: a key file or a PKCS#11 token, not both ({names})"
        yield _problem(message, *involved)
    elif given_file or given_token:
        kind, fields = ("a seal key file", file_fields) if given_file else ("PKCS#11", token_fields)
        for field in fields:
            if getattr(settings, field) is None:
                yield _problem(f"{env_name(field)} is required with {kind}", *involved)
    elif settings.is_production:
        names = ", ".join(env_name(f) for f in token_fields)
        files = f"{env_name('seal_key_file')} and {env_name('seal_cert_file')}"
        yield _problem(f"production needs the platform seal key: {names} (or {files})", *involved)
    key_file = settings.seal_key_file
    if (
        settings.is_production
        and key_file is not None
        and key_file.is_file()
        and stat.S_IMODE(key_file.stat().st_mode) & 0o077
    ):
        message = f"{key_file} is readable by others (chmod 600 it)"
        yield _problem(f"{env_name('seal_key_file')}: {message}", "seal_key_file")


def _secret_problems(settings: Settings) -> Iterator[Problem]:
    if not settings.is_production:
        return
    kek_name, secret_name = env_name("kek"), env_name("session_secret")
    if settings.kek is None:
        yield _problem(f"{kek_name} is required in production (make one: {MAKE_KEK})", "kek")
    elif settings.kek_bytes.startswith(DEV_KEK_MARKER):
        yield _problem(f"{kek_name} is a development key; production needs its own", "kek")
    elif len(set(settings.kek_bytes)) < 8:
        yield _problem(f"{kek_name} is not random (make one: {MAKE_KEK})", "kek")
    secret = settings.session_secret
    if secret is None:
        message = f"{secret_name} is required in production (make one: {MAKE_RANDOM_TEXT})"
        yield _problem(message, "session_secret")
    elif secret.get_secret_value().startswith(DEV_SESSION_SECRET_PREFIX):
        yield _problem(f"{secret_name} is a development secret", "session_secret")
    elif len(set(secret.get_secret_value())) < 10:
        yield _problem(
            f"{secret_name} is not random (make one: {MAKE_RANDOM_TEXT})", "session_secret"
        )


def _revocation_problems(settings: Settings) -> Iterator[Problem]:
    method, opt_out = env_name("revocation"), env_name("revocation_opt_out")
    fields = ("revocation", "revocation_opt_out")
    if settings.revocation_opt_out and settings.revocation != "none":
        yield _problem(f"{opt_out}=true only goes with {method}=none", *fields)
    if settings.revocation == "none" and not settings.revocation_opt_out:
        message = f"{method}=none turns off revocation checks of card certificates"
        yield _problem(f"{message}; say so explicitly with {opt_out}=true", *fields)
    if settings.is_production and settings.revocation is None:
        message = f"{method} is required in production: an OCSP URL or a CRL file"
        yield _problem(f"{message} (or none, with {opt_out}=true)", *fields)


def _storage_problems(settings: Settings) -> Iterator[Problem]:
    """File storage (issue 9): S3 needs its bucket; the S3 settings only go with S3."""
    storage = env_name("storage")
    fields = ("storage", "s3_bucket", "s3_endpoint_url", "s3_region")
    if settings.storage == "s3" and not settings.s3_bucket:
        message = f"{env_name('s3_bucket')} is required with {storage}=s3 (the bucket's name)"
        yield _problem(message, *fields)
    if settings.storage != "s3":
        for field in fields[1:]:
            if getattr(settings, field) is not None:
                message = f"{env_name(field)} only goes with {storage}=s3"
                yield _problem(f"{message} (files are kept in the data directory)", *fields)


def _production_problems(settings: Settings) -> Iterator[Problem]:
    if not settings.is_production:
        return
    base = urlsplit(settings.base_url)
    if base.scheme != "https" and not _is_loopback(base.hostname or ""):
        message = f"must be https:// in production (got {settings.base_url})"
        yield _problem(f"{env_name('base_url')} {message}", "base_url")
    for field in ("tsa_url", "smtp_host"):
        if getattr(settings, field) is None:
            yield _problem(f"{env_name(field)} is required in production", field)
    if settings.mail_from == DEFAULT_MAIL_FROM:
        yield _problem(f"{env_name('mail_from')} is required in production", "mail_from")
    if settings.smtp_security == "none" and settings.smtp_password is not None:
        message = f"{env_name('smtp_security')}=none would send the SMTP password in the clear"
        yield _problem(message, "smtp_security", "smtp_password")


def _problems(settings: Settings) -> Iterator[Problem]:
    yield from _unknown_variables(os.environ)
    yield from _file_problems(settings)
    yield from _seal_problems(settings)
    yield from _secret_problems(settings)
    yield from _revocation_problems(settings)
    yield from _storage_problems(settings)
    yield from _production_problems(settings)
    if bool(settings.android_app_package) != bool(settings.android_cert_sha256):  # issue 11
        message = (
            f"{env_name('android_app_package')} and {env_name('android_cert_sha256')} go together"
        )
        yield _problem(message, "android_app_package", "android_cert_sha256")
    if (settings.smtp_username is None) != (settings.smtp_password is None):
        message = f"{env_name('smtp_username')} and {env_name('smtp_password')} go together"
        yield _problem(message, "smtp_username", "smtp_password")


def _field_problem(error: Mapping[str, Any]) -> tuple[str, str]:
    field = str(error["loc"][0])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return field, f"{field} is not a setting of mynasign"
    if field not in SECRET_FIELDS and isinstance(error.get("input"), str | int | float):
        message = f"{message} (got {error['input']!r})"
    return field, f"{env_name(field)}: {message}"


def _collect(error: ValidationError) -> tuple[set[str], list[Problem]]:
    """The fields that failed on their own, and every problem (field and cross-field)."""
    bad_fields: set[str] = set()
    problems: list[Problem] = []
    for item in error.errors():
        cause = item.get("ctx", {}).get("error")
        if not item["loc"] and isinstance(cause, _CrossFieldError):
            problems.extend(cause.items)
        else:
            field, message = _field_problem(item)
            bad_fields.add(field)
            problems.append((frozenset({field}), message))
    return bad_fields, problems


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (`overrides` win, e.g. CLI options), complete or refused."""
    try:
        settings = Settings(**overrides)
    except ValidationError as first:
        bad_fields, problems = _collect(first)
        known = Settings.model_fields
        # Check the rest with defaults in place of the bad values, so every problem is named.
        defaults = {f: known[f].get_default() for f in bad_fields if f in known}
        if bad_fields:
            try:
                Settings(**{k: v for k, v in overrides.items() if k in known} | defaults)
            except ValidationError as second:
                problems.extend(p for p in _collect(second)[1] if not p[0] & bad_fields)
        raise ConfigurationError(list(dict.fromkeys(message for _, message in problems))) from None
    if not settings.is_production and (settings.kek is None or settings.session_secret is None):
        stored = _dev_secrets(settings.dev_secrets_path)
        settings = settings.model_copy(
            update={
                "kek": settings.kek if settings.kek is not None else SecretStr(stored["kek"]),
                "session_secret": settings.session_secret
                if settings.session_secret is not None
                else SecretStr(stored["session_secret"]),
            }
        )
    for warning in settings.warnings():
        logger.warning("configuration: %s", warning)
    return settings


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; tests override or `get_settings.cache_clear()`."""
    return load_settings()


def _dev_secrets(path: Path) -> dict[str, str]:
    """Development secrets, made on first start and kept so encrypted files stay readable."""
    if path.exists():
        return _read_dev_secrets(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fresh = {
        "kek": base64.b64encode(DEV_KEK_MARKER + secrets.token_bytes(16)).decode(),
        "session_secret": DEV_SESSION_SECRET_PREFIX + secrets.token_urlsafe(32),
    }
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".dev-secrets-")  # 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(fresh, stream)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)  # atomic: of two processes starting at once, one wins
        except FileExistsError:
            return _read_dev_secrets(path)
    finally:
        os.unlink(temporary)
    return fresh


def _read_dev_secrets(path: Path) -> dict[str, str]:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
    damaged = ConfigurationError(
        [
            f"{path} is damaged; it holds the development key-encryption key, so delete it only "
            "together with the development data it encrypts"
        ]
    )
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise damaged from None
    if not isinstance(stored, dict) or not all(
        isinstance(stored.get(key), str) for key in ("kek", "session_secret")
    ):
        raise damaged
    if not _is_kek(stored["kek"]) or len(stored["session_secret"]) < 32:
        raise damaged
    return {"kek": stored["kek"], "session_secret": stored["session_secret"]}
