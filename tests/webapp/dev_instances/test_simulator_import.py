"""The webapp loads the simulator's package (`jpkisim`) only when it makes a development PKI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LOADED_JPKISIM = "sorted(m for m in sys.modules if m == 'jpkisim' or m.startswith('jpkisim.'))"


def _loaded_after(code: str) -> str:
    script = f"import sys\n{code}\nprint({LOADED_JPKISIM})"
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_application_loads_no_simulator_module() -> None:
    assert _loaded_after("import webapp.app, webapp.runtime, webapp.pdf") == "[]"


def test_making_a_development_seal_loads_only_the_certificate_builder(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path\n"
        "from webapp.pdf import create_development_seal\n"
        f"create_development_seal(Path({str(tmp_path / 'seal')!r}))"
    )
    assert _loaded_after(code) == "['jpkisim', 'jpkisim.pki_builder']"
