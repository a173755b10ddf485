"""Why the service refuses a card signature: a stable code and a message in Japanese and English.

The bridge shows the message to the person holding the card, so messages say what to do
and never carry anything from the certificate (name, address, serial). What went wrong
in detail, for the operator's log, is in `detail`, which is not part of `str(exc)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from card.cms_check import CmsCheckCode


class RejectionCode(StrEnum):
    """Reasons found after the CMS itself checked out (the CMS's own are `CmsCheckCode`)."""

    UNTRUSTED_CERTIFICATE = "untrusted_certificate"
    CERTIFICATE_EXPIRED = "certificate_expired"
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
    KEY_USAGE = "key_usage"
    CERTIFICATE_REVOKED = "certificate_revoked"
    REVOCATION_UNKNOWN = "revocation_unknown"


_FORMAT = (
    "署名データの形式が想定と異なります。最新のアプリでもう一度署名してください。",
    "The signature data is not in the expected format. Please sign again with an up-to-date app.",
)
_GENERIC = ("署名を受け付けられませんでした。", "The signature was not accepted.")

REJECTION_MESSAGES: Mapping[str, tuple[str, str]] = {
    **{code.value: _FORMAT for code in CmsCheckCode},
    CmsCheckCode.MESSAGE_DIGEST_MISMATCH: (
        "署名された文書がこのセッションの文書と一致しません。",
        "The signature is not for this session's document.",
    ),
    CmsCheckCode.CERTIFICATE_MISSING: (
        "署名データに署名用電子証明書が含まれていません。",
        "The signature does not include the signing certificate.",
    ),
    CmsCheckCode.SIGNING_CERTIFICATE_MISMATCH: (
        "署名データが示す証明書と添付された証明書が一致しません。",
        "The signature names another certificate than the one attached to it.",
    ),
    CmsCheckCode.BAD_SIGNATURE: (
        "署名を検証できませんでした。もう一度署名してください。",
        "The signature does not verify. Please sign again.",
    ),
    RejectionCode.UNTRUSTED_CERTIFICATE: (
        "マイナンバーカードの署名用電子証明書であることを確認できませんでした。",
        "The certificate is not a trusted My Number Card signing certificate.",
    ),
    RejectionCode.CERTIFICATE_EXPIRED: (
        "署名用電子証明書の有効期限が切れています。市区町村の窓口で更新してください。",
        "The signing certificate has expired. It can be renewed at your municipal office.",
    ),
    RejectionCode.CERTIFICATE_NOT_YET_VALID: (
        "署名用電子証明書はまだ有効になっていません。",
        "The signing certificate is not valid yet.",
    ),
    RejectionCode.KEY_USAGE: (
        "この証明書は文書への署名に使えません。署名用電子証明書で署名してください。",
        "This certificate may not be used to sign documents. Please sign with the card's "
        "signing certificate.",
    ),
    RejectionCode.CERTIFICATE_REVOKED: (
        "署名用電子証明書が失効しています（氏名や住所の変更でも失効します）。"
        "市区町村の窓口で新しい証明書の発行を受けてください。",
        "The signing certificate has been revoked (a change of name or address also revokes "
        "it). A new one can be issued at your municipal office.",
    ),
    RejectionCode.REVOCATION_UNKNOWN: (
        "証明書の失効状況を確認できませんでした。しばらくしてからもう一度お試しください。",
        "The revocation status of the certificate could not be checked. Please try again later.",
    ),
}
"""The message pair (ja, en) of every code this package raises."""


class CardSignatureRejected(Exception):  # noqa: N818 - the name the issue gives it
    """A card signature the service will not embed; `code` is stable and lower-case."""

    def __init__(
        self,
        code: str,
        message_ja: str | None = None,
        message_en: str | None = None,
        *,
        detail: str = "",
    ) -> None:
        code = str(code)
        default_ja, default_en = REJECTION_MESSAGES.get(code, _GENERIC)
        self.code = code
        self.message_ja = message_ja if message_ja is not None else default_ja
        self.message_en = message_en if message_en is not None else default_en
        self.detail = detail
        """What exactly failed, for the log; never shown to the person, never personal data."""
        super().__init__(f"{code}: {self.message_en}")
