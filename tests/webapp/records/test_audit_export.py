"""`mynasign audit export` / `verify`: whole, one byte changed, rewritten, cut, wrong TSA."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

from jpkisim import pki_builder
from tests.webapp.records.conftest import Completed, tsa_root_pem
from webapp.audit import fields_hash
from webapp.audit.anchors import anchor_round
from webapp.audit.export import HASHED_FIELDS
from webapp.cli import main
from webapp.db.models import AuditAnchor


def _export(completed: Completed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's export of the running service's database."""
    monkeypatch.setenv("MYNASIGN_DATA_DIR", str(completed.service.context.settings.data_dir))
    path = tmp_path / "audit.jsonl"
    assert main(["audit", "export", str(path)]) == 0
    return path


def _verify(path: Path, pem: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", str(path), "--tsa-cert", str(pem)])
    return code, capsys.readouterr().out


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _events(path: Path) -> list[dict[str, object]]:
    return [line for line in _lines(path) if line["type"] == "event"]


def test_export_verifies_and_one_changed_byte_names_its_event(
    completed: Completed,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    anchor_round(completed.service.context)  # today's anchor, beside the completion's
    path = _export(completed, tmp_path, monkeypatch)
    capsys.readouterr()
    pem = tsa_root_pem(completed.service, tmp_path)
    code, out = _verify(path, pem, capsys)
    assert code == 0, out
    assert "whole" in out and "2 timestamps" in out

    opened = next(e for e in _events(path) if e["action"] == "recipient.opened")
    raw = path.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(raw) if f'"seq":{opened["seq"]},'.encode() in line)
    assert raw[index].count(b'"ip":"testclient"') == 1
    raw[index] = raw[index].replace(b'"ip":"testclient"', b'"ip":"testclienu"')  # one byte
    changed = tmp_path / "changed.jsonl"
    changed.write_bytes(b"".join(raw))
    code, out = _verify(changed, pem, capsys)
    assert code == 1
    assert f"BROKEN at event seq {opened['seq']}:" in out and "changed" in out


def test_a_rewritten_chain_is_caught_by_the_timestamp(
    completed: Completed,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An insider who changes an entry and recomputes every hash after it still fails."""
    path = _export(completed, tmp_path, monkeypatch)
    pem = tsa_root_pem(completed.service, tmp_path)
    lines = _lines(path)
    events = [line for line in lines if line["type"] == "event"]
    agreed = next(e for e in events if e["action"] == "recipient.agreed")
    agreed["ip"] = "203.0.113.9"
    prev = "0" * 64
    for event in events:
        event["prev_hash"] = prev
        fields = {"v": 1, **{name: event[name] for name in HASHED_FIELDS}}
        event["hash"] = prev = fields_hash(prev, fields)
    rewritten = tmp_path / "rewritten.jsonl"
    rewritten.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    capsys.readouterr()
    code, out = _verify(rewritten, pem, capsys)
    assert code == 1
    found = re.search(r"BROKEN at event seq (\d+): entries (\d+) to (\d+) were rewritten", out)
    assert found and found[1] == found[2], out
    assert int(found[1]) <= int(str(agreed["seq"])) <= int(found[3])  # the range holds it


def test_a_cut_tail_a_forged_token_and_another_tsa_fail(
    completed: Completed,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _export(completed, tmp_path, monkeypatch)
    pem = tsa_root_pem(completed.service, tmp_path)
    with completed.service.context.sessions() as db:
        anchored = db.scalars(
            select(AuditAnchor.head_seq).where(AuditAnchor.document_id == completed.document_id)
        ).one()
    raw = path.read_bytes().splitlines(keepends=True)
    kept = [line for line in raw if not _is_event_from(line, anchored)]
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(kept))
    capsys.readouterr()
    code, out = _verify(cut, pem, capsys)
    assert code == 1 and f"BROKEN at event seq {anchored}:" in out and "missing" in out

    forged = tmp_path / "forged.jsonl"
    anchor_line = next(i for i, line in enumerate(raw) if b'"type":"anchor"' in line)
    anchor = json.loads(raw[anchor_line])
    token = bytearray(__import__("base64").b64decode(anchor["token"]))
    token[-10] ^= 0x01  # a bit of the TSA's signature
    anchor["token"] = __import__("base64").b64encode(bytes(token)).decode()
    forged_lines = list(raw)
    forged_lines[anchor_line] = (json.dumps(anchor) + "\n").encode()
    forged.write_bytes(b"".join(forged_lines))
    code, out = _verify(forged, pem, capsys)
    assert code == 1 and f"the timestamp of entry {anchor['seq']}" in out and "invalid" in out

    other = tmp_path / "other-tsa.pem"
    other.write_bytes(_self_signed().public_bytes(Encoding.PEM))
    code, out = _verify(path, other, capsys)
    assert code == 1 and "invalid" in out

    assert main(["audit", "verify", str(path), "--tsa-cert", str(tmp_path / "none.pem")]) == 2


def _is_event_from(line: bytes, seq: int) -> bool:
    value = json.loads(line)
    return bool(value["type"] == "event" and int(value["seq"]) >= seq)


def _self_signed() -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return pki_builder.issue(
        pki_builder.common_name("Another TSA"), pki_builder.new_ec_key(),
        not_before=now - datetime.timedelta(days=1), not_after=now + datetime.timedelta(days=30),
        ca=True, key_ids=False,
    )  # fmt: skip
