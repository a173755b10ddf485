"""The certificate's layout on its own: what people typed is printed, never followed."""

from __future__ import annotations

import datetime
from pathlib import Path

from tests.webapp.records.conftest import pdffonts, pdftotext
from webapp.certificate.facts import CardSigner, CertificateFacts, PartyFacts, Step
from webapp.certificate.render import render_pdf

HOSTILE = '<img src="http://127.0.0.1:9/x.png"><style>@import url(http://127.0.0.1:9/a.css)</style>'


def test_markup_in_a_title_or_name_is_printed_as_text(tmp_path: Path) -> None:
    at = datetime.datetime(2026, 12, 6, 3, 4, 5, tzinfo=datetime.UTC)
    facts = CertificateFacts(
        certificate_id="C" * 26, document_id="D" * 26, title=f"契約 {HOSTILE}",
        final_sha256="ab" * 32, final_revision=4, sender_name="送信 太郎",
        sender_email="sender@example.jp", sent_at=at, closing_timestamp_at=at,
        timestamp_authority=None, issued_at=at, service_url="https://sign.example.jp",
        parties=[
            PartyFacts(
                1, "髙橋 <b>一郎</b>", "ichiro@example.jp", False, None,
                [Step(at, ("開封", "Opened"), ("メールのリンク", "Mail link"), "192.0.2.7")],
                CardSigner("髙橋 一郎", "0A1B", "JPKI"),
            )
        ],
    )  # fmt: skip
    path = tmp_path / "certificate.pdf"
    with path.open("wb") as output:
        render_pdf(facts, output)  # a fetch would fail: `_fetch_nothing` refuses every URL
    text = " ".join(pdftotext(path).split())
    assert "契約 <img src=" in text and "<style>@import" in text
    assert "髙橋 <b>一郎</b>" in text
    assert "2026-12-06 12:04:05 JST" in text  # Japan time, to the second
    assert "192.0.2.7" in text and "0A1B" in text
    assert "Noto-Sans-CJK-JP" in pdffonts(path)
