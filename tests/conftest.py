"""Shared fixtures: the test PKI, simulated cards, and the PC/SC rig (pcscd + vpcd + jpki-sim)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jpkisim.pcscd import PrivatePcscd
from jpkisim.pki import IssuedCard, TestPki
from jpkisim.served import ServedCard
from jpkisim.state import CardState

SIGNING_PASSWORD = "TEST1234"
AUTH_PIN = "1234"
REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--real-card", action="store_true", help="also run tests that need a real My Number Card"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--real-card"):
        return
    skip = pytest.mark.skip(reason="needs a real My Number Card (opt in with --real-card)")
    for item in items:
        if "real_card" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A test JPKI PKI for the whole run."""
    return TestPki.init(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture(scope="session")
def issued_card(test_pki: TestPki) -> IssuedCard:
    """One card's keys and certificates, issued once (RSA key generation is slow)."""
    return test_pki.issue_card()


@pytest.fixture
def make_card_state(issued_card: IssuedCard, tmp_path: Path) -> Callable[..., Path]:
    """Write a fresh card (full tries) with the given knobs to a state file; its path."""
    counter = iter(range(1000))

    def make(**knobs: Any) -> Path:
        path = tmp_path / f"card-{next(counter)}.json"
        CardState.from_issued(
            issued_card, signing_password=SIGNING_PASSWORD, auth_pin=AUTH_PIN, **knobs
        ).save(path)
        return path

    return make


@pytest.fixture
def card_state(make_card_state: Callable[..., Path]) -> Path:
    """A fresh simulated card's state file with the default knobs."""
    return make_card_state()


@pytest.fixture(scope="session")
def pcscd() -> Iterator[PrivatePcscd]:
    """A private pcscd with the vpcd driver, started once and stopped at the end."""
    if os.geteuid() != 0:
        pytest.fail("the PC/SC tests start pcscd and need root (as `make test` runs in CI)")
    with PrivatePcscd() as daemon:
        yield daemon


SimulatedReader = ServedCard
"""The simulated card on a virtual reader (`jpki-sim serve` in a child process)."""


@pytest.fixture
def sim_reader(pcscd: PrivatePcscd, card_state: Path, tmp_path: Path) -> Iterator[SimulatedReader]:
    """A fresh simulated card on "Virtual PCD 00 00", removed after the test."""
    reader = SimulatedReader(pcscd, card_state, tmp_path / "apdu.log")
    reader.insert()
    yield reader
    reader.remove()


@pytest.fixture
def make_sim_reader(
    pcscd: PrivatePcscd, tmp_path: Path
) -> Iterator[Callable[[Path], SimulatedReader]]:
    """A factory: a simulated reader for a given state file (not yet inserted)."""
    made: list[SimulatedReader] = []

    def make(state: Path) -> SimulatedReader:
        reader = SimulatedReader(pcscd, state, tmp_path / f"apdu-{len(made)}.log")
        made.append(reader)
        return reader

    yield make
    for reader in made:
        reader.remove()
