"""PDF worker processes end when the server that started them is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from webapp.pdf.lifetime import PARENT_CHECK_SECONDS

ROOT = Path(__file__).resolve().parents[3]
SERVER = """
import os, sys
from webapp.pdf.workers import _shared_pool
worker_pid = _shared_pool(1).submit(os.getpid).result(timeout=60)
print(worker_pid, flush=True)
sys.stdin.read()  # until the test kills this process
"""


def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # ended, not yet reaped by whoever adopted it


def test_a_killed_server_leaves_no_pdf_worker_running() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        worker_pid = int(server.stdout.readline())
        assert worker_pid != server.pid and not _ended(worker_pid)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(30)
    deadline = time.monotonic() + 10 * PARENT_CHECK_SECONDS + 10
    while not _ended(worker_pid):  # a process ending has no event to wait on from here
        assert time.monotonic() < deadline, f"PDF worker {worker_pid} still runs"
        time.sleep(0.1)
