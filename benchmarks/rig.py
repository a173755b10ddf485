"""The benchmark rig: a private pcscd, a test PKI, a simulated card served to the reader."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jpkisim.pcscd import PrivatePcscd
from jpkisim.pki import TestPki
from jpkisim.served import ServedCard
from jpkisim.state import CardState
from webapp.audit.actor import Audit
from webapp.db.models import ActorKind, User
from webapp.services.accounts import sign_up
from webapp.services.context import ServiceContext
from webapp.services.documents import (
    DocumentFields,
    add_recipient,
    create_document,
    send_document,
)

PASSWORD = "BENCH1234"


@contextmanager
def card_on_reader(**knobs: Any) -> Iterator[ServedCard]:
    """A fresh test PKI and card, served on the private pcscd's first virtual reader."""
    directory = Path(tempfile.mkdtemp(prefix="mynasign-bench-"))
    try:
        pki = TestPki.init(directory / "pki")
        state = directory / "card.json"
        CardState.from_issued(
            pki.issue_card(), signing_password=PASSWORD, auth_pin="1234", **knobs
        ).save(state)
        with PrivatePcscd() as pcscd:
            served = ServedCard(pcscd, state, directory / "apdu.log")
            served.insert()
            try:
                yield served
            finally:
                served.remove()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --- the web service, in-process: a sender and sent documents with a card party ------------

SENDER_EMAIL = "bench-sender@example.jp"
SENDER_PASSWORD = "kiri-sakura-7-tsuki"
CARD_PARTY_NAME = "試験 花子"
"""The name on the cards the benchmarks issue, and of the party who must sign with one."""


def new_sender(context: ServiceContext) -> User:
    """A sender account on the running service."""
    with context.sessions() as db:
        user = sign_up(db, SENDER_EMAIL, SENDER_PASSWORD, "ベンチ 送信")
        db.commit()
        db.expunge(user)
    return user


def sent_card_document(
    context: ServiceContext, owner: User, source: Path, *, second_party: bool
) -> str:
    """Upload `source` and send it; party 1 must sign with the card. Party 1's recipient id.

    Blocking, as the service functions are (PDF steps run on a private event loop of the
    calling thread): call it from a thread with no running loop, or through `off_loop`.

    With `second_party`, a second party (no card) follows, so party 1's signature does
    not complete the document and the closing step stays out of what is measured.
    """
    who = Audit(ActorKind.SENDER, owner.id)
    with context.sessions() as db, source.open("rb") as upload:
        document = create_document(
            context, db, owner, upload, fields=DocumentFields(title="業務委託契約書"), who=who
        )
        party = add_recipient(
            db, document, name=CARD_PARTY_NAME, email="hanako@example.jp", access_code=None,
            require_card=True, who=who,
        )  # fmt: skip
        if second_party:
            add_recipient(
                db, document, name="乙 次郎", email="jiro@example.jp", access_code=None,
                require_card=False, who=who,
            )  # fmt: skip
        db.commit()
        document_id, recipient_id = document.id, party.id
    send_document(context, owner, document_id, who)
    return recipient_id
