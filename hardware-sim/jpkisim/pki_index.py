"""The test PKI's `index.json`: issued card certificates, revocations and the next CRL number.

Layout (serials are upper-case hex strings, so no JSON reader loses digits)::

    {"version": 1, "next_crl_number": 3,
     "certificates": [{"serial": "5A1F…", "kind": "sign", "subject": "CN=…,L=東京都,C=JP",
                       "not_after": "2030-…+00:00", "revoked_at": null, "reason": null}]}

Every change is made under an exclusive lock on the directory's `.lock` file and written
atomically (temporary file + rename), so another process reading it sees either the old
or the new index, never half of one.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

INDEX_VERSION = 1
CardKind = Literal["sign", "auth"]


class PkiError(Exception):
    """The test PKI directory is missing, incomplete, damaged, or asked to do the impossible."""


@dataclass(frozen=True)
class CardCertRecord:
    """One issued card certificate as recorded in the index."""

    serial: int
    kind: CardKind
    subject: str
    not_after: datetime.datetime
    revoked_at: datetime.datetime | None = None
    reason: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self, when: datetime.datetime, reason: str) -> CardCertRecord:
        return replace(self, revoked_at=when, reason=reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": f"{self.serial:X}",
            "kind": self.kind,
            "subject": self.subject,
            "not_after": self.not_after.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> CardCertRecord:
        kind = item["kind"]
        if kind not in ("sign", "auth"):
            raise ValueError(f"unknown certificate kind {kind!r}")
        revoked_at = item.get("revoked_at")
        return cls(
            serial=int(item["serial"], 16),
            kind=kind,
            subject=str(item["subject"]),
            not_after=datetime.datetime.fromisoformat(item["not_after"]),
            revoked_at=None if revoked_at is None else datetime.datetime.fromisoformat(revoked_at),
            reason=item.get("reason"),
        )


@dataclass
class PkiIndex:
    """The whole index: what has been issued and which CRL number comes next."""

    next_crl_number: int = 1
    records: list[CardCertRecord] = field(default_factory=list)

    def find(self, serial: int) -> CardCertRecord | None:
        return next((r for r in self.records if r.serial == serial), None)

    def put(self, record: CardCertRecord) -> None:
        self.records = [r for r in self.records if r.serial != record.serial] + [record]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": INDEX_VERSION,
            "next_crl_number": self.next_crl_number,
            "certificates": [r.to_json() for r in self.records],
        }


def read_index(path: Path) -> PkiIndex:
    """Read and check `index.json`; any problem becomes a `PkiError` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != INDEX_VERSION:
            raise ValueError(f"unsupported version {data.get('version')!r}")
        return PkiIndex(
            next_crl_number=int(data["next_crl_number"]),
            records=[CardCertRecord.from_json(item) for item in data["certificates"]],
        )
    except FileNotFoundError as exc:
        raise PkiError(f"{path} is missing") from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PkiError(f"{path} is damaged: {exc}") from exc


def write_index(path: Path, index: PkiIndex) -> None:
    text = json.dumps(index.to_json(), ensure_ascii=False, indent=2) + "\n"
    write_atomically(path, text.encode("utf-8"))


def write_atomically(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace `path` with `data` in one rename; `private` files are readable by the owner only."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        os.chmod(tmp_name, 0o600 if private else 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the PKI directory's exclusive lock (between processes too) while changing it."""
    with open(directory / ".lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
