"""moto's S3 server for the tests: real HTTP on 127.0.0.1, in a process of its own.

`python -m tests.webapp.storage.s3_server` starts moto's `ThreadedMotoServer` on a free
port, prints `port <n>` once it listens, and stops when its standard input closes. It runs
in its own process so that the memory it uses to keep objects is not counted by the tests
that measure ours (tracemalloc sees every thread of a process).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

from moto.server import ThreadedMotoServer

READY_TIMEOUT_SECONDS = 60


@contextlib.contextmanager
def moto_s3_server() -> Iterator[str]:
    """The endpoint URL of a running moto server; stopped on leaving."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.webapp.storage.s3_server"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        line = process.stdout.readline()  # blocks until the server listens (or dies)
        assert line.startswith("port "), f"moto did not start: {line!r}"
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=READY_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(f"port {server.get_host_and_port()[1]}", flush=True)
    sys.stdin.read()  # until the test closes our standard input
    server.stop()


if __name__ == "__main__":
    main()
