"""The bridge docs stay true: every JSON example in docs/protocol.md is a valid v1 message."""

from __future__ import annotations

import re
from pathlib import Path

from bridge import protocol
from bridge.errors import ExitCode

DOCS = Path(__file__).resolve().parents[2] / "docs"
JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def test_every_protocol_example_parses_and_every_type_is_shown() -> None:
    text = (DOCS / "protocol.md").read_text()
    examples = JSON_BLOCK.findall(text)
    shown = {protocol.parse_message(example).type for example in examples}
    assert shown == set(protocol.MESSAGE_TYPES)


def test_every_code_is_documented() -> None:
    text = (DOCS / "protocol.md").read_text()
    for enum in (protocol.CardErrorCode, protocol.ProtocolErrorCode, protocol.Stage):
        for member in enum:
            assert f"`{member.value}`" in text, member


def test_bridge_guide_lists_every_exit_code_and_command() -> None:
    text = (DOCS / "bridge.md").read_text()
    for code in ExitCode:
        assert re.search(rf"^\| {code.value} \|", text, re.MULTILINE), code
    for command in ("sign", "readers", "check", "schema", "app", "install-url-handler"):
        assert f"jpki-bridge {command}" in text
