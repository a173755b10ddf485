"""Run `jpki-bridge` as a subprocess against the loopback server, for the end-to-end CLI tests."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.bridge.fakes import assert_no_password
from tests.bridge.server import LoopbackServer, Script

CLI_TIMEOUT = 90.0


def jpki_bridge() -> str:
    """The installed console script next to this interpreter."""
    return shutil.which("jpki-bridge", path=str(Path(sys.executable).parent)) or "jpki-bridge"


@dataclass
class CliRun:
    """A finished `jpki-bridge` process and the server it talked to (if any)."""

    code: int
    stdout: str
    stderr: str
    server: LoopbackServer | None = None

    def assert_no_password(self, *passwords: str) -> None:
        texts = [self.stdout, self.stderr]
        if self.server is not None:
            texts += [frame for _direction, frame in self.server.frames]
        assert_no_password(texts, passwords)


async def _run(args: list[str], stdin: str | None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        jpki_bridge(),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    data = None if stdin is None else stdin.encode()
    out, err = await asyncio.wait_for(process.communicate(data), CLI_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def run_cli(*args: str, stdin: str | None = None) -> CliRun:
    """Run `jpki-bridge ARGS` with no server."""
    code, out, err = asyncio.run(_run(list(args), stdin))
    return CliRun(code, out, err)


def sign_cli(
    root_der: bytes, *args: str, stdin: str | None = None, script: Script | None = None
) -> CliRun:
    """Run `jpki-bridge sign <server URL> ARGS` against a fresh loopback server."""

    async def scenario() -> CliRun:
        async with LoopbackServer(root_der, script) as server:
            code, out, err = await _run(["sign", server.url, *args], stdin)
            return CliRun(code, out, err, server)

    return asyncio.run(scenario())


def interrupt_cli(root_der: bytes, *args: str, stdin: str | None = None) -> CliRun:
    """Start `jpki-bridge sign`, press Ctrl-C once the session is claimed, collect the result."""

    async def scenario() -> CliRun:
        hold = asyncio.Event()
        async with LoopbackServer(root_der, Script(hold_request=hold)) as server:
            process = await asyncio.create_subprocess_exec(
                jpki_bridge(),
                "sign",
                server.url,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            communicate = asyncio.create_task(
                process.communicate(None if stdin is None else stdin.encode())
            )
            await asyncio.wait_for(server.claimed.wait(), CLI_TIMEOUT)
            process.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(communicate, CLI_TIMEOUT)
            await asyncio.wait_for(server.finished.wait(), CLI_TIMEOUT)
            assert process.returncode is not None
            return CliRun(process.returncode, out.decode(), err.decode(), server)

    return asyncio.run(scenario())
