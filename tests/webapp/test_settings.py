"""Settings: defaults, development secrets, unknown variables, and every production refusal."""

from __future__ import annotations

import base64
import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from webapp.settings import (
    DEV_KEK_MARKER,
    MAKE_KEK,
    MAKE_RANDOM_TEXT,
    ConfigurationError,
    Settings,
    env_name,
    get_settings,
    load_settings,
)

REPO = Path(__file__).resolve().parents[2]
RANDOM_KEK = base64.b64encode(os.urandom(32)).decode()
RANDOM_SECRET = base64.urlsafe_b64encode(os.urandom(36)).decode()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No MYNASIGN_* from outside; the working directory (and so ./var) is the test's own."""
    for name in list(os.environ):
        if name.upper().startswith("MYNASIGN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """A complete production configuration in the environment; tests take parts away."""
    module = tmp_path / "libhsm.so"
    module.write_bytes(b"\x7fELF")
    values = {
        "ENVIRONMENT": "production",
        "DATA_DIR": str(tmp_path / "data"),
        "BASE_URL": "https://sign.example.jp",
        "SMTP_HOST": "mail.example.jp",
        "SMTP_USERNAME": "mynasign",
        "SMTP_PASSWORD": "smtp-password",
        "MAIL_FROM": "mynasign <no-reply@sign.example.jp>",
        "TSA_URL": "https://tsa.example.jp/tsa",
        "SEAL_PKCS11_MODULE": str(module),
        "SEAL_PKCS11_TOKEN": "mynasign-seal",
        "SEAL_PKCS11_KEY_LABEL": "seal",
        "SEAL_PKCS11_PIN": "123456",
        "KEK": RANDOM_KEK,
        "SESSION_SECRET": RANDOM_SECRET,
        "REVOCATION": "http://ocsp.example.jp",
    }
    for name, value in values.items():
        monkeypatch.setenv(f"MYNASIGN_{name}", value)
    return values


def problems(**overrides: object) -> list[str]:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(**overrides)
    return raised.value.problems


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.environment == "development" and not settings.is_production
    assert settings.data_dir == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path}/var/mynasign.db"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.smtp_host is None
    assert (settings.smtp_port, settings.smtp_security) == (587, "starttls")
    assert settings.tsa_url is None and settings.seal_mode is None
    assert settings.max_upload_bytes == 20 * 1024 * 1024
    assert settings.max_pages == 1000
    assert settings.request_validity_days == 14
    assert (settings.access_code_max_attempts, settings.access_code_lock_minutes) == (5, 15)
    assert settings.card_trust_anchor_files == [] and settings.seal_chain_files == []
    assert settings.revocation_method == "development"


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    chain = [tmp_path / "ca1.pem", tmp_path / "ca2.pem"]
    monkeypatch.setenv("MYNASIGN_SMTP_PORT", "2525")
    monkeypatch.setenv("MYNASIGN_BASE_URL", "https://sign.example.jp/")
    monkeypatch.setenv("MYNASIGN_DATABASE_URL", "postgresql://db/mynasign")
    monkeypatch.setenv("mynasign_max_pages", "10")  # names are not case-sensitive
    monkeypatch.setenv("MYNASIGN_SMTP_HOST", "")  # empty is unset
    monkeypatch.setenv("MYNASIGN_SEAL_CHAIN_FILES", f"{chain[0]}, {chain[1]}")
    monkeypatch.setenv("MYNASIGN_TEST_ANYTHING", "the test suite's own knobs are not settings")
    for path in chain:
        path.write_text("x")
    settings = load_settings()
    assert settings.smtp_port == 2525 and settings.max_pages == 10
    assert settings.base_url == "https://sign.example.jp"
    assert settings.database_url == "postgresql://db/mynasign"
    assert settings.smtp_host is None
    assert settings.seal_chain_files == chain
    monkeypatch.setenv("MYNASIGN_SEAL_CHAIN_FILES", json.dumps([str(p) for p in chain]))
    assert load_settings().seal_chain_files == chain


def test_development_secrets_are_made_once_and_kept(tmp_path: Path) -> None:
    first = load_settings()
    path = tmp_path / "var" / "dev-secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.kek_bytes) == 32 and first.kek_bytes.startswith(DEV_KEK_MARKER)
    assert len(first.session_secret_value) >= 32

    again = load_settings()
    assert again.kek_bytes == first.kek_bytes
    assert again.session_secret_value == first.session_secret_value

    elsewhere = load_settings(data_dir=tmp_path / "other")
    assert elsewhere.kek_bytes != first.kek_bytes
    assert elsewhere.session_secret_value != first.session_secret_value


def test_development_secrets_given_are_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MYNASIGN_KEK", RANDOM_KEK)
    monkeypatch.setenv("MYNASIGN_SESSION_SECRET", RANDOM_SECRET)
    settings = load_settings()
    assert settings.kek_bytes == base64.b64decode(RANDOM_KEK)
    assert settings.session_secret_value == RANDOM_SECRET
    assert not (tmp_path / "var" / "dev-secrets.json").exists()


def test_loose_development_secrets_file_is_tightened(tmp_path: Path) -> None:
    load_settings()
    path = tmp_path / "var" / "dev-secrets.json"
    path.chmod(0o644)
    load_settings()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", ["{", "[]", '{"kek": "short", "session_secret": "x"}'])
def test_damaged_development_secrets_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "var" / "dev-secrets.json"
    path.parent.mkdir()
    path.write_text(content)
    [problem] = problems()
    assert str(path) in problem and "damaged" in problem
    assert path.read_text() == content  # never silently replaced


def test_unknown_variables_are_refused_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYNASIGN_SMTP_HOTS", "mail.example.jp")
    monkeypatch.setenv("MYNASIGN_NONSENSE", "1")
    found = problems()
    assert any("MYNASIGN_SMTP_HOTS" in p and "MYNASIGN_SMTP_HOST?" in p for p in found)
    assert any("MYNASIGN_NONSENSE" in p for p in found)
    assert len(found) == 2


def test_unknown_keyword_is_refused() -> None:
    assert problems(smtp_hots="x") == ["smtp_hots is not a setting of mynasign"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SMTP_PORT", "smtp", "MYNASIGN_SMTP_PORT: Input should be a valid integer"),
        ("SMTP_PORT", "70000", "MYNASIGN_SMTP_PORT: Input should be less than or equal to"),
        ("SMTP_SECURITY", "ssl", "MYNASIGN_SMTP_SECURITY: Input should be 'starttls'"),
        ("ENVIRONMENT", "prod", "MYNASIGN_ENVIRONMENT: Input should be 'development'"),
        ("BASE_URL", "sign.example.jp", "MYNASIGN_BASE_URL: must be an http:// or https://"),
        ("TSA_URL", "ftp://tsa", "MYNASIGN_TSA_URL: must be an http:// or https://"),
        ("MAIL_FROM", "nobody", "MYNASIGN_MAIL_FROM: must be an e-mail address"),
        ("KEK", "not base64!", "MYNASIGN_KEK: must be base64"),
        ("KEK", base64.b64encode(b"16 bytes only!!!").decode(), "exactly 32 bytes, not 16"),
        ("SESSION_SECRET", "short", "MYNASIGN_SESSION_SECRET: must be at least 32"),
        ("MAX_PAGES", "0", "MYNASIGN_MAX_PAGES: Input should be greater than 0"),
        ("SEAL_KEY_FILE", "/nonexistent/key.pem", "MYNASIGN_SEAL_KEY_FILE: no such file"),
        ("REVOCATION", "/nonexistent.crl", "nor an existing CRL file"),
        ("CARD_TRUST_ANCHOR_FILES", "/nonexistent.pem", "cannot read /nonexistent.pem"),
    ],
)
def test_bad_values_are_explained(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(f"MYNASIGN_{name}", value)
    found = problems()
    assert any(expected in p for p in found), found


def test_secret_values_never_appear_in_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYNASIGN_KEK", "SECRET-KEK-VALUE")
    monkeypatch.setenv("MYNASIGN_SESSION_SECRET", "SECRET-SESSION")
    monkeypatch.setenv("MYNASIGN_SMTP_PORT", "SMTP-PORT-VALUE")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert "SECRET-" not in str(raised.value)
    assert "SMTP-PORT-VALUE" in str(raised.value)  # ordinary values are shown


def test_trust_anchor_files_must_hold_certificates(tmp_path: Path) -> None:
    anchor = tmp_path / "anchor.pem"
    anchor.write_text("not a certificate")
    [problem] = problems(card_trust_anchor_files=[anchor])
    assert "holds no PEM certificate" in problem


def test_seal_configuration_must_be_whole_and_one(tmp_path: Path) -> None:
    key = tmp_path / "seal.key"
    key.write_text("k")
    assert problems(seal_key_file=key) == [
        "MYNASIGN_SEAL_CERT_FILE is required with a seal key file"
    ]
    [problem] = problems(seal_key_file=key, seal_pkcs11_token="t")
    assert "not both" in problem


def test_smtp_login_needs_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYNASIGN_SMTP_USERNAME", "u")
    [problem] = problems()
    assert "MYNASIGN_SMTP_PASSWORD" in problem


def test_revocation_opt_out_must_be_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYNASIGN_REVOCATION", "none")
    [problem] = problems()
    assert "MYNASIGN_REVOCATION_OPT_OUT=true" in problem
    monkeypatch.setenv("MYNASIGN_REVOCATION_OPT_OUT", "true")
    assert load_settings().revocation_method == "none"
    monkeypatch.setenv("MYNASIGN_REVOCATION", "https://ocsp.example.jp")
    [problem] = problems()
    assert "only goes with MYNASIGN_REVOCATION=none" in problem


# --- production ---------------------------------------------------------------------


def test_complete_production_configuration_loads(production: dict[str, str]) -> None:
    settings = load_settings()
    assert settings.is_production and settings.seal_mode == "pkcs11"
    assert settings.revocation_method == "ocsp"
    assert settings.kek_bytes == base64.b64decode(RANDOM_KEK)
    assert not (Path(production["DATA_DIR"]) / "dev-secrets.json").exists()
    assert settings.warnings() == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"KEK": None}, "MYNASIGN_KEK is required in production"),
        (
            {"KEK": base64.b64encode(DEV_KEK_MARKER + os.urandom(16)).decode()},
            "MYNASIGN_KEK is a development key",
        ),
        ({"KEK": base64.b64encode(bytes(32)).decode()}, "MYNASIGN_KEK is not random"),
        ({"SESSION_SECRET": None}, "MYNASIGN_SESSION_SECRET is required in production"),
        (
            {"SESSION_SECRET": "dev-insecure-" + "x1y2z3" * 6},
            "MYNASIGN_SESSION_SECRET is a development secret",
        ),
        ({"SESSION_SECRET": "changethis" * 4}, "MYNASIGN_SESSION_SECRET is not random"),
        ({"BASE_URL": "http://sign.example.jp"}, "MYNASIGN_BASE_URL must be https://"),
        ({"BASE_URL": "http://192.0.2.10:8000"}, "MYNASIGN_BASE_URL must be https://"),
        (
            {
                "SEAL_PKCS11_MODULE": None,
                "SEAL_PKCS11_TOKEN": None,
                "SEAL_PKCS11_KEY_LABEL": None,
                "SEAL_PKCS11_PIN": None,
            },
            "production needs the platform seal key",
        ),
        ({"SEAL_PKCS11_PIN": None}, "MYNASIGN_SEAL_PKCS11_PIN is required with PKCS#11"),
        ({"TSA_URL": None}, "MYNASIGN_TSA_URL is required in production"),
        ({"SMTP_HOST": None}, "MYNASIGN_SMTP_HOST is required in production"),
        ({"MAIL_FROM": None}, "MYNASIGN_MAIL_FROM is required in production"),
        ({"SMTP_SECURITY": "none"}, "would send the SMTP password in the clear"),
        ({"REVOCATION": None}, "MYNASIGN_REVOCATION is required in production"),
    ],
)
def test_production_refuses(
    monkeypatch: pytest.MonkeyPatch,
    production: dict[str, str],
    changes: dict[str, str | None],
    expected: str,
) -> None:
    for name, value in changes.items():
        if value is None:
            monkeypatch.delenv(f"MYNASIGN_{name}")
        else:
            monkeypatch.setenv(f"MYNASIGN_{name}", value)
    found = problems()
    assert found == [p for p in found if expected in p] and len(found) == 1, found
    with pytest.raises(ValidationError):  # constructing Settings directly refuses it too
        Settings()


def test_production_refuses_the_key_made_by_development(
    monkeypatch: pytest.MonkeyPatch, production: dict[str, str]
) -> None:
    """The copied-over case: secrets generated by `mynasign dev` used in production."""
    development = load_settings(environment="development", kek=None, session_secret=None)
    monkeypatch.setenv("MYNASIGN_KEK", base64.b64encode(development.kek_bytes).decode())
    monkeypatch.setenv("MYNASIGN_SESSION_SECRET", development.session_secret_value)
    found = problems()
    assert len(found) == 2
    assert "MYNASIGN_KEK is a development key" in found[0]
    assert "MYNASIGN_SESSION_SECRET is a development secret" in found[1]


def test_production_allows_http_on_loopback(
    monkeypatch: pytest.MonkeyPatch, production: dict[str, str]
) -> None:
    """Behind a TLS-terminating proxy on the same machine."""
    for base in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        monkeypatch.setenv("MYNASIGN_BASE_URL", base)
        assert load_settings().base_url == base


def test_production_seal_key_file_must_be_private(
    monkeypatch: pytest.MonkeyPatch, production: dict[str, str], tmp_path: Path
) -> None:
    for name in ("MODULE", "TOKEN", "KEY_LABEL", "PIN"):
        monkeypatch.delenv(f"MYNASIGN_SEAL_PKCS11_{name}")
    key, cert = tmp_path / "seal.key", tmp_path / "seal.pem"
    key.write_text("k")
    cert.write_text("c")
    key.chmod(0o644)
    monkeypatch.setenv("MYNASIGN_SEAL_KEY_FILE", str(key))
    monkeypatch.setenv("MYNASIGN_SEAL_CERT_FILE", str(cert))
    [problem] = problems()
    assert "readable by others" in problem
    key.chmod(0o600)
    settings = load_settings()
    assert settings.seal_mode == "key_file"
    assert any("HSM" in warning for warning in settings.warnings())


def test_production_revocation_opt_out_is_loud(
    monkeypatch: pytest.MonkeyPatch, production: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MYNASIGN_REVOCATION", "none")
    monkeypatch.setenv("MYNASIGN_REVOCATION_OPT_OUT", "true")
    with caplog.at_level("WARNING", logger="webapp.settings"):
        load_settings()
    assert "NOT checked for revocation" in caplog.text


def test_every_problem_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYNASIGN_ENVIRONMENT", "production")
    monkeypatch.setenv("MYNASIGN_BASE_URL", "http://sign.example.jp")
    monkeypatch.setenv("MYNASIGN_SMTP_PORT", "seventy")
    monkeypatch.setenv("MYNASIGN_KEK", "bad")
    monkeypatch.setenv("MYNASIGN_SMPT_HOST", "typo")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    found = raised.value.problems
    for fragment in (
        "MYNASIGN_SMTP_PORT: Input should be a valid integer",
        "MYNASIGN_KEK: must be base64",
        "MYNASIGN_SMPT_HOST is not a setting",
        "MYNASIGN_BASE_URL must be https://",
        "MYNASIGN_SESSION_SECRET is required",
        "production needs the platform seal key",
        "MYNASIGN_TSA_URL is required",
        "MYNASIGN_SMTP_HOST is required",
        "MYNASIGN_MAIL_FROM is required",
        "MYNASIGN_REVOCATION is required",
    ):
        assert sum(fragment in p for p in found) == 1, (fragment, found)
    # The bad KEK is explained once, not also reported as missing.
    assert not any("MYNASIGN_KEK is required" in p for p in found)
    assert len(found) == 10
    assert str(raised.value).count("\n  - ") == 10


def test_get_settings_is_cached_and_can_be_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    assert get_settings() is first
    monkeypatch.setenv("MYNASIGN_MAX_PAGES", "5")
    assert get_settings().max_pages == 1000
    get_settings.cache_clear()
    assert get_settings().max_pages == 5


def test_every_setting_is_documented() -> None:
    guide = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [env_name(f) for f in Settings.model_fields if f"`{env_name(f)}`" not in guide]
    assert missing == []


def test_the_guide_s_commands_make_acceptable_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The KEK and session-secret commands shown in the guide run and give usable values."""
    guide = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    commands = [
        line.strip() for line in guide.splitlines() if line.strip().startswith("python3 -c")
    ]
    assert commands == [MAKE_KEK, MAKE_RANDOM_TEXT]
    kek, secret = (
        subprocess.run(
            [sys.executable, "-c", shlex.split(command)[2]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for command in commands
    )
    settings = load_settings(kek=kek, session_secret=secret)
    assert len(settings.kek_bytes) == 32 and settings.session_secret_value == secret
