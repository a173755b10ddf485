"""Tests of the vpcd client (jpkisim.vpcd) against a fake vpcd server on a loopback port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from jpkisim.card import SimulatedCard
from jpkisim.vpcd import LinkEnd, VpcdLink, frame
from tests.sim.test_card_sim import SELECT_AP, read, select_ef, verify
from tests.sim.test_state import SIGNING_PASSWORD, card_material, make_state

TIMEOUT = 5.0  # generous: only reached when a test fails


class FakeVpcdConnection:
    """The reader side of one connection, speaking vpcd's framing."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(TIMEOUT)

    def send(self, payload: bytes) -> None:
        self.sock.sendall(frame(payload))

    def receive(self) -> bytes:
        header = self._exactly(2)
        return self._exactly(int.from_bytes(header, "big"))

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed by the card side")
            data += chunk
        return data

    def control(self, code: int) -> None:
        self.send(bytes([code]))

    def atr(self) -> bytes:
        self.control(0x04)
        return self.receive()

    def transmit(self, command: bytes) -> bytes:
        self.send(command)
        return self.receive()

    def sw(self, command: bytes) -> int:
        return int.from_bytes(self.transmit(command)[-2:], "big")

    def assert_closed_by_card(self) -> None:
        """The card side closed the socket: the next read sees end of file."""
        assert self.sock.recv(1) == b""

    def close(self) -> None:
        self.sock.close()


class FakeVpcd:
    """A listening socket standing in for vpcd inside pcscd."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(4)
        self.listener.settimeout(TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.connections: list[FakeVpcdConnection] = []

    def accept(self) -> FakeVpcdConnection:
        sock, _ = self.listener.accept()
        connection = FakeVpcdConnection(sock)
        self.connections.append(connection)
        return connection

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        self.listener.close()


@dataclass
class RunningLink:
    link: VpcdLink
    stop: threading.Event
    thread: threading.Thread
    result: list[LinkEnd] = field(default_factory=list)

    def finish(self) -> LinkEnd:
        self.stop.set()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()
        return self.result[0]


def start_link(card: SimulatedCard, port: int) -> RunningLink:
    link = VpcdLink(card, "127.0.0.1", port, retry_interval=0.02, poll_interval=0.02)
    stop = threading.Event()
    running = RunningLink(link, stop, threading.Thread(target=lambda: None))
    running.thread = threading.Thread(
        target=lambda: running.result.append(link.run(stop)), daemon=True
    )
    running.thread.start()
    return running


@pytest.fixture
def server() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


@pytest.fixture
def card() -> SimulatedCard:
    card_material()
    return SimulatedCard(make_state())


@pytest.fixture
def running(card: SimulatedCard, server: FakeVpcd) -> Iterator[RunningLink]:
    link = start_link(card, server.port)
    yield link
    link.stop.set()
    link.thread.join(TIMEOUT)


def test_frame_is_length_prefixed() -> None:
    assert frame(b"\x90\x00") == b"\x00\x02\x90\x00"
    assert frame(b"") == b"\x00\x00"
    assert frame(bytes(0xFFFF))[:2] == b"\xff\xff"
    with pytest.raises(ValueError, match="too long"):
        frame(bytes(0x10000))


def test_atr_and_apdus(card: SimulatedCard, server: FakeVpcd, running: RunningLink) -> None:
    conn = server.accept()
    assert conn.atr() == bytes.fromhex("3BE000FF8131FE4514")
    conn.control(0x01)
    assert conn.transmit(SELECT_AP) == b"\x90\x00"
    assert conn.sw(select_ef(0x0006)) == 0x9000
    assert conn.transmit(read(0, 0)) == b"JPKIAPICCTOKEN2".ljust(32, b"\x00") + b"\x90\x00"
    assert running.link.connected.is_set()
    assert running.finish() is LinkEnd.STOPPED
    conn.assert_closed_by_card()
    assert not running.link.connected.is_set()


@pytest.mark.parametrize("code", [0x00, 0x01, 0x02, 0x03, 0x7F])
def test_control_codes_other_than_atr_get_no_answer(
    server: FakeVpcd, running: RunningLink, code: int
) -> None:
    conn = server.accept()
    conn.control(code)
    # had the control code been answered, that answer would come first
    assert conn.atr() == bytes.fromhex("3BE000FF8131FE4514")


@pytest.mark.parametrize("sequence", [[0x00, 0x01], [0x02]])
def test_power_cycle_and_reset_clear_security_state(
    card: SimulatedCard, server: FakeVpcd, running: RunningLink, sequence: list[int]
) -> None:
    conn = server.accept()
    conn.control(0x01)
    assert conn.sw(SELECT_AP) == 0x9000
    assert conn.sw(select_ef(0x001B)) == 0x9000
    assert conn.sw(verify(SIGNING_PASSWORD)) == 0x9000
    assert conn.sw(select_ef(0x0001)) == 0x9000
    assert conn.sw(read(0, 4)) == 0x9000
    for code in sequence:
        conn.control(code)
    conn.atr()  # the control codes have been handled once the ATR comes back
    assert not card.signing_password_verified
    assert conn.sw(SELECT_AP) == 0x9000
    assert conn.sw(select_ef(0x0001)) == 0x9000
    assert conn.sw(read(0, 4)) == 0x6982


def test_messages_split_and_joined_arbitrarily(server: FakeVpcd, running: RunningLink) -> None:
    conn = server.accept()
    stream = frame(SELECT_AP) + frame(b"\x04") + frame(select_ef(0x0006)) + frame(read(0, 4))
    for i in range(len(stream)):  # one byte at a time
        conn.sock.sendall(stream[i : i + 1])
    assert conn.receive() == b"\x90\x00"
    assert conn.receive() == bytes.fromhex("3BE000FF8131FE4514")
    assert conn.receive() == b"\x90\x00"
    assert conn.receive() == b"JPKI\x90\x00"
    conn.sock.sendall(frame(SELECT_AP) * 3)  # several in one segment
    assert [conn.receive() for _ in range(3)] == [b"\x90\x00"] * 3


def test_long_response_is_framed(server: FakeVpcd) -> None:
    card = SimulatedCard(make_state(extended_length=True))
    running = start_link(card, server.port)
    try:
        conn = server.accept()
        assert conn.sw(SELECT_AP) == 0x9000
        assert conn.sw(select_ef(0x000A)) == 0x9000
        response = conn.transmit(bytes.fromhex("00B00000000000"))
        assert len(response) == 0x0800 + 2
        assert response.startswith(card_material().auth_cert_der)
        assert response.endswith(b"\x90\x00")
    finally:
        running.finish()


def test_connects_with_retry(card: SimulatedCard, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there yet
    failures: list[OSError] = []
    failed_twice = threading.Event()
    real_connect = socket.create_connection

    def counting_connect(*args: object, **kwargs: object) -> socket.socket:
        try:
            return real_connect(*args, **kwargs)  # type: ignore[arg-type]
        except OSError as exc:
            failures.append(exc)
            if len(failures) >= 2:
                failed_twice.set()
            raise

    monkeypatch.setattr(socket, "create_connection", counting_connect)
    running = start_link(card, port)
    try:
        assert failed_twice.wait(TIMEOUT)
        assert not running.link.connected.is_set()
        server = FakeVpcd(port)
        try:
            conn = server.accept()
            assert conn.atr() == card.atr
            assert running.link.connections == 1
        finally:
            server.close()
    finally:
        running.finish()


def test_stop_while_never_connected(card: SimulatedCard) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    running = start_link(card, port)
    assert running.finish() is LinkEnd.STOPPED
    assert running.link.connections == 0


def test_card_removed_fault_closes_and_reconnects(server: FakeVpcd) -> None:
    card = SimulatedCard(make_state(remove_after_apdus=3))
    running = start_link(card, server.port)
    try:
        conn = server.accept()
        conn.control(0x01)
        assert conn.sw(SELECT_AP) == 0x9000
        assert conn.sw(select_ef(0x001B)) == 0x9000
        assert conn.sw(verify(SIGNING_PASSWORD)) == 0x9000
        conn.send(select_ef(0x001A))  # the card leaves the field: no answer, socket closed
        conn.assert_closed_by_card()
        assert card.removed
        card.reinsert()
        again = server.accept()
        assert again.atr() == card.atr
        again.control(0x01)
        assert again.sw(SELECT_AP) == 0x9000
        assert again.sw(select_ef(0x0001)) == 0x9000
        assert again.sw(read(0, 4)) == 0x6982  # a fresh session
        assert running.link.connections == 2
    finally:
        assert running.finish() is LinkEnd.STOPPED


def test_card_removed_while_idle(card: SimulatedCard, server: FakeVpcd) -> None:
    running = start_link(card, server.port)
    try:
        conn = server.accept()
        assert conn.sw(SELECT_AP) == 0x9000
        card.remove()
        conn.assert_closed_by_card()
        card.reinsert()
        assert server.accept().atr() == card.atr
    finally:
        running.finish()


def test_quick_remove_and_reinsert_is_seen(card: SimulatedCard, server: FakeVpcd) -> None:
    running = start_link(card, server.port)
    try:
        conn = server.accept()
        assert conn.atr() == card.atr
        card.remove()
        card.reinsert()  # before the link had a chance to look
        conn.assert_closed_by_card()
        assert server.accept().atr() == card.atr
        assert running.link.connections == 2
    finally:
        running.finish()


def test_link_waits_for_a_removed_card_before_connecting(
    card: SimulatedCard, server: FakeVpcd
) -> None:
    card.remove()
    running = start_link(card, server.port)
    try:
        server.listener.settimeout(0.3)
        with pytest.raises(TimeoutError):
            server.accept()  # no card: nobody connects
        server.listener.settimeout(TIMEOUT)
        card.reinsert()
        assert server.accept().atr() == card.atr
    finally:
        running.finish()


def test_peer_close_ends_run(server: FakeVpcd, running: RunningLink) -> None:
    conn = server.accept()
    assert conn.atr()
    conn.close()
    running.thread.join(TIMEOUT)
    assert not running.thread.is_alive()
    assert running.result == [LinkEnd.PEER_CLOSED]


def test_serve_forever_reconnects_until_stopped(card: SimulatedCard, server: FakeVpcd) -> None:
    link = VpcdLink(card, "127.0.0.1", server.port, retry_interval=0.02, poll_interval=0.02)
    thread = threading.Thread(target=link.serve_forever, daemon=True)
    thread.start()
    try:
        first = server.accept()
        assert first.atr() == card.atr
        first.close()  # pcscd restarted
        second = server.accept()
        assert second.atr() == card.atr
    finally:
        link.stop()
        thread.join(TIMEOUT)
    assert not thread.is_alive()
    second.assert_closed_by_card()


def test_simulator_bug_answers_6f00(
    card: SimulatedCard, server: FakeVpcd, running: RunningLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(command: bytes) -> bytes:
        raise RuntimeError("bug")

    conn = server.accept()
    assert conn.sw(SELECT_AP) == 0x9000
    monkeypatch.setattr(card, "process_apdu", broken)
    assert conn.transmit(SELECT_AP) == b"\x6f\x00"
    assert conn.atr() == card.atr  # the link is still serving


def test_apdu_to_unpowered_card_powers_it(
    card: SimulatedCard, server: FakeVpcd, running: RunningLink
) -> None:
    conn = server.accept()
    conn.control(0x00)
    assert conn.sw(SELECT_AP) == 0x9000
    assert card.powered
