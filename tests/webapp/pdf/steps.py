"""The pipeline's steps on files, as the service runs them: each revision a new file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from webapp.pdf import Sealer, write_document_id

DOCUMENT_ID = "K7QXW2M4ZP5R3T6Y8B2C4D6F8G"


def stamp_file(source: Path, target: Path, document_id: str = DOCUMENT_ID) -> Path:
    with source.open("rb") as stream, target.open("wb") as output:
        write_document_id(stream, output, document_id)
    return target


def seal_file(sealer: Sealer, source: Path, target: Path, field: str, reason: str) -> Path:
    async def run() -> None:
        with source.open("rb") as stream, target.open("w+b") as output:
            await sealer.seal(stream, output, field_name=field, reason=reason)

    asyncio.run(run())
    return target


def finalize_file(sealer: Sealer, source: Path, target: Path) -> Path:
    async def run() -> None:
        with source.open("rb") as stream, target.open("w+b") as output:
            await sealer.finalize(stream, output)

    asyncio.run(run())
    return target
