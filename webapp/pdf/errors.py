"""Errors of the PDF layer, each with a code for programs and a message in Japanese and English."""

from __future__ import annotations

from typing import Any


class PdfError(Exception):
    """A PDF step that failed in a way a person must be told about."""

    def __init__(self, code: str, message_ja: str, message_en: str) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_ja = message_ja
        self.message_en = message_en

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable whatever a subclass's `__init__` takes: PDF work runs in worker
        processes (`webapp.pdf.workers`) and its errors come back from them."""
        return (_rebuilt, (type(self), self.args, dict(self.__dict__)))


def _rebuilt(kind: type[PdfError], args: tuple[Any, ...], state: dict[str, Any]) -> PdfError:
    error = kind.__new__(kind)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class PdfRejected(PdfError):  # noqa: N818 - the name the issue gives it
    """An uploaded file that the service will not take (codes: see `webapp.pdf.inspect`)."""


class SealingError(PdfError):
    """A seal, validation-data or timestamp step that did not happen; nothing was written.

    The caller keeps the document as it was. `retryable` says whether trying again later
    can help (a service was down) or not (a certificate in the document is revoked or
    cannot be trusted).
    """

    retryable = False


class TimestampUnavailable(SealingError):  # noqa: N818 - the name the issue gives it
    """The time-stamping authority could not be reached or refused to answer."""

    retryable = True

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "timestamp_unavailable",
            "タイムスタンプ局に接続できないため、処理を完了できませんでした。"
            "文書は変更されていません。しばらくしてから再度お試しください。",
            "The time-stamping authority could not be reached, so the step was not completed. "
            "The document is unchanged; please try again later.",
        )
        self.detail = detail


class ValidationDataUnavailable(SealingError):  # noqa: N818 - like TimestampUnavailable
    """Certificates or revocation data (OCSP, CRL) for a signature could not be obtained."""

    retryable = True

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "validation_data_unavailable",
            "署名の検証情報（失効情報など）を取得できないため、処理を完了できませんでした。"
            "文書は変更されていません。しばらくしてから再度お試しください。",
            "The validation data of a signature (revocation information and certificates) "
            "could not be obtained, so the step was not completed. The document is unchanged; "
            "please try again later.",
        )
        self.detail = detail
