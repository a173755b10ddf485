"""`jpki-bridge install-url-handler`: make the PC page's button (`mynasign-bridge:`) open the app.

Per user, nothing system-wide: Linux gets a `.desktop` file in `$XDG_DATA_HOME/applications`
and is made the default for `x-scheme-handler/mynasign-bridge` with `xdg-mime`; Windows
gets `HKCU\\Software\\Classes\\mynasign-bridge`; on macOS the app bundle's Info.plist
(`CFBundleURLTypes`, from the Briefcase configuration) registers the scheme itself.
`--uninstall` takes back exactly what was added.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bridge.errors import UsageError
from bridge.url import APP_SCHEME

DESKTOP_FILE = f"{APP_SCHEME}.desktop"
MIME_TYPE = f"x-scheme-handler/{APP_SCHEME}"
XDG_TIMEOUT = 30


@dataclass(frozen=True)
class Registration:
    """What was (un)registered, for the message: where it lives."""

    where: str


def app_command() -> list[str]:
    """The command that opens the app with a URL: this environment's `jpki-bridge app`."""
    script = Path(sys.executable).parent / ("jpki-bridge.exe" if os.name == "nt" else "jpki-bridge")
    if script.exists():
        return [str(script), "app"]
    found = shutil.which("jpki-bridge")
    if found:
        return [found, "app"]
    return [sys.executable, "-m", "bridge.cli", "app"]


def _desktop_quote(argument: str) -> str:
    """One argument of a desktop entry's Exec key (quoted where the spec asks for it)."""
    if not any(char in argument for char in " \t\n\"'\\><~|&;$*?#()`"):
        return argument
    escaped = "".join("\\" + char if char in '"`$\\' else char for char in argument)
    return f'"{escaped}"'


def desktop_entry(command: list[str]) -> str:
    """The `.desktop` file that hands `mynasign-bridge:` URLs to `command`."""
    exec_line = " ".join(_desktop_quote(part).replace("%", "%%") for part in command)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.0\n"
        "Name=mynasign 署名\n"
        "Name[en]=mynasign signing\n"
        "Comment=マイナンバーカードで署名する\n"
        "Comment[en]=Sign with a My Number Card\n"
        f"Exec={exec_line} %u\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        f"MimeType={MIME_TYPE};\n"
        "Categories=Office;\n"
    )


def _data_home() -> Path:
    configured = os.environ.get("XDG_DATA_HOME")
    return Path(configured) if configured else Path.home() / ".local" / "share"


def _config_home() -> Path:
    configured = os.environ.get("XDG_CONFIG_HOME")
    return Path(configured) if configured else Path.home() / ".config"


def _xdg_mime(*args: str) -> str:
    tool = shutil.which("xdg-mime")
    if tool is None:
        raise UsageError("url_handler_failed", detail="xdg-mime is missing (install xdg-utils)")
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [tool, *args], capture_output=True, text=True, timeout=XDG_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError("url_handler_failed", detail=f"xdg-mime: {exc}") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip() or f"exit {done.returncode}"
        raise UsageError("url_handler_failed", detail=f"xdg-mime {args[0]}: {detail}")
    return done.stdout.strip()


def query_linux() -> str:
    """The desktop file `xdg-mime` names for the scheme now (empty: none)."""
    return _xdg_mime("query", "default", MIME_TYPE)


def install_linux(command: list[str] | None = None) -> Registration:
    applications = _data_home() / "applications"
    applications.mkdir(parents=True, exist_ok=True)
    path = applications / DESKTOP_FILE
    path.write_text(desktop_entry(command or app_command()), encoding="utf-8")
    _xdg_mime("default", DESKTOP_FILE, MIME_TYPE)
    _update_desktop_database(applications)
    return Registration(str(path))


def uninstall_linux() -> Registration:
    applications = _data_home() / "applications"
    path = applications / DESKTOP_FILE
    path.unlink(missing_ok=True)
    for mimeapps in (_config_home() / "mimeapps.list", applications / "mimeapps.list"):
        _forget_association(mimeapps)
    _update_desktop_database(applications)
    return Registration(str(path))


def _forget_association(mimeapps: Path) -> None:
    """Drop our desktop file from `mimeapps.list` (`xdg-mime` has no "unset")."""
    if not mimeapps.exists():
        return
    lines = mimeapps.read_text(encoding="utf-8").splitlines()
    kept: list[str] = []
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() == MIME_TYPE:
            others = [item for item in value.split(";") if item.strip() not in ("", DESKTOP_FILE)]
            if others:
                kept.append(f"{key}={';'.join(others)};")
            continue
        kept.append(line)
    mimeapps.write_text("\n".join(kept) + "\n", encoding="utf-8")


def _update_desktop_database(applications: Path) -> None:
    tool = shutil.which("update-desktop-database")
    if tool is not None:
        subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [tool, str(applications)], capture_output=True, timeout=XDG_TIMEOUT, check=False
        )


WINDOWS_KEY = rf"Software\Classes\{APP_SCHEME}"


def windows_command(command: list[str]) -> str:
    """The registry's `shell\\open\\command`: the app with the URL as `%1`."""
    return " ".join(f'"{part}"' for part in command) + ' "%1"'


def install_windows(command: list[str] | None = None) -> Registration:
    if sys.platform == "win32":
        import winreg  # noqa: PLC0415

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, WINDOWS_KEY) as key:
            winreg.SetValueEx(key, "", 0, winreg.REG_SZ, f"URL:{APP_SCHEME}")
            winreg.SetValueEx(key, "URL Protocol", 0, winreg.REG_SZ, "")
        command_key = WINDOWS_KEY + r"\shell\open\command"
        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, command_key) as key:
            winreg.SetValueEx(key, "", 0, winreg.REG_SZ, windows_command(command or app_command()))
        return Registration(rf"HKEY_CURRENT_USER\{WINDOWS_KEY}")
    raise UsageError("url_handler_failed", detail="the registry exists on Windows only")


def uninstall_windows() -> Registration:
    if sys.platform == "win32":
        import winreg  # noqa: PLC0415

        for sub in (r"\shell\open\command", r"\shell\open", r"\shell", ""):
            with contextlib.suppress(FileNotFoundError):
                winreg.DeleteKey(winreg.HKEY_CURRENT_USER, WINDOWS_KEY + sub)
        return Registration(rf"HKEY_CURRENT_USER\{WINDOWS_KEY}")
    raise UsageError("url_handler_failed", detail="the registry exists on Windows only")


def install() -> Registration | None:
    """Register for this user on this system; None on macOS (the bundle does it)."""
    if sys.platform == "win32":
        return install_windows()
    if sys.platform == "darwin":
        return None
    return install_linux()


def uninstall() -> Registration | None:
    if sys.platform == "win32":
        return uninstall_windows()
    if sys.platform == "darwin":
        return None
    return uninstall_linux()
