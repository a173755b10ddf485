"""Why the service refuses a PDF: one code per reason, each with Japanese and English words.

The web service answers `pdf_<code>` (see `webapp.services.documents`); the texts tell the
sender what is wrong and, where they can, what to do about it.
"""

from __future__ import annotations

from webapp.pdf.errors import PdfRejected

_RESAVE_JA = "PDFを作成したアプリケーションで保存し直すか、「PDFとして印刷」してから"
_RESAVE_EN = "Save the PDF again from the application that made it (or print it to PDF) and "

TEXTS: dict[str, tuple[str, str]] = {
    "empty": ("ファイルが空です。", "The file is empty."),
    "no_pages": ("PDFにページがありません。", "The PDF has no pages."),
    "too_large": (
        "ファイルが大きすぎます（上限は {limit}）。",
        "The file is too large (the limit is {limit}).",
    ),
    "too_many_pages": (
        "ページ数が多すぎます（上限は {limit} ページ）。",
        "The PDF has too many pages (the limit is {limit}).",
    ),
    "not_pdf": (
        "PDFファイルとして読み取れません。ファイルが壊れていないか確認してください。",
        "This file cannot be read as a PDF. Check that the file is not damaged.",
    ),
    "damaged": (
        "PDFの構造が壊れているため読み取れません（途中で切れている、相互参照表が正しくない等）。"
        + _RESAVE_JA
        + "アップロードしてください。",
        "The PDF's structure is damaged (cut off, or its cross-reference data is wrong), so "
        "it cannot be read. " + _RESAVE_EN + "upload it again.",
    ),
    "trailing_data": (
        "PDFの終わり（%%EOF）の後に {count} バイトの余分なデータがあります。"
        "別のデータが隠れている可能性があるため受け付けられません。"
        + _RESAVE_JA
        + "アップロードしてください。",
        "The file has {count} bytes of extra data after the end of the PDF (%%EOF). It is "
        "not accepted because other data could be hidden there. " + _RESAVE_EN + "upload it again.",
    ),
    "encrypted": (
        "パスワードで保護（暗号化）されたPDFは受け付けられません。"
        "保護を解除してからアップロードしてください。",
        "Password-protected (encrypted) PDFs are not accepted. "
        "Remove the protection and upload the file again.",
    ),
    "too_complex": (
        "PDFの構造が複雑すぎるため、制限時間・メモリ内で確認できませんでした。"
        + _RESAVE_JA
        + "アップロードしてください。",
        "The PDF is too complex to be checked within the time and memory the service allows. "
        + _RESAVE_EN
        + "upload it again.",
    ),
    "too_many_objects": (
        "PDF内のオブジェクト数が多すぎます（上限は {limit}）。",
        "The PDF contains too many objects (the limit is {limit}).",
    ),
    "structure_too_deep": (
        "PDFの構造の入れ子が深すぎます（{what}）。" + _RESAVE_JA + "アップロードしてください。",
        "The PDF's structure is nested too deeply ({what}). " + _RESAVE_EN + "upload it again.",
    ),
    "stream_too_large": (
        "PDF内の圧縮データを展開すると大きくなりすぎます（{what}）。受け付けられません。",
        "Compressed data in the PDF expands to too much ({what}); the file is not accepted.",
    ),
    "page_tree_invalid": (
        "PDFのページ構成（ページツリー）が正しくありません（{what}）。"
        + _RESAVE_JA
        + "アップロードしてください。",
        "The PDF's list of pages (its page tree) is invalid ({what}). "
        + _RESAVE_EN
        + "upload it again.",
    ),
    "active_content": (
        "このPDFには、契約書に不要で受信者に危険な動的要素が含まれているため受け付けられません: "
        "{found}。これらを取り除いたPDF（「PDFとして印刷」など）をアップロードしてください。",
        "This PDF contains active content that a contract does not need and that puts "
        "recipients at risk: {found}. Upload a PDF without it (for example, print it to PDF).",
    ),
    "locked_by_signature": (
        "このPDFには変更を禁止する電子署名（作成者署名・DocMDP）が付いているため、"
        "文書IDの記入や署名の追加ができません。署名前のPDFをアップロードしてください。",
        "This PDF carries a signature that forbids any change (an author signature, DocMDP), "
        "so the document ID and the signatures cannot be added. Upload the PDF as it was "
        "before it was signed.",
    ),
    "signed": (
        "このPDFにはすでに電子署名が含まれています。サービス外の署名は検証して締結を完了できない"
        "ため、署名前のPDFをアップロードしてください。",
        "This PDF already contains a digital signature. A signature made outside the service "
        "cannot be validated to complete the document; upload the PDF as it was before it "
        "was signed.",
    ),
    "form_invalid": (
        "PDFのフォーム（入力欄）の構造が正しくありません（{what}）。"
        + _RESAVE_JA
        + "アップロードしてください。",
        "The PDF's form (its fields) is invalid ({what}). " + _RESAVE_EN + "upload it again.",
    ),
}
"""Code -> (Japanese, English); `{name}` is filled in from the refusal's parameters."""

Words = tuple[str, str]
"""A parameter said in Japanese and in English."""


def refusal(code: str, **params: object) -> PdfRejected:
    """The `PdfRejected` for `code`, its texts filled in with `params` (a `Words` pair gives
    each language its own words; anything else is used as it is in both)."""
    ja, en = TEXTS[code]
    in_ja = {k: v[0] if isinstance(v, tuple) else v for k, v in params.items()}
    in_en = {k: v[1] if isinstance(v, tuple) else v for k, v in params.items()}
    return PdfRejected(code, ja.format(**in_ja), en.format(**in_en))
