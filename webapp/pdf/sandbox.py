"""The upload check in a child process whose time and memory are bounded by the kernel.

pyHanko is a pure-Python parser of untrusted input: a loop that reads no file (an xref
stream of zero-width entries, a comment at the end of an object stream) or an allocation
the decode limits do not see could otherwise hold a server thread or its memory. Each check
runs in a child with an address-space limit (RLIMIT_AS), a CPU limit and an alarm; the
parent stops waiting when the wall clock runs out. Any of these ends as `pdf_too_complex`.
The parent stays small: it streams the file to the child in chunks while it hashes it.

The children are forked by a helper process (`serve`, in a Python of its own) that imported
the PDF layer once and does nothing else, so a fork is safe (one thread) and fast (about
10 ms). multiprocessing's fork server is not used: on Python 3.11 it runs the parent's
main module again in every child. At most one check per CPU runs at a time.
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import BinaryIO

from webapp.pdf.check import CheckResult, check_pdf_bytes
from webapp.pdf.errors import PdfRejected
from webapp.pdf.limits import CheckLimits
from webapp.pdf.refusals import refusal
from webapp.pdf.structure import Attachment

CHUNK_SIZE = 1 << 16
_SLOTS = threading.BoundedSemaphore(max(1, min(os.cpu_count() or 1, 8)))
_FRAME = struct.Struct("!I")
_MAX_ANSWER = 1 << 20
_MAX_HEADER = 8192


@dataclass(frozen=True)
class Streamed:
    """What the parent learnt while streaming the file: its size and SHA-256."""

    size: int
    sha256: str


def check_in_sandbox(
    source: BinaryIO,
    *,
    limits: CheckLimits,
    max_bytes: int,
    max_pages: int,
    too_large: Callable[[], PdfRejected],
) -> tuple[Streamed, CheckResult]:
    """Stream `source` (from its start) to a sandboxed check; its result, or `PdfRejected`."""
    source.seek(0)
    first = source.read(CHUNK_SIZE)
    if not first:
        raise refusal("empty")
    with _SLOTS, _HELPER.connect(limits, max_pages) as conn:
        conn.settimeout(limits.seconds + 2)
        streamed = _stream(source, first, conn, max_bytes, too_large)
        return streamed, _answer(conn)


def _stream(
    source: BinaryIO,
    first: bytes,
    conn: socket.socket,
    max_bytes: int,
    too_large: Callable[[], PdfRejected],
) -> Streamed:
    digest = hashlib.sha256()
    size = 0
    chunk = first
    sending = True
    while chunk:
        size += len(chunk)
        if size > max_bytes:
            raise too_large()
        digest.update(chunk)
        if sending:
            try:
                _send_frame(conn, chunk)
            except OSError:  # the child ended early: its answer (or its death) tells why
                sending = False
        chunk = source.read(CHUNK_SIZE)
    if sending:
        with contextlib.suppress(OSError):
            _send_frame(conn, b"")
    return Streamed(size=size, sha256=digest.hexdigest())


def _answer(conn: socket.socket) -> CheckResult:
    """The child's verdict; `too_complex` if it ran out of time or memory, or died."""
    try:
        message = _receive_frame(conn, _MAX_ANSWER).decode()
    except (OSError, EOFError, UnicodeDecodeError):
        raise refusal("too_complex") from None
    verdict = json.loads(message)
    if verdict["kind"] == "accepted":
        attachments = tuple(Attachment(name, size) for name, size in verdict["attachments"])
        return CheckResult(int(verdict["pages"]), attachments)
    raise PdfRejected(verdict["code"], verdict["ja"], verdict["en"])


def _send_frame(conn: socket.socket, payload: bytes) -> None:
    conn.sendall(_FRAME.pack(len(payload)) + payload)


def _receive_frame(conn: socket.socket, limit: int) -> bytes:
    (size,) = _FRAME.unpack(_receive_exactly(conn, _FRAME.size))
    if size > limit:
        raise EOFError("frame too large")
    return _receive_exactly(conn, size)


def _receive_exactly(conn: socket.socket, size: int) -> bytes:
    parts, missing = [], size
    while missing:
        part = conn.recv(min(missing, CHUNK_SIZE))
        if not part:
            raise EOFError("connection closed")
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


_HELPER_MAIN = "import sys; from webapp.pdf.sandbox import serve; serve(int(sys.argv[1]))"
"""The helper's program. Not `python -m webapp.pdf.sandbox`: the package `webapp.pdf`
imports this module, so running it as `__main__` would load it twice (and runpy warns)."""


class _Helper:
    """The helper process that forks one child per check (started on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def connect(self, limits: CheckLimits, max_pages: int) -> socket.socket:
        """A socket to a new child that checks one file under `limits`."""
        ours, theirs = socket.socketpair()
        try:
            header = json.dumps([dataclasses.asdict(limits), max_pages]).encode()
            with self._lock:
                control = self._running()
                socket.send_fds(control, [header], [theirs.fileno()])
        finally:
            theirs.close()
        return ours

    def _running(self) -> socket.socket:
        if self._process is not None and self._process.poll() is None and self._control:
            return self._control
        if self._control is not None:
            self._control.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # one per send
        self._process = subprocess.Popen(  # noqa: S603 - our own module, same interpreter
            [sys.executable, "-c", _HELPER_MAIN, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._control = ours
        return ours


_HELPER = _Helper()


def start_helper() -> None:
    """Start the helper now (it imports the PDF layer: a second or two) rather than on the
    first upload; for a server's start-up. Idempotent."""
    with _HELPER._lock:
        _HELPER._running()


def serve(control_fd: int) -> None:
    """The helper: fork a bounded child for each socket the server sends; end with it."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    control = socket.socket(fileno=control_fd)
    while True:
        fds = array.array("i")
        try:
            header, ancillary, _, _ = control.recvmsg(_MAX_HEADER, socket.CMSG_SPACE(fds.itemsize))
        except InterruptedError:
            continue
        if not header:
            return  # the server has gone
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        for fd in fds:
            if os.fork() == 0:
                try:
                    control.close()
                    _child(socket.socket(fileno=fd), header)
                finally:
                    os._exit(0)  # never back into the helper's loop
            os.close(fd)


def _child(conn: socket.socket, header: bytes) -> None:
    """In a forked child: bound this process, receive the file, check it, answer."""
    fields, max_pages = json.loads(header)
    limits = CheckLimits(**fields)
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    cpu = math.ceil(limits.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    signal.alarm(math.ceil(limits.seconds) + 2)
    started = time.monotonic()
    parts = []
    while chunk := _receive_frame(conn, 1 << 30):
        parts.append(chunk)
    data = b"".join(parts)
    del parts
    remaining = max(1.0, limits.seconds - (time.monotonic() - started))
    verdict: dict[str, object]
    try:
        result = check_pdf_bytes(data, replace(limits, seconds=remaining), int(max_pages))
    except PdfRejected as exc:
        verdict = {"kind": "refused", "code": exc.code, "ja": exc.message_ja, "en": exc.message_en}
    else:
        verdict = {
            "kind": "accepted",
            "pages": result.pages,
            "attachments": [[item.name, item.size] for item in result.attachments],
        }
    _send_frame(conn, json.dumps(verdict).encode())
