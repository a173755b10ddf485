"""The message catalogue: both languages for every key, the same placeholders, every key used."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bridge.messages import CATALOGUE, Messages, text
from bridge.protocol import Stage

BRIDGE = Path(__file__).resolve().parents[2] / "bridge"


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_both_languages_say_the_same_things(key: str) -> None:
    ja, en = CATALOGUE[key]
    assert ja and en
    assert placeholders(en) == placeholders(ja), key
    assert re.search(r"[ぁ-んァ-ン一-龯]", ja) or key in {"readers_card"}, f"{key} is not Japanese"


def test_every_key_is_used_somewhere() -> None:
    sources = "\n".join(
        path.read_text() for path in BRIDGE.rglob("*.py") if path.name != "messages.py"
    )
    dynamic = {f"stage_{stage.value}" for stage in Stage}
    dynamic |= {"ask_card_reader", "ask_card_sim", "ask_card_pkcs11"}
    dynamic |= {"cli_sign", "cli_readers", "cli_check"}
    dynamic |= {"url_malformed", "url_insecure", "url_scheme", "url_path", "url_token"}
    dynamic |= {"app_order_password_first", "app_order_card_first"}  # the app's order choice
    unused = [key for key in CATALOGUE if f'"{key}"' not in sources and key not in dynamic]
    assert unused == []


def test_missing_parameters_do_not_break_a_message() -> None:
    assert text("en", "card_wrong_password") == "Wrong password:  tries left"
    assert Messages("en")("card_wrong_password", tries_left=3) == "Wrong password: 3 tries left"
    assert Messages("fr").lang == "ja"
