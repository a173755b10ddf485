"""Run the benchmarks and print their figures (`make bench`; or name some: `card_acceptance`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from benchmarks import (
    bridge_session,
    card_acceptance,
    card_sessions_load,
    card_signature,
    concurrent_flows,
    document_search,
    http_client,
    sealing,
)

BENCHMARKS: dict[str, Callable[[], Iterable[str]]] = {
    "card_signature": card_signature.run,
    "bridge_session": bridge_session.run,
    "sealing": sealing.run,
    "card_acceptance": card_acceptance.run,
    "card_sessions_load": card_sessions_load.run,
    "document_search": document_search.run,  # issue 12: search at 100,000 documents
    "http_client": http_client.run,  # issue 9: one HTTP client per process (TSA, OCSP)
    "concurrent_flows": concurrent_flows.run,  # issue 9: many people at once
}


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    for name in argv or list(BENCHMARKS):
        for line in BENCHMARKS[name]():
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
