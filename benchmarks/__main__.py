"""Run every benchmark and print its figures (`make bench`)."""

from __future__ import annotations

import sys

from benchmarks import bridge_session, card_signature, sealing


def main() -> int:
    for benchmark in (card_signature, bridge_session, sealing):
        for line in benchmark.run():
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
