"""`pip install '.[bridge]'` in a fresh virtual environment: `jpki-bridge sign` works, no server.

The distribution is built from a copy of this tree (so the build leaves nothing here) and
installed non-editable; pip's cache keeps this to a few seconds after the first run.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from jpkisim.pki import TestPki
from tests.bridge.server import LoopbackServer
from tests.conftest import REPO, SIGNING_PASSWORD

pytestmark = [pytest.mark.venv, pytest.mark.timeout(900)]
SOURCES = ("card", "bridge", "webapp", "hardware-sim", "pyproject.toml", "README.md")
SERVER_ONLY = ("fastapi", "sqlalchemy", "uvicorn", "alembic", "psycopg", "pyhanko", "toga")


def _copy_tree(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "var", "build")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def bridge_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding `mynasign[bridge]` and nothing else."""
    root = tmp_path_factory.mktemp("bridge-only")
    source = _copy_tree(root / "src")
    environment = root / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"{source}[bridge]"],
        capture_output=True, text=True, timeout=800, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return environment


def test_no_server_package_is_installed(bridge_venv: Path) -> None:
    python = bridge_venv / "bin" / "python"
    for module in SERVER_ONLY:
        done = subprocess.run(
            [str(python), "-c", f"import {module}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode != 0, f"{module} is importable in a bridge-only install"
        assert "ModuleNotFoundError" in done.stderr
    imported = subprocess.run(
        [str(python), "-c", "import bridge.cli, card.jpki"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr


def test_jpki_bridge_signs_from_the_bridge_only_install(
    bridge_venv: Path, test_pki: TestPki, card_state: Path
) -> None:
    async def scenario() -> tuple[int, str, bool]:
        async with LoopbackServer(test_pki.sign_root_der) as server:
            process = await asyncio.create_subprocess_exec(
                str(bridge_venv / "bin" / "jpki-bridge"), "sign", server.url,
                "--sim", str(card_state), "--password-stdin", "--lang", "en",
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(
                process.communicate(f"{SIGNING_PASSWORD}\n".encode()), 120
            )
            accepted = server.verdict is not None and server.verdict.outcome == "accepted"
            return process.returncode or 0, out.decode(), accepted

    code, printed, accepted = asyncio.run(scenario())
    assert code == 0, printed
    assert "Signed: the server accepted it." in printed
    assert accepted
    assert SIGNING_PASSWORD not in printed


def test_the_app_command_says_what_to_install(bridge_venv: Path) -> None:
    done = subprocess.run(
        [str(bridge_venv / "bin" / "jpki-bridge"), "app", "--lang", "en"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "pip install 'mynasign[app]'" in done.stderr
    assert sys.executable not in done.stderr
