"""A private pcscd with vsmartcard's vpcd reader driver, for tests and demos on one machine.

pcscd's client socket is fixed (/run/pcscd), so only one pcscd runs at a time. This one is
started with its own reader.conf.d naming only the vpcd driver on a free TCP port, and is
stopped on exit. Readers: "Virtual PCD 00 00" on `port`, "Virtual PCD 00 01" on `port + 1`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PID_FILE = Path("/run/pcscd/pcscd.pid")
MARKER = "mynasign-pcscd"
READER_0 = "Virtual PCD 00 00"
READER_1 = "Virtual PCD 00 01"
DEFAULT_VPCD_PORT = 0x8C7B
LOCK_FILE = Path(tempfile.gettempdir()) / f"{MARKER}.lock"


class PcscdError(RuntimeError):
    """pcscd could not be started or another one is in the way."""


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
        if port >= 0xFFFF:
            continue
        with socket.socket() as second:
            try:
                second.bind(("0.0.0.0", port + 1))  # noqa: S104 - vpcd itself binds all interfaces
            except OSError:
                continue
        return port
    raise PcscdError("no free pair of TCP ports for the virtual readers")


def running_pcscd() -> tuple[int, str] | None:
    """The pid and command line of a running pcscd, if any."""
    try:
        pid = int(PID_FILE.read_text().strip("\x00 \n"))  # pcscd ends it with a NUL
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return (pid, cmdline) if "pcscd" in cmdline else None


class PrivatePcscd:
    """pcscd in the foreground with only the vpcd driver; a context manager."""

    def __init__(
        self, port: int | None = None, *, log_apdus: bool = False, lock_timeout: float = 1800.0
    ) -> None:
        self._lock_timeout = lock_timeout
        self._lock_file: IO[bytes] | None = None
        self.port = port if port is not None else _free_port_pair()
        self._log_apdus = log_apdus
        self._dir = Path(tempfile.mkdtemp(prefix=f"{MARKER}-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self.log_path = self._dir / "pcscd.log"

    def start(self, timeout: float = 10.0) -> None:
        executable = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if not Path(executable).exists() or not VPCD_DRIVER.exists():
            raise PcscdError("pcscd and vsmartcard-vpcd are not installed (run `make test`)")
        self._take_lock()
        other = running_pcscd()
        if other is not None:
            pid, cmdline = other
            if MARKER not in cmdline:
                self._release_lock()
                raise PcscdError(
                    f"another pcscd is running (pid {pid}: {cmdline.strip()}); stop it first"
                )
            os.kill(pid, signal.SIGTERM)  # ours, from a run that died: we hold the lock now
            self._wait_gone(pid, timeout)
        conf = self._dir / "reader.conf.d"
        conf.mkdir()
        (conf / "vpcd").write_text(
            'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME   /dev/null:{self.port:#x}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    {self.port:#x}\n"
        )
        args = [executable, "--foreground", "--config", str(conf), "--info"]
        if self._log_apdus:
            args.append("--apdu")
        self._process = subprocess.Popen(  # noqa: S603
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        threading.Thread(target=self._copy_log, name="pcscd-log", daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise PcscdError(f"pcscd did not get ready in {timeout} s")
        if self._process is None or self._process.poll() is not None:
            raise PcscdError(f"pcscd exited at start: {self.log_path.read_text()[-2000:]}")
        self._wait_for_clients(timeout)

    @staticmethod
    def _wait_for_clients(timeout: float) -> None:
        """Wait until a PC/SC client sees both virtual readers (the socket may lag the log)."""
        from smartcard import scard  # noqa: PLC0415 - only the rig needs pyscard

        deadline = time.monotonic() + timeout
        while True:
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult == scard.SCARD_S_SUCCESS:
                hresult, readers = scard.SCardListReaders(context, [])
                scard.SCardReleaseContext(context)
                if hresult == scard.SCARD_S_SUCCESS and READER_1 in readers:
                    return
            if time.monotonic() > deadline:
                raise PcscdError("pcscd started but clients cannot reach it")
            time.sleep(0.01)

    def _take_lock(self) -> None:
        """Wait for other runs on this machine that have a private pcscd to finish."""
        self._lock_file = LOCK_FILE.open("ab")
        deadline = time.monotonic() + self._lock_timeout
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._release_lock()
                    raise PcscdError("another test run kept the private pcscd too long") from None
                time.sleep(0.1)

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the lock
            self._lock_file = None

    def _copy_log(self) -> None:
        """Copy pcscd's output to the log file; tell `start` when it says 'daemon ready'."""
        process = self._process
        if process is None or process.stdout is None:
            return
        with self.log_path.open("wb") as log:
            for line in process.stdout:
                log.write(line)
                log.flush()
                if b"daemon ready" in line:
                    self._ready.set()
        self._ready.set()  # exited: let `start` see it at once

    @staticmethod
    def _wait_gone(pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)
        raise PcscdError(f"pcscd {pid} did not stop")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        with contextlib.suppress(OSError):
            shutil.rmtree(self._dir)
        self._release_lock()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
