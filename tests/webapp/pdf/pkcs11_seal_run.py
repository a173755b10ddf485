"""Run in a child process by test_seal_pkcs11: the seal key on a SoftHSM token.

A child process because a PKCS#11 module reads its configuration once per process, and
other tests in the same run use SoftHSM with a token directory of their own.
Prints one JSON object: what each refusal raised, and where the seals were written.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path

from webapp.pdf import Sealer, SealKeyError, seal_signer_from_pkcs11


def refusal(module: str, token: str, key_label: str, pin: str) -> str:
    try:
        seal_signer_from_pkcs11(module, token, key_label, pin).close()
    except SealKeyError as exc:
        return f"SealKeyError: {exc}"
    return "opened"


async def seal_twice(sealer: Sealer, source: Path, targets: list[Path]) -> None:
    """Two seals at once on the one PKCS#11 session."""
    data = source.read_bytes()
    outputs = [target.open("w+b") for target in targets]
    try:
        await asyncio.gather(
            *(
                sealer.seal(io.BytesIO(data), out, field_name="hsm-seal", reason="HSM")
                for out in outputs
            )
        )
    finally:
        for output in outputs:
            output.close()


def main() -> None:
    module, token, key_label, pin, tsa_url, source, target_dir = sys.argv[1:8]
    report: dict[str, object] = {
        "wrong_pin": refusal(module, token, key_label, "0000"),
        "wrong_label": refusal(module, token, "no-such-key", pin),
        "wrong_token": refusal(module, "no-such-token", key_label, pin),
    }
    targets = [Path(target_dir) / f"hsm-{n}.pdf" for n in range(2)]
    with seal_signer_from_pkcs11(module, token, key_label, pin) as key:
        asyncio.run(seal_twice(Sealer(key.signer, tsa_url, []), Path(source), targets))
    report["sealed"] = [str(t) for t in targets]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
