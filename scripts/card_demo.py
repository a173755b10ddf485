"""`make run` for now: a test PKI, a simulated card on a virtual PC/SC reader, one signature.

It goes through the same stack a real card on a USB reader uses: pcscd, the reader driver
(vsmartcard's vpcd), the driver in `card/`, and a CMS signature checked the way the web
service will check it. Without root (no pcscd of our own) it talks to the card in-process.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

from card.certificate import JpkiCertificate
from card.cms import build_signed_data
from card.cms_check import verify_signed_data
from card.connection import CallableConnection, CardConnection
from card.jpki import JpkiCardToken, JpkiSession
from card.pcsc import PcscConnection
from jpkisim.card import SimulatedCard
from jpkisim.pcscd import PrivatePcscd
from jpkisim.pki import TestPki
from jpkisim.served import ServedCard
from jpkisim.state import CardState

DEMO_PASSWORD = "DEMO1234"  # noqa: S105 - the demo card's test password


def sign_with(connection: CardConnection, document: bytes) -> None:
    session = JpkiSession(connection)
    token_info = session.read_token()
    tries = session.signing_password_tries_left()
    print(f"  card: {token_info.kind.name} ({token_info.text}), password tries left: {tries}")
    session.verify_signing_password(DEMO_PASSWORD)
    token = JpkiCardToken(session)
    digest = hashlib.sha256(document).digest()
    cms = build_signed_data(token, digest)
    verified = verify_signed_data(cms, digest)
    holder = JpkiCertificate.from_der(verified.signer_certificate)
    print(f"  signed {len(document)} bytes: CMS of {len(cms)} bytes, signature verified")
    print(f"  signer: {holder.name}, born {holder.birth_date}, certificate valid until "
          f"{holder.not_after:%Y-%m-%d}")  # fmt: skip


def main() -> int:
    document = "売買契約書 / sales contract (demo)".encode()
    with tempfile.TemporaryDirectory(prefix="mynasign-demo-") as work:
        directory = Path(work)
        print("1. a test PKI (TEST roots, never the real JPKI ones)")
        pki = TestPki.init(directory / "pki")
        print("2. a simulated My Number Card issued by it")
        state = directory / "card.json"
        CardState.from_issued(
            pki.issue_card(), signing_password=DEMO_PASSWORD, auth_pin="1234"
        ).save(state)
        if os.geteuid() != 0:
            print("3. not root: no private pcscd, so the card is used in-process")
            card = SimulatedCard(CardState.load(state), state)
            sign_with(CallableConnection(card.process_apdu, card.atr), document)
            return 0
        print("3. a private pcscd with a virtual reader, and the card put on it")
        with PrivatePcscd() as pcscd:
            served = ServedCard(pcscd, state, directory / "apdu.log")
            served.insert()
            try:
                with PcscConnection(served.reader) as connection:
                    print(f"4. signing through PC/SC on {connection.reader!r}")
                    sign_with(connection, document)
                    print(f"  {connection.apdus_sent} APDUs for the whole exchange")
            finally:
                served.remove()
    print("done. Next: the web service takes this command's place.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
