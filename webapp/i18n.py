"""Japanese and English texts of the web service, read from gettext catalogues; Japanese by default.

The texts live in `webapp/locale/<lang>/LC_MESSAGES/mynasign.po`, one catalogue per
language (`ja`, `en`). Choices, as a localisation engineer would make them here:

- **The msgid is the text's key** (`card_page_title`), not the English sentence. Both
  languages are first-class (Japanese is the default, not a translation of English), the
  keys are what the code, the templates, the tests and the API's error `code`s already
  use, and rewording the English must not orphan the Japanese. The English catalogue
  therefore carries the source text in its msgstr like the Japanese one; a `#.` comment
  above a message gives context where it helps.
- **Placeholders stay `str.format` fields** (`{retry_after}`), filled by `text()`. Both
  catalogues must have the same keys with the same placeholders: checked when the
  catalogues are read (the service refuses to start) and by `tests/webapp/i18n`.
- **Read from the .po files with Babel at start**, not compiled to .mo: about 65 ms once
  per process for ~500 messages in each language (Babel's import included), against a
  build step that would have to run on every install, editable ones too, and a binary in
  the package that could disagree with its .po. Strict where gettext is lenient: a
  fuzzy, empty, duplicated, plural or context-bound entry is refused when read, and an
  unknown key raises `KeyError` instead of showing the key to a person.
- **Jinja2's i18n extension** (`jinja2.ext.i18n`) gives the templates `_("key", name=...)`
  and `gettext`, through callables that take the language from the page's `lang`
  variable, so one shared environment serves both languages; `t(...)` is the same
  function under the name the templates have used. The callables are old-style (not
  `newstyle`): newstyle would `%`-format and mark the text safe, where ours are
  `{name}`-formatted plain text that autoescaping escapes with its parameters. Use
  `_("key", ...)` rather than `{% trans %}` blocks, whose `%(name)s` fields ours are not.

To add a text, add the key with its text to both catalogues (ja and en), with the same
placeholders. `TEXTS` is every key with its (Japanese, English) text, read-only.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from babel.messages.pofile import PoFileError, read_po
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from starlette.requests import Request

Language = Literal["ja", "en"]
LANGUAGE_COOKIE = "mynasign_lang"
DOMAIN = "mynasign"
LOCALE_DIR = Path(__file__).with_name("locale")

# Being moved to webapp/locale/{ja,en}/LC_MESSAGES/mynasign.po (issue 13): until then new
# entries still go here and are carried over; they win over the catalogues' texts.
_LEGACY_TEXTS: dict[str, tuple[str, str]] = {
    # general
    "app_name": ("mynasign", "mynasign"),
    "switch_language": ("English", "日本語"),
    "error_title": ("エラー", "Error"),
    "not_found": ("ページが見つかりません。", "The page was not found."),
    "csrf_failed": (
        "フォームの有効期限が切れました。ページを再読み込みしてもう一度お試しください。",
        "The form has expired. Reload the page and try again.",
    ),
    "login_required": ("ログインしてください。", "Please sign in."),
    "invalid_token": ("認証情報が無効です。", "The credentials are not valid."),
    # sender accounts
    "password_too_short": ("パスワードは10文字以上にしてください。", "Use at least 10 characters."),
    "password_too_long": ("パスワードは256文字以内にしてください。", "Use at most 256 characters."),
    "password_too_common": (
        "よく使われるパスワードは使えません。",
        "That password is too common.",
    ),
    "password_contains_email": (
        "メールアドレスを含むパスワードは使えません。",
        "The password must not contain your e-mail address.",
    ),
    "email_taken": (
        "このメールアドレスは登録済みです。",
        "An account with this e-mail address exists.",
    ),
    "login_failed": (
        "メールアドレスまたはパスワードが違います。",
        "The e-mail address or password is wrong.",
    ),
    "login_locked": (
        "ログインの失敗が続いたため、しばらくお待ちください。",
        "Too many failed sign-ins. Please wait a while.",
    ),
    "totp_required": ("確認コードを入力してください。", "Enter the verification code."),
    "totp_wrong": ("確認コードが違います。", "The verification code is wrong."),
    # documents
    "document_not_found": ("文書が見つかりません。", "The document was not found."),
    "document_not_draft": (
        "送信済みの文書は変更できません。",
        "A document that was sent cannot be changed.",
    ),
    "no_recipients": ("宛先を1人以上追加してください。", "Add at least one recipient."),
    "document_not_cancellable": (
        "この文書は取り消せません。",
        "This document can no longer be cancelled.",
    ),
    "invalid_email": (
        "メールアドレスの形式が正しくありません。",
        "The e-mail address is not valid.",
    ),
    "tsa_unavailable": (
        "タイムスタンプ局に接続できません。しばらくしてからもう一度お試しください。"
        "内容は保存されています。",
        "The timestamp service cannot be reached. Please try again later; nothing was lost.",
    ),
    # recipients
    "link_invalid": (
        "このリンクは無効です。送信者にお問い合わせください。",
        "This link is not valid. Please contact the sender.",
    ),
    "link_expired": (
        "このリンクの有効期限が切れています。送信者にお問い合わせください。",
        "This link has expired. Please contact the sender.",
    ),
    "link_cancelled": (
        "この文書は送信者により取り消されました。",
        "The sender cancelled this document.",
    ),
    "link_forwarded": (
        "この文書は別の方に転送されました。",
        "This document was forwarded to someone else.",
    ),
    "link_used": (
        "この文書への対応は完了しています。",
        "You have already responded to this document.",
    ),
    "terms_required": ("利用規約への同意が必要です。", "Please accept the terms of use."),
    "access_code_wrong": ("アクセスコードが違います。", "The access code is wrong."),
    "access_code_locked": (
        "アクセスコードの誤りが続いたため、しばらくロックされています。",
        "Too many wrong access codes: locked for a while.",
    ),
    "card_signature_required": (
        "この文書にはマイナンバーカードによる署名が必要です。",
        "This document needs a My Number Card signature.",
    ),
    "sender_signs_text": (
        "送信者ご自身もマイナンバーカードで署名する場合は、送信の前に設定してください。"
        "送信すると、他の方に通知される前に、まず送信者が署名します。",
        "If you, the sender, also sign with your My Number Card, say so before sending: "
        "you then sign first, before anyone else is told.",
    ),
    "sender_signs_button": (
        "送信者もマイナンバーカードで署名する",
        "I sign with my My Number Card too",
    ),
    "sender_party_tag": ("送信者", "Sender"),
    "sender_sign_now_text": (
        "送信者の署名が済むまで、受信者には通知されません。",
        "The recipients are told once you have signed.",
    ),
    "sender_sign_now_button": ("マイナンバーカードで署名する", "Sign with my My Number Card"),
    "card_signer_name_label": ("署名した証明書の氏名", "Name in the signing certificate"),
    "card_signer_name_differs": (
        "証明書の氏名が受信者として登録された氏名と異なります（字体やスペースの違いの場合もあります）。"
        "ご確認ください。",
        "The name in the certificate differs from the recipient's name as entered (variant "
        "characters or spacing can cause this). Please check.",
    ),
    "event_recipient_card_signed": (
        "マイナンバーカードで署名",
        "Signed with a My Number Card",
    ),
    "sender_signature_already_required": (
        "送信者の署名はすでに設定されています。",
        "The sender's own signature is already required.",
    ),
    "sender_signature_not_required": (
        "この文書では送信者の署名は求められていません。",
        "This document does not ask for the sender's own signature.",
    ),
    "card_signature_not_required": (
        "この方にはマイナンバーカードによる署名は求められていません。",
        "This party is not asked to sign with a My Number Card.",
    ),
    "card_signing_unavailable": (
        "このサービスではマイナンバーカードによる署名が設定されていません。",
        "My Number Card signing is not configured on this service.",
    ),
    "card_session_not_found": (
        "署名セッションがありません。「次へ」からやり直してください。",
        'There is no card signing session. Start again with "Next".',
    ),
    "card_already_judged": (
        "このセッションの署名はすでに処理されました。",
        "A signature for this session has already been judged.",
    ),
    "card_session_expired": (
        "QRコードの有効期限（10分）が切れました。「QRコードを更新」から新しいQRコードを表示してください。",
        'The QR code has expired (10 minutes). Show a new one with "Refresh QR code".',
    ),
    "card_session_ended": (
        "この署名セッションは終了しています。新しいQRコードでやり直してください。",
        "This signing session has ended. Please start again with a new QR code.",
    ),
    "card_digest_mismatch": (
        "署名された内容がこのセッションの文書と一致しません。",
        "The signature is not for this session's document.",
    ),
    "card_certificate_mismatch": (
        "署名に使われた証明書が、署名の前にカードから読み取った証明書と一致しません。"
        "同じカードで、新しいQRコードからやり直してください。",
        "The signature was made with another certificate than the one read from the card "
        "before signing. Please start again from a new QR code with the same card.",
    ),
    "card_certificate_unreadable": (
        "カードから送られた証明書を読み取れませんでした。マイナンバーカードの署名用電子証明書で"
        "やり直してください。",
        "The certificate sent from the card could not be read. Please try again with the "
        "signing certificate of a My Number Card.",
    ),
    "card_error_wrong_password": (
        "署名用パスワードが違います（残り{tries_left}回）。5回間違えるとロックされます。",
        "Wrong signing password ({tries_left} tries left). Five wrong tries lock it.",
    ),
    "card_error_locked": (
        "署名用パスワードがロックされています。お住まいの市区町村の窓口で解除してください。",
        "The signing password is locked. Have it reset at your municipal office.",
    ),
    "card_error_not_jpki_card": (
        "マイナンバーカードではないカードが読み取られました。",
        "The card read is not a My Number Card.",
    ),
    "card_error_card_removed": (
        "カードが離れました。もう一度カードをかざしてください。",
        "The card was taken away. Please hold it to the reader again.",
    ),
    "card_error_no_reader": (
        "カードリーダーが見つかりません。接続を確認してください。",
        "No card reader found. Please check that it is connected.",
    ),
    "card_error_no_card": (
        "カードが読み取られませんでした。",
        "No card was read.",
    ),
    "card_error_card_failure": (
        "カードの読み取りに失敗しました。カードをかざし直してください。",
        "The card could not be read. Please hold it to the reader again.",
    ),
    "card_error_signature_check_failed": (
        "カードの署名を確認できませんでした。",
        "The card's signature could not be verified.",
    ),
    "card_cancelled": (
        "署名は中止されました。",
        "Signing was cancelled.",
    ),
    "card_cancelled_replaced": (
        "新しいQRコードが表示されたため、このQRコードは使えません。",
        "A new QR code replaced this one.",
    ),
    "card_cancelled_user_cancelled": (
        "署名はアプリで中止されました。",
        "Signing was cancelled in the app.",
    ),
    "card_cancelled_locked": (
        "署名用パスワードがロックされているため中止しました。市区町村の窓口で解除してください。",
        "Stopped: the signing password is locked. Have it reset at your municipal office.",
    ),
    "card_cancelled_wrong_password": (
        "署名用パスワードが違うため中止しました（残り{tries_left}回）。5回間違えるとロックされます。",
        "Stopped: the signing password was wrong ({tries_left} tries left). Five wrong tries "
        "lock it.",
    ),
    "card_cancelled_last_try_refused": (
        "残り1回のため中止しました（間違えるとロックされます）。",
        "Stopped before the last try (a wrong one would lock the password).",
    ),
    "card_cancelled_no_card": (
        "カードが読み取られなかったため中止しました。",
        "Stopped: no card was read.",
    ),
    "card_cancelled_card_removed": (
        "カードが何度も離れたため中止しました。",
        "Stopped: the card was taken away too often.",
    ),
    "card_cancelled_not_jpki_card": (
        "マイナンバーカードではないため中止しました。",
        "Stopped: the card is not a My Number Card.",
    ),
    "card_cancelled_card_failure": (
        "カードの読み取りに失敗したため中止しました。",
        "Stopped: the card could not be read.",
    ),
    "card_cancelled_signature_check_failed": (
        "カードの署名を確認できなかったため中止しました。",
        "Stopped: the card's signature could not be verified.",
    ),
    "card_cancelled_no_password": (
        "署名用パスワードが入力されなかったため中止しました。",
        "Stopped: no signing password was entered.",
    ),
    "card_cancelled_bridge_error": (
        "アプリでエラーが起きたため中止しました。",
        "Stopped: the app ran into an error.",
    ),
    "card_cancelled_document_closed": (
        "この文書は取り消されたか期限切れのため、署名できません。",
        "The document was cancelled or has expired: it can no longer be signed.",
    ),
    "event_card_session_created": ("署名用QRコードを表示", "Card signing QR code shown"),
    "event_card_session_claimed": ("QRコードが読み取られました", "QR code scanned"),
    "event_card_session_card_error": ("カードの操作でエラー", "Card error"),
    "event_card_session_certificate": (
        "署名用電子証明書を確認（署名前）",
        "Signing certificate checked (before signing)",
    ),
    "event_card_session_cancelled": ("カード署名を中止", "Card signing cancelled"),
    "event_card_session_expired": ("QRコードの期限切れ", "QR code expired"),
    "event_card_signature_rejected": ("カード署名を受け付けませんでした", "Card signature refused"),
    "event_recipient_card_consented": (
        "カード署名に同意",
        "Consented to signing with the card",
    ),
    "card_cancelled_no_reader": (
        "カードリーダーが見つからないため中止しました。",
        "Stopped: no card reader was found.",
    ),
    "not_your_turn": (
        "前の方の対応が終わるまでお待ちください。",
        "Please wait until the previous party has responded.",
    ),
    "reason_required": ("理由を入力してください。", "Please give a reason."),
    "card_requirement_kept": (
        "マイナンバーカード署名の要件は転送先にも引き継がれます。",
        "The My Number Card requirement carries over to the new recipient.",
    ),
    "session_expired": (
        "セッションの有効期限が切れました。リンクを開き直してください。",
        "Your session has expired. Open the link again.",
    ),
    # errors of forms (pages and API)
    "title_required": ("件名を入力してください。", "Please enter a title."),
    "name_required": ("お名前を入力してください。", "Please enter a name."),
    "access_code_too_long": (
        "アクセスコードは64文字以内にしてください。",
        "Use at most 64 characters for the access code.",
    ),
    "forward_to_self": (
        "ご自身のメールアドレスには転送できません。",
        "You cannot forward the document to your own address.",
    ),
    "file_required": ("PDFファイルを選んでください。", "Please choose a PDF file."),
    "amount_invalid": (
        "金額は0以上の数字で入力してください（例：120000）。",
        "Enter the amount as a number of 0 or more (e.g. 120000).",
    ),
    "date_invalid": (
        "取引日は「2025-07-01」の形で入力してください。",
        "Enter the transaction date as 2025-07-01.",
    ),
    "request_invalid": (
        "送信された内容を処理できませんでした。もう一度お試しください。",
        "The request could not be processed. Please try again.",
    ),
    # pages: layout
    "skip_to_content": ("本文へ移動", "Skip to content"),
    "nav_label": ("メインメニュー", "Main menu"),
    "nav_documents": ("文書一覧", "Documents"),
    "nav_new_document": ("新しい文書", "New document"),
    "nav_account": ("アカウント", "Account"),
    "nav_logout": ("ログアウト", "Sign out"),
    "footer_text": (
        "mynasign — マイナンバーカードで署名する電子契約",
        "mynasign — contracts signed with a My Number Card",
    ),
    "required_mark": ("（必須）", "(required)"),
    "optional_mark": ("（任意）", "(optional)"),
    "back": ("戻る", "Back"),
    "go_home": ("トップページへ", "Go to the start page"),
    "working": ("処理しています…", "Working…"),
    "copy": ("コピー", "Copy"),
    "copied": ("コピーしました", "Copied"),
    "created_at": ("作成日時", "Created"),
    # pages: accounts
    "login_title": ("ログイン", "Sign in"),
    "login_button": ("ログイン", "Sign in"),
    "signup_title": ("新規登録", "Create an account"),
    "signup_button": ("登録する", "Create account"),
    "signup_problems": (
        "入力内容を確認してください。",
        "Please check what you entered.",
    ),
    "no_account_yet": ("アカウントをお持ちでない方：", "No account yet?"),
    "have_account": ("アカウントをお持ちの方：", "Have an account?"),
    "email_label": ("メールアドレス", "E-mail address"),
    "password_label": ("パスワード", "Password"),
    "password_rule": (
        "10文字以上。よく使われるパスワードやメールアドレスを含むものは使えません。",
        "At least 10 characters; not a common password, not containing your e-mail address.",
    ),
    "display_name_label": ("お名前（会社名）", "Name (or company)"),
    "totp_code_label": ("確認コード", "Verification code"),
    "totp_code_hint": (
        "2段階認証を設定している場合のみ、認証アプリの6桁のコードを入力します。",
        "Only if you set up two-step verification: the 6-digit code from your app.",
    ),
    "notice_signed_out": ("ログアウトしました。", "You are signed out."),
    "notice_signed_out_everywhere": (
        "すべての端末からログアウトし、APIトークンを無効にしました。",
        "You are signed out everywhere and every API token is revoked.",
    ),
    "account_title": ("アカウント", "Account"),
    "totp_title": ("2段階認証（TOTP）", "Two-step verification (TOTP)"),
    "totp_on": ("2段階認証は有効です。", "Two-step verification is on."),
    "totp_off": ("2段階認証は設定されていません。", "Two-step verification is off."),
    "totp_manage": ("2段階認証の設定", "Set up two-step verification"),
    "totp_explain": (
        "ログインのたびに、認証アプリ（Google Authenticator "
        "など）に表示される6桁のコードが必要になります。",
        "Each sign-in will then need the 6-digit code your authenticator app shows.",
    ),
    "totp_replace_warning": (
        "新しい秘密鍵を作ると、今までの認証アプリの登録は使えなくなります。",
        "A new secret replaces the one your authenticator app holds now.",
    ),
    "totp_enable_button": ("2段階認証を有効にする", "Turn on two-step verification"),
    "totp_replace_button": ("新しい秘密鍵を作る", "Make a new secret"),
    "totp_enabled_now": (
        "2段階認証を有効にしました。次回のログインから確認コードが必要です。",
        "Two-step verification is on; the next sign-in needs a code.",
    ),
    "totp_add_to_app": (
        "認証アプリに、次の秘密鍵（または otpauth URI）を登録してください。",
        "Add this secret (or the otpauth URI) to your authenticator app.",
    ),
    "totp_secret_label": ("秘密鍵", "Secret"),
    "totp_uri_label": ("otpauth URI（アプリ登録用）", "otpauth URI"),
    "totp_shown_once": (
        "この画面を閉じると秘密鍵は二度と表示されません。",
        "The secret is not shown again once you leave this page.",
    ),
    "back_to_account": ("アカウントに戻る", "Back to the account"),
    "tokens_title": ("APIトークン", "API tokens"),
    "tokens_intro": (
        "APIトークンを使うと、プログラムから文書を送信できます（Authorization: Bearer）。",
        "An API token lets programs send documents (Authorization: Bearer).",
    ),
    "tokens_manage": ("APIトークンの管理", "Manage API tokens"),
    "token_new_title": ("新しいトークン", "New token"),
    "token_name_label": ("名前", "Name"),
    "token_name_hint": (
        "用途がわかる名前（例：基幹システム連携）",
        "What it is for (e.g. ERP link)",
    ),
    "token_create_button": ("トークンを作る", "Create token"),
    "token_issued_title": ("トークンを作成しました", "Token created"),
    "token_issued_text": (
        "このトークンは今だけ表示されます。安全な場所に保管してください。",
        "This token is shown only now. Keep it somewhere safe.",
    ),
    "token_list_title": ("発行済みのトークン", "Issued tokens"),
    "token_last_used": ("最終利用", "Last used"),
    "token_state": ("状態", "State"),
    "token_active": ("有効", "Active"),
    "token_revoked": ("無効", "Revoked"),
    "token_none": ("まだトークンはありません。", "No tokens yet."),
    "token_revoke_hint": (
        "トークンを無効にするには「すべての端末からログアウト」を使います。",
        "To revoke tokens, use “Sign out everywhere”.",
    ),
    "sign_out_everywhere_title": ("すべての端末からログアウト", "Sign out everywhere"),
    "sign_out_everywhere_text": (
        "この端末を含むすべてのブラウザからログアウトし、すべてのAPIトークンを無効にします。",
        "Ends every browser session, this one included, and revokes every API token.",
    ),
    "sign_out_everywhere_button": ("すべての端末からログアウト", "Sign out everywhere"),
    # pages: documents
    "documents_title": ("文書一覧", "Documents"),
    "documents_none": (
        "まだ文書はありません。「新しい文書」から契約書をアップロードしてください。",
        "No documents yet. Upload a contract with “New document”.",
    ),
    "documents_none_found": ("該当する文書はありません。", "No documents match."),
    "search_label": ("文書の検索", "Search documents"),
    "search_text_label": ("件名・取引先", "Title or counterparty"),
    "search_button": ("検索", "Search"),
    "status_label": ("状態", "Status"),
    "status_any": ("すべて", "Any"),
    "status_draft": ("下書き", "Draft"),
    "status_sent": ("送信済み", "Sent"),
    "status_completed": ("締結済み", "Completed"),
    "status_rejected": ("却下", "Rejected"),
    "status_cancelled": ("取消", "Cancelled"),
    "status_expired": ("期限切れ", "Expired"),
    "document_status_draft": (
        "下書きです。宛先を追加して送信してください。",
        "A draft: add the recipients, then send it.",
    ),
    "document_status_sent": (
        "送信済みです。宛先の方の対応を待っています。",
        "Sent: waiting for the recipients.",
    ),
    "document_status_completed": (
        "全員が同意し、締結が完了しました。署名済みのPDFをダウンロードできます。",
        "Everyone agreed: the document is complete. Download the signed PDF.",
    ),
    "document_status_rejected": (
        "宛先の方が却下しました。理由は宛先の欄をご覧ください。",
        "A recipient rejected it; the reason is with the recipients.",
    ),
    "document_status_cancelled": ("この文書は取り消しました。", "You cancelled this document."),
    "document_status_expired": (
        "有効期限までに対応が終わりませんでした。",
        "The request expired before everyone responded.",
    ),
    "upload_title": ("新しい文書", "New document"),
    "upload_intro": (
        "契約書のPDFをアップロードします。送信するまでは宛先の方に届きません。",
        "Upload the contract as a PDF. Nothing reaches the recipients until you send it.",
    ),
    "file_label": ("PDFファイル", "PDF file"),
    "file_hint": (
        "暗号化されていないPDF（20MB・1,000ページまで）",
        "A PDF without encryption (up to 20 MB and 1,000 pages)",
    ),
    "title_label": ("件名", "Title"),
    "message_label": ("メッセージ", "Message"),
    "message_hint": (
        "宛先の方への依頼メールと文書の画面に表示されます。",
        "Shown in the request mail and on the document page.",
    ),
    "transaction_legend": ("取引情報", "Transaction details"),
    "transaction_hint": (
        "後から検索するための情報です（電子帳簿保存法の検索要件）。",
        "For finding the document later (search by counterparty, amount, date).",
    ),
    "counterparty_label": ("取引先", "Counterparty"),
    "amount_label": ("金額（円）", "Amount (yen)"),
    "amount_hint": ("数字のみ（例：120000）", "Digits only (e.g. 120000)"),
    "transaction_date_label": ("取引日", "Transaction date"),
    "upload_button": ("アップロード", "Upload"),
    "document_facts": ("文書の情報", "About the document"),
    "document_id_label": ("文書ID", "Document ID"),
    "sent_at": ("送信日時", "Sent"),
    "expires_at": ("有効期限", "Expires"),
    "completed_at": ("締結日時", "Completed"),
    "download_pdf": ("PDFをダウンロード", "Download the PDF"),
    "download_signed_pdf": ("署名済みPDFをダウンロード", "Download the signed PDF"),
    "cancel_document": ("この文書を取り消す", "Cancel this document"),
    "cancel_confirm_title": ("文書を取り消しますか？", "Cancel the document?"),
    "cancel_confirm_text": (
        "「{title}」を取り消すと、宛先の方のリンクは使えなくなります。元に戻せません。",
        "Cancelling “{title}” stops every recipient's link. This cannot be undone.",
    ),
    "cancel_confirm_button": ("取り消す", "Cancel the document"),
    "recipients_title": ("宛先（署名順）", "Recipients (in signing order)"),
    "recipients_none": ("宛先はまだありません。", "No recipients yet."),
    "party_order": ("{n}番目", "No. {n}"),
    "party_waiting": ("順番待ち", "Waiting"),
    "party_notified": ("依頼済み", "Asked"),
    "party_opened": ("閲覧済み", "Opened"),
    "party_agreed": ("同意済み", "Agreed"),
    "party_rejected": ("却下", "Rejected"),
    "party_forwarded": ("転送済み", "Forwarded"),
    "party_cancelled": ("取消", "Cancelled"),
    "has_access_code": ("アクセスコードあり", "Access code"),
    "card_required_tag": ("マイナンバーカード署名", "My Number Card signature"),
    "forwarded_in_tag": ("転送で追加", "Added by forwarding"),
    "agreed_at": ("同意日時", "Agreed"),
    "rejected_at": ("却下日時", "Rejected"),
    "reject_reason_label": ("却下の理由", "Reason for rejecting"),
    "add_recipient_title": ("宛先を追加", "Add a recipient"),
    "recipient_name_label": ("お名前", "Name"),
    "access_code_label": ("アクセスコード", "Access code"),
    "access_code_set_hint": (
        "設定すると、宛先の方は文書を開くときに入力します。"
        "コードはメール以外の方法（電話など）でお伝えください。",
        "If set, the recipient types it to open the document. Tell it another way than mail "
        "(by phone, say).",
    ),
    "require_card_label": (
        "マイナンバーカードによる署名を求める",
        "Require a My Number Card signature",
    ),
    "require_card_hint": (
        "この方はマイナンバーカードの署名用電子証明書で署名します。転送しても引き継がれます。",
        "This person signs with the card's signing certificate; it carries over if forwarded.",
    ),
    "add_recipient_button": ("宛先を追加", "Add recipient"),
    "send_title": ("送信", "Send"),
    "send_text": (
        "文書IDを1ページ目に記載し、送信の記録を電子署名して、1番目の宛先の方にメールを送ります。",
        "The document ID is stamped on page 1, the sending is sealed, and the first recipient "
        "gets a mail.",
    ),
    "send_button": ("送信する", "Send"),
    "history_title": ("履歴", "History"),
    "actor_sender": ("送信者", "Sender"),
    "actor_recipient": ("宛先", "Recipient"),
    "actor_system": ("システム", "System"),
    "actor_bridge": ("カード署名", "Card signing"),
    "event_document_uploaded": ("アップロード", "Uploaded"),
    "event_recipient_added": ("宛先を追加", "Recipient added"),
    "event_document_sent": ("送信（文書IDの記載と電子署名）", "Sent (ID stamped and sealed)"),
    "event_recipient_notified": ("依頼メールを送信", "Request mailed"),
    "event_recipient_opened": ("文書を開いた", "Opened"),
    "event_recipient_access_code_failed": (
        "アクセスコードの誤り",
        "Wrong access code",
    ),
    "event_recipient_agreed": ("同意（電子署名）", "Agreed (sealed)"),
    "event_recipient_rejected": ("却下", "Rejected"),
    "event_recipient_forwarded": ("転送", "Forwarded"),
    "event_document_completed": (
        "締結完了（電子署名とタイムスタンプ）",
        "Completed (sealed and timestamped)",
    ),
    "event_document_cancelled": ("取消", "Cancelled"),
    "event_document_expired": ("期限切れ", "Expired"),
    # pages: recipients
    "request_from": ("{sender} 様からの依頼", "A request from {sender}"),
    "open_greeting": (
        "{name} 様、文書の確認と同意のご依頼です。",
        "Dear {name}, you are asked to review and agree to this document.",
    ),
    "terms_title": ("ご利用にあたって", "Terms of use"),
    "terms_text_1": (
        "この画面では、電子契約サービス mynasign を使って文書を閲覧し、"
        "同意・却下・転送ができます。アカウントは不要です。",
        "Here you can read the document and agree, reject or forward it with mynasign. No "
        "account is needed.",
    ),
    "terms_text_2": (
        "同意すると、あなたの同意がサービスの電子署名とタイムスタンプで文書に記録されます。"
        "この同意は書面への署名・押印と同じ意思表示として扱われます。",
        "If you agree, your agreement is recorded in the document with the service's signature "
        "and a timestamp, as your declaration in place of a signature or seal on paper.",
    ),
    "terms_text_3": (
        "操作の記録（日時、IPアドレス、ブラウザの情報）は証跡として保存されます。",
        "What you do is kept on record (time, IP address and browser) as evidence.",
    ),
    "accept_terms_label": ("上記に同意します", "I accept these terms"),
    "access_code_hint": (
        "送信者からメール以外の方法で伝えられたコードです。",
        "The code the sender told you outside the mail.",
    ),
    "open_button": ("文書を開く", "Open the document"),
    "sender_label": ("送信者", "From"),
    "you_label": ("あなた", "You"),
    "message_from_sender": ("送信者からのメッセージ", "Message from the sender"),
    "respond_title": ("ご対応", "Your answer"),
    "agree_intro": (
        "内容をご確認のうえ、同意・転送・却下のいずれかを選んでください。",
        "Once you have read it, agree, forward or reject.",
    ),
    "card_signature_pending": (
        "マイナンバーカードでの署名は、まもなくこの画面から行えるようになります。"
        "担当が異なる場合は転送、内容に問題がある場合は却下を選べます。",
        "Signing with the card will soon be possible on this page. You can still forward the "
        "document to someone else, or reject it.",
    ),
    "agree_button": ("同意する", "Agree"),
    "forward_button": ("転送する", "Forward"),
    "reject_button": ("却下する", "Reject"),
    "agree_confirm_title": ("この文書に同意しますか？", "Agree to this document?"),
    "agree_confirm_text": (
        "「{title}」の内容に同意します。同意は電子署名で記録され、取り消せません。",
        "You agree to “{title}”. Your agreement is sealed and cannot be withdrawn.",
    ),
    "agree_confirm_button": ("同意して署名する", "Agree and seal"),
    "pdf_title": ("文書", "The document"),
    "pdf_frame_title": ("文書「{title}」のPDF", "PDF of “{title}”"),
    "open_pdf_new_tab": ("新しいタブで開く", "Open in a new tab"),
    "pdf_phone_hint": (
        "スマートフォンで表示されない場合は「PDFをダウンロード」からご覧ください。",
        "If it does not show on your phone, use “Download the PDF”.",
    ),
    "you_agreed_waiting": (
        "同意いただきありがとうございます。他の方の対応が終わると、"
        "締結済みのPDFをメールでお送りします。",
        "Thank you for agreeing. When everyone has answered, you will get the signed PDF by mail.",
    ),
    "you_agreed_completed": (
        "締結が完了しました。署名済みのPDFをダウンロードできます。",
        "The document is complete. You can download the signed PDF.",
    ),
    "you_rejected": (
        "この文書を却下しました。送信者にお知らせしています。",
        "You rejected this document; the sender has been told.",
    ),
    "document_rejected_by_other": (
        "この文書は他の方により却下されました。",
        "Another party rejected this document.",
    ),
    "reject_title": ("文書を却下する", "Reject the document"),
    "reject_intro": (
        "却下すると、この文書の手続きは終了し、理由が送信者に伝えられます。",
        "Rejecting ends the request; the sender is told your reason.",
    ),
    "reject_submit": ("却下する", "Reject"),
    "forward_title": ("ほかの方に転送する", "Forward to someone else"),
    "forward_intro": (
        "ご担当の方が異なる場合に転送します。転送先の方に新しいリンクが送られ、"
        "このリンクは使えなくなります。",
        "If someone else should handle this, forward it: they get a new link, and this one "
        "stops working.",
    ),
    "forward_name_label": ("転送先のお名前", "Their name"),
    "forward_message_label": ("メッセージ", "Message"),
    "forward_submit": ("転送する", "Forward"),
    "forwarded_done_title": ("転送しました", "Forwarded"),
    "forwarded_done_text": (
        "{name} 様（{email}）に依頼メールを送りました。",
        "{name} ({email}) has been sent the request.",
    ),
    "forwarded_done_after": (
        "このリンクはもう使えません。この画面は閉じてかまいません。",
        "Your link no longer works. You can close this page.",
    ),
    "link_invalid_title": ("リンクが無効です", "This link is not valid"),
    "link_expired_title": ("有効期限切れ", "This link has expired"),
    "link_cancelled_title": ("取り消された文書です", "The document was cancelled"),
    "link_forwarded_title": ("転送済みです", "The document was forwarded"),
    "link_used_title": ("対応済みです", "Already answered"),
    "link_state_help": (
        "ご不明な点は、依頼メールの送信者にお問い合わせください。",
        "If anything is unclear, please contact the sender of the request mail.",
    ),
    "agreed_done_title": ("同意しました", "You agreed"),
    "agreed_done_completed": (
        "全員の同意がそろい、締結が完了しました。"
        "署名済みPDFをダウンロードできるリンクをメールでお送りしました。",
        "Everyone has agreed: the document is complete. "
        "A mail with a link to the signed PDF is on its way.",
    ),
    "agreed_done_after": (
        "この画面は閉じてかまいません。",
        "You can close this page.",
    ),
    # pages: My Number Card signing (webapp/card_signing/pages.py)
    "card_page_sign_button": ("マイナンバーカードで署名", "Sign with My Number Card"),
    "card_page_intro": (
        "内容をご確認のうえ、マイナンバーカードの署名用電子証明書で署名してください。"
        "担当が異なる場合は転送、内容に問題がある場合は却下を選べます。",
        "Once you have read it, sign with your My Number Card's signing certificate. You can "
        "also forward the document to someone else, or reject it.",
    ),
    "card_page_consent_title": (
        "マイナンバーカードで署名する前に",
        "Before you sign with your My Number Card",
    ),
    "card_page_consent_intro": (
        "次の3点をご確認のうえ、すべてに同意してください。",
        "Please read these three points and accept each of them.",
    ),
    "card_page_consent_document": (
        "文書「{title}」の内容を確認し、同意します",
        "I have read “{title}” and agree to its content",
    ),
    "card_page_consent_document_hint": (
        "カードでの署名は、この文書への同意として記録され、取り消せません。",
        "Your card signature records your agreement to this document and cannot be withdrawn.",
    ),
    "card_page_consent_certificate": (
        "署名用電子証明書の利用に同意します",
        "I agree to the use of my signing certificate",
    ),
    "card_page_consent_certificate_hint": (
        "署名用電子証明書には氏名・住所・生年月日・性別が記載されており、署名済みPDFに含まれます。"
        "署名済みPDFをダウンロードできるのは、この文書の当事者だけです。",
        "The signing certificate (署名用電子証明書) carries your name, address, date of birth "
        "and sex, and the signed PDF will contain it. Only the parties to this document can "
        "download the signed PDF.",
    ),
    "card_page_consent_terms": (
        "マイナンバーカード署名の利用条件に同意します",
        "I accept the terms of signing with the card",
    ),
    "card_page_consent_terms_hint": (
        "署名用パスワードはアプリ（またはパソコン）の中だけで使われ、このサービスには送信されません。"
        "署名の確認のため、証明書の失効情報を照会します。",
        "The signing password is used only in the app (or on the PC) and is never sent to this "
        "service. The certificate's revocation status is checked to verify the signature.",
    ),
    "card_page_consent_button": ("同意して次へ", "Accept and continue"),
    "card_page_consent_required": (
        "3つすべてに同意すると次に進めます。",
        "Please accept all three points to continue.",
    ),
    "card_page_requirements_title": ("署名に必要なもの", "What you need to sign"),
    "card_page_need_device": (
        "mynasignアプリを入れたスマートフォン（NFC対応）、またはUSB接続のNFCカードリーダーと"
        "mynasignアプリ（パソコン版）を入れたパソコン",
        "A smartphone with NFC and the mynasign app, or a PC with a USB NFC card reader and "
        "the mynasign app for PC",
    ),
    "card_page_need_card": ("マイナンバーカード", "Your My Number Card"),
    "card_page_need_password": (
        "署名用パスワード（英大文字と数字の6〜16文字）",
        "The signing password (署名用パスワード): 6 to 16 capital letters and digits",
    ),
    "card_page_need_password_lock": (
        "署名用パスワードを5回続けて間違えるとロックされ、お住まいの市区町村の窓口での解除が必要になります。",
        "Five wrong tries in a row lock the signing password; it must then be reset at your "
        "municipal office.",
    ),
    "card_page_next_intro": (
        "「次へ」を押すと、10分間有効なQRコードが表示されます。",
        "“Next” shows a QR code that is valid for 10 minutes.",
    ),
    "card_page_next": ("次へ", "Next"),
    "card_page_last_attempt": ("前回の署名", "Your last attempt"),
    "card_page_title": ("マイナンバーカードで署名", "Sign with My Number Card"),
    "card_page_open_app": ("アプリで署名する", "Sign in the app"),
    "card_page_open_app_hint": (
        "mynasignアプリが開きます。アプリがない場合は、下のQRコードを別のスマートフォンで読み取るか、"
        "パソコンとカードリーダーで署名してください。",
        "This opens the mynasign app. Without the app, scan the QR code below with another "
        "phone, or sign on a PC with a card reader.",
    ),
    "card_page_qr_heading": ("QRコードを読み取る", "Scan the QR code"),
    "card_page_qr_label": ("署名用のQRコード", "QR code for signing"),
    "card_page_qr_intro": (
        "スマートフォンのカメラでこのQRコードを読み取ると、mynasignアプリが開きます。",
        "Scan this QR code with the phone's camera: it opens the mynasign app.",
    ),
    "card_page_link_label": ("署名用リンク", "Signing link"),
    "card_page_link_hint": (
        "このリンクは1回だけ使えます。他の人に渡さないでください。",
        "This link works once. Do not give it to anyone.",
    ),
    "card_page_copy_selected": (
        "選択しました。コピーしてください。",
        "Selected: copy it now.",
    ),
    "card_page_expires_in": ("有効期限まで", "Expires in"),
    "card_page_valid_until": ("{time} まで有効", "Valid until {time}"),
    "card_page_refresh": ("QRコードを更新", "Refresh QR code"),
    "card_page_refresh_hint": (
        "更新すると、今のQRコードは使えなくなります。",
        "A new QR code makes the current one stop working.",
    ),
    "card_page_howto_heading": ("署名のしかた", "How to sign"),
    "card_page_howto_iphone": (
        "QRコードを読み取り、署名用パスワードを入力してから、カードをiPhoneの上部にかざします。",
        "Scan the QR code, type your signing password, then hold the card to the top of the "
        "iPhone.",
    ),
    "card_page_howto_android": (
        "QRコードを読み取り、カードをスマートフォンの背面にかざしてから、署名用パスワードを入力します。",
        "Scan the QR code, hold the card to the back of the phone, then type your signing "
        "password.",
    ),
    "card_page_howto_pc": (
        "カードリーダーをつないでカードを置き、「このパソコンのリーダーで署名」を押します。"
        "署名用パスワードはパソコンで入力します。コマンドで署名するときは次のとおりです。",
        "Connect the reader, put the card on it and press “Sign with this PC's reader”; you "
        "type the signing password on the PC. To sign from a terminal instead, run this.",
    ),
    "card_page_pc_label": ("パソコン（カードリーダー）", "PC with a card reader"),
    "card_page_status_heading": ("状況", "Status"),
    "card_page_check_status": ("状況を確認", "Check the status"),
    "card_page_state_created": (
        "QRコードの読み取りを待っています。",
        "Waiting for the QR code to be scanned.",
    ),
    "card_page_state_claimed": (
        "アプリにつながりました。",
        "The app has connected.",
    ),
    "card_page_next_password": (
        "アプリで署名用パスワードを入力してください。",
        "Type your signing password in the app.",
    ),
    "card_page_next_card": (
        "カードをスマートフォンにかざすか、カードリーダーに置いてください。",
        "Hold your card to the phone, or put it on the card reader.",
    ),
    "card_page_stage_waiting_for_password": (
        "署名用パスワードの入力を待っています。",
        "Waiting for the signing password.",
    ),
    "card_page_stage_waiting_for_card": (
        "カードがかざされるのを待っています。",
        "Waiting for the card.",
    ),
    "card_page_stage_card_present": ("カードを読み取っています。", "Reading the card."),
    "card_page_stage_verifying": (
        "署名用パスワードを確認しています。",
        "Checking the signing password.",
    ),
    "card_page_stage_reading_certificate": (
        "署名用電子証明書を読み取っています。",
        "Reading the signing certificate.",
    ),
    "card_page_stage_signing": ("カードで署名しています。", "Signing with the card."),
    "card_page_stage_sending": (
        "署名を送信し、確認しています。",
        "Sending the signature and checking it.",
    ),
    "card_page_state_completed": (
        "署名が完了しました。文書の画面に移ります…",
        "Signed. Going back to the document…",
    ),
    "card_page_state_rejected": (
        "署名を受け付けられませんでした。",
        "The signature was not accepted.",
    ),
    "card_page_replaced": (
        "このQRコードは新しいQRコードに置き換えられたため、使えません。",
        "This QR code was replaced by a newer one and no longer works.",
    ),
    "card_page_try_again": (
        "「QRコードを更新」から、新しいQRコードでやり直せます。",
        "You can start again with “Refresh QR code”.",
    ),
    "card_page_reconnecting": ("再接続中…", "Reconnecting…"),
    "card_page_feed_closed": (
        "状況を取得できません。ページを再読み込みしてください。",
        "The status cannot be fetched. Please reload the page.",
    ),
    "card_page_signed_with_card": (
        "マイナンバーカードの署名用電子証明書で署名しました。",
        "You signed with your My Number Card's signing certificate.",
    ),
    # pages: the QR code's link in a browser (/b/<token>)
    "bridge_page_title": (
        "マイナンバーカード署名用のリンク",
        "A link for signing with a My Number Card",
    ),
    "bridge_page_intro": (
        "これは mynasign で文書にマイナンバーカードで署名するためのリンクです。"
        "ブラウザーではなく、mynasignアプリで開いてください。",
        "This link is for signing a document with a My Number Card on mynasign. Open it with "
        "the mynasign app, not in a browser.",
    ),
    "bridge_page_phone": (
        "スマートフォンでは: mynasignアプリを入れてから、カメラでQRコードを読み取ってください。",
        "On a smartphone: install the mynasign app, then scan the QR code with the camera.",
    ),
    "bridge_page_pc": (
        "カードリーダー付きのパソコンでは: 署名画面の「このパソコンのリーダーで署名」を押すか、"
        "次のコマンドを実行してください。",
        "On a PC with a card reader: press “Sign with this PC's reader” on the signing page, "
        "or run this command.",
    ),
    "bridge_page_no_share": (
        "このリンクを他の人に渡さないでください。",
        "Do not give this link to anyone.",
    ),
    "bridge_page_unknown": (
        "このリンクは無効か、有効期限が切れています。署名する画面で「QRコードを更新」を押し、"
        "新しいQRコードを使ってください。",
        "This link is unknown or has expired. Press “Refresh QR code” on the signing page and "
        "use the new QR code.",
    ),
    # pages: development outbox
    "outbox_title": ("開発用メールボックス", "Development outbox"),
    "outbox_intro": (
        "SMTPサーバーが設定されていないため、送信されるはずのメールをここに表示しています。"
        "リンクを開くと宛先の方の画面になります。",
        "No SMTP server is set, so the mails the service would send are shown here. Follow a "
        "link to act as that recipient.",
    ),
    "outbox_empty": ("メールはまだありません。", "No mail yet."),
    "mail_to": ("宛先", "To"),
    "mail_attachment": ("添付", "Attachment"),
    # issue 9: many people at once
    "database_busy": (
        "ただいま混み合っています。数秒後にもう一度お試しください。内容は失われていません。",
        "The service is busy. Please try again in a few seconds; nothing was lost.",
    ),
    # issue 10: hostile input and abuse (refused text, rate limits, access-code locks)
    "text_invalid_characters": (
        "「{field}」に使用できない文字（制御文字、文字の向きを変える書式文字など）が含まれています。",
        "“{field}” contains characters that are not accepted (control or "
        "direction-changing characters).",
    ),
    "method_not_allowed": (
        "この操作はこのアドレスでは使えません。",
        "This method is not allowed at this address.",
    ),
    "request_too_large": ("送信された内容が大きすぎます。", "The request is too large."),
    "internal_error": (
        "サーバーで問題が起きました。しばらくしてからもう一度お試しください。",
        "Something went wrong on the server. Please try again later.",
    ),
    "rate_limited": (
        "短時間に多くの操作がありました。{retry_after}秒ほど待ってからもう一度お試しください。",
        "Too many attempts in a short time. Please wait about {retry_after} seconds and try again.",
    ),
    "access_code_locked_for_good": (
        "アクセスコードの誤りが多すぎるため、このリンクはロックされました。送信者に新しい"
        "アクセスコードの発行を依頼してください。",
        "Too many wrong access codes: this link is locked. Ask the sender to issue a new "
        "access code.",
    ),
    "access_code_not_set": (
        "この宛先にはアクセスコードが設定されていません。",
        "This recipient has no access code.",
    ),
    "recipient_not_found": ("宛先が見つかりません。", "The recipient was not found."),
    "access_code_required": ("アクセスコードを入力してください。", "Please enter an access code."),
    "new_access_code_label": ("新しいアクセスコード", "New access code"),
    "new_access_code_button": ("新しいアクセスコードを発行", "Issue a new access code"),
    "new_access_code_hint": (
        "誤ったアクセスコードが続いたため、このリンクはロックされています。新しいコードを決め、"
        "メール以外の方法（電話など）で相手にお伝えください。",
        "Too many wrong access codes locked this link. Choose a new code and tell the "
        "recipient by another way than mail (by phone, say).",
    ),
    "new_access_code_issued": (
        "新しいアクセスコードを設定しました。相手にお伝えください。",
        "The new access code is set. Tell it to the recipient.",
    ),
    "event_recipient_access_code_locked": (
        "アクセスコードの誤りによりロック",
        "Locked after wrong access codes",
    ),
    "event_recipient_access_code_refused": (
        "アクセスコードの入力を拒否（ロック中）",
        "Access code refused (locked)",
    ),
    "event_recipient_open_rate_limited": (
        "リンクを開く試行を制限（回数は記録）",
        "Tries to open the link refused (counted)",
    ),
    "event_recipient_access_code_reset": (
        "新しいアクセスコードを発行",
        "New access code issued",
    ),
    # issue 12 (search, verification, timestamp renewal, pages on a phone)
    "search_text_too_long": (
        "検索語は{limit}文字以内にしてください。",
        "Use at most {limit} characters in a search.",
    ),
    "search_date_range_invalid": (
        "取引年月日の範囲が逆です（開始日は終了日以前にしてください）。",
        "The transaction date range is reversed (the start must not be after the end).",
    ),
    "search_amount_range_invalid": (
        "取引金額の範囲が逆です（下限は上限以下にしてください）。",
        "The amount range is reversed (the minimum must not exceed the maximum).",
    ),
    "search_sort_invalid": (
        "並べ替えの項目が正しくありません（{keys}）。",
        "Unknown sort key (use one of {keys}).",
    ),
    "search_counterparty_label": ("取引先", "Counterparty"),
    "search_date_from_label": ("取引年月日（から）", "Transaction date from"),
    "search_date_to_label": ("取引年月日（まで）", "Transaction date to"),
    "search_amount_min_label": ("取引金額（円・以上）", "Amount from (yen)"),
    "search_amount_max_label": ("取引金額（円・以下）", "Amount up to (yen)"),
    "search_sort_label": ("並べ替え", "Sort by"),
    "sort_created_at": ("作成日時", "Created"),
    "sort_transaction_date": ("取引年月日", "Transaction date"),
    "sort_amount": ("取引金額", "Amount"),
    "sort_counterparty": ("取引先", "Counterparty"),
    "sort_title": ("件名", "Title"),
    "search_order_label": ("順序", "Order"),
    "order_desc": ("降順（新しい・大きい順）", "Descending"),
    "order_asc": ("昇順（古い・小さい順）", "Ascending"),
    "search_export_csv": ("検索結果をCSVでダウンロード", "Download the result as CSV"),
    "search_result_count": ("{total}件中 {first}〜{last}件目", "{first}–{last} of {total}"),
    "page_previous": ("前のページ", "Previous page"),
    "page_next": ("次のページ", "Next page"),
    "search_reset": ("条件をクリア", "Clear"),
    # verification (/verify, POST /api/v1/verify)
    "nav_verify": ("署名の検証", "Verify a PDF"),
    "verify_title": ("PDFの署名とタイムスタンプの検証", "Verify a PDF's signatures and timestamps"),
    "verify_intro": (
        "PDFを選ぶと、含まれるすべての署名とタイムスタンプ（誰が、いつ、改ざんの有無、"
        "信頼できるか、PAdESのレベル）を確認します。ファイルは保存されません。",
        "Choose a PDF to check every signature and timestamp in it (who, when, intact, "
        "trusted, PAdES level). The file is not kept.",
    ),
    "verify_file_label": ("PDFファイル", "PDF file"),
    "verify_button": ("検証する", "Verify"),
    "verify_file_required": ("PDFファイルを選んでください。", "Choose a PDF file."),
    "verify_too_large": (
        "ファイルが大きすぎます（{limit_mb} MBまで）。",
        "The file is too large (at most {limit_mb} MB).",
    ),
    "verify_not_pdf": (
        "PDFとして読めないファイルです。",
        "The file cannot be read as a PDF.",
    ),
    "verify_encrypted": (
        "暗号化されたPDFは検証できません。",
        "An encrypted PDF cannot be verified.",
    ),
    "verify_too_complex": (
        "署名が多すぎるか構造が複雑すぎるため検証できません。",
        "The PDF has too many signatures or is too complex to verify.",
    ),
    "verify_no_signatures": ("このPDFには署名がありません。", "This PDF holds no signatures."),
    "verify_summary_ok": (
        "すべての署名とタイムスタンプは改ざんされておらず、信頼できます。",
        "Every signature and timestamp is intact and trusted.",
    ),
    "verify_summary_problem": (
        "問題のある署名またはタイムスタンプがあります。下の一覧を確認してください。",
        "A signature or timestamp has a problem: see the list below.",
    ),
    "verify_kind_signature": ("署名", "Signature"),
    "verify_kind_timestamp": ("文書タイムスタンプ", "Document timestamp"),
    "verify_signer_card": (
        "マイナンバーカード（署名用電子証明書）",
        "My Number Card (signing certificate)",
    ),
    "verify_signer_platform": ("mynasign の電子署名（シール）", "mynasign's platform seal"),
    "verify_signer_tsa": ("時刻認証局（TSA）", "Time-stamping authority (TSA)"),
    "verify_signer_other": ("その他の署名者", "Another signer"),
    "verify_who": ("署名者", "Signed by"),
    "verify_when": ("日時", "When"),
    "verify_when_timestamp": ("（タイムスタンプによる時刻）", "(time from a timestamp)"),
    "verify_when_claimed": ("（署名者の申告による時刻）", "(time claimed by the signer)"),
    "verify_intact": ("改ざん", "Intact"),
    "verify_intact_yes": ("改ざんなし", "Not modified"),
    "verify_intact_no": ("改ざんあり・検証失敗", "Modified or broken"),
    "verify_trusted": ("信頼", "Trusted"),
    "verify_trusted_yes": ("信頼できる証明書", "Trusted certificate"),
    "verify_trusted_no": ("信頼できない証明書", "Untrusted certificate"),
    "verify_level": ("PAdESレベル", "PAdES level"),
    "verify_covers_all": ("文書全体を対象", "Covers the whole file"),
    "verify_later_changes": (
        "この署名の後に追記があります（後続の署名など）",
        "The file was extended after this signature (later signatures, say)",
    ),
    "verify_problem_modified": (
        "署名された内容が変更されています。",
        "The signed bytes were changed.",
    ),
    "verify_problem_invalid": (
        "暗号学的な署名の検証に失敗しました。",
        "The cryptographic signature does not verify.",
    ),
    "verify_problem_untrusted": (
        "証明書が信頼できるルートにつながらないか、有効ではありません。",
        "The certificate does not chain to a trusted root, or is not valid.",
    ),
    "verify_problem_revoked": ("証明書は失効しています。", "The certificate is revoked."),
    "verify_problem_malformed": (
        "署名の形式が壊れていて検証できません。",
        "The signature is malformed and cannot be validated.",
    ),
    "verify_record_final": (
        "この文書は mynasign に記録されている最終版と一致します（文書ID {document_id}）。",
        "This is the final version mynasign has on record (document ID {document_id}).",
    ),
    "verify_record_revision": (
        "この文書は mynasign に記録された途中の版です（文書ID {document_id}、"
        "第{revision}版／最新は第{current}版）。最終版ではありません。",
        "This is an earlier version on record at mynasign (document ID {document_id}, "
        "revision {revision} of {current}); it is not the final one.",
    ),
    "verify_record_unknown": (
        "この内容の文書は mynasign の記録にありません（他で作られたか、変更されています）。",
        "mynasign has no record of this exact file (made elsewhere, or changed).",
    ),
    # timestamp renewal (mynasign archive renew)
    "event_document_timestamp_renewed": ("タイムスタンプを延長しました", "Timestamp renewed"),
    "history_document_timestamp_renewed": (
        "長期保存のため、検証情報と新しいタイムスタンプを追加しました（第{revision}版）。",
        "Validation data and a new timestamp were added for long-term archiving "
        "(revision {revision}).",
    ),
    # the recipient's page: the document as page images
    "pages_title": ("文書の内容", "The document"),
    "page_image_alt": ("{title}（{page}/{pages}ページ）", "{title} (page {page} of {pages})"),
    "pages_read_first": (
        "内容をすべてご確認のうえ、下の「回答する」へお進みください。",
        "Read the whole document, then answer below.",
    ),
    "pages_truncated": (
        "最初の{shown}ページを表示しています（全{pages}ページ）。残りはPDFでご確認ください。",
        "The first {shown} pages are shown (of {pages}); read the rest in the PDF.",
    ),
    "pages_unavailable": (
        "ページの画像を表示できません。PDFをダウンロードしてご確認ください。",
        "The pages cannot be shown as images; download the PDF to read it.",
    ),
    "page_not_found": ("そのページはありません。", "There is no such page."),
    "attachments_title": ("添付ファイル", "Attachments"),
    "attachments_none": ("添付ファイルはありません。", "No attachments."),
    "attachments_hint": (
        "添付ファイルはPDFの中にあります。PDFをダウンロードして開いてください。",
        "The attachments are inside the PDF: download it and open them there.",
    ),
    # issue 12 (records): the history in words, the agreement certificate, the audit trail
    "history_the_service": ("システム", "The service"),
    "history_someone": ("（不明な宛先）", "(an unknown party)"),
    "history_document_uploaded": (
        "{who} が文書をアップロードしました（{pages}ページ）",
        "{who} uploaded the document (pages: {pages})",
    ),
    "history_recipient_added": (
        "{who} が {party} を宛先に追加しました",
        "{who} added {party} as a party",
    ),
    "history_document_sent": (
        "{who} が文書を送信しました（文書IDを記載し、電子印を付与）",
        "{who} sent the document (ID stamped, sending sealed)",
    ),
    "history_recipient_notified": (
        "{party} に依頼メールを送りました",
        "The request was mailed to {party}",
    ),
    "history_recipient_notified_sender": (
        "送信者 {party} の署名の順番になりました",
        "The sender {party} was due to sign",
    ),
    "history_recipient_opened": ("{who} が文書を開きました", "{who} opened the document"),
    "history_recipient_access_code_failed": (
        "{who} がアクセスコードを誤って入力しました",
        "{who} entered a wrong access code",
    ),
    "history_extra_locked": (
        "（誤りが続いたため一時的にロック）",
        " (locked for a while after repeated mistakes)",
    ),
    "history_recipient_agreed": (
        "{who} が同意しました（電子印を付与、第{revision}版）",
        "{who} agreed (sealed, revision {revision})",
    ),
    "history_recipient_rejected": (
        "{who} が却下しました。理由：「{reason}」",
        "{who} rejected the document. Reason: “{reason}”",
    ),
    "history_recipient_forwarded": (
        "{who} が {to} に転送しました",
        "{who} forwarded the request to {to}",
    ),
    "history_recipient_card_consented": (
        "{who} がマイナンバーカードでの署名に同意しました",
        "{who} consented to signing with the My Number Card",
    ),
    "history_card_session_created": (
        "{who} が署名用QRコードを表示しました",
        "{who} showed the card-signing QR code",
    ),
    "history_card_session_claimed": (
        "{who} の署名用QRコードがアプリで読み取られました",
        "{who}'s card-signing QR code was scanned by the app",
    ),
    "history_card_session_card_error": (
        "{who} のカード操作でエラーが起きました",
        "A card error occurred while {who} was signing",
    ),
    "history_card_session_cancelled": (
        "{who} のカード署名が中止されました",
        "{who}'s card signing was stopped",
    ),
    "history_card_session_expired": (
        "{who} の署名用QRコードが期限切れになりました",
        "{who}'s card-signing QR code expired",
    ),
    "history_card_signature_rejected": (
        "{who} のカード署名は受け付けられませんでした",
        "{who}'s card signature was refused",
    ),
    "history_recipient_card_signed": (
        "{who} がマイナンバーカードで署名しました（証明書の氏名：{signer}）",
        "{who} signed with a My Number Card (name in the certificate: {signer})",
    ),
    "history_extra_name_differs": (
        "（宛先の氏名と異なります）",
        " (differs from the party's name)",
    ),
    "history_document_completed": (
        "すべての当事者が同意し、締結が完了しました（電子印・検証情報・タイムスタンプ）",
        "Every party agreed: the document is complete (sealed, validation data, timestamp)",
    ),
    "history_certificate_issued": (
        "締結証明書（ID {certificate_id}）を発行しました",
        "The agreement certificate (ID {certificate_id}) was issued",
    ),
    "history_document_cancelled": ("{who} が文書を取り消しました", "{who} cancelled the document"),
    "history_document_expired": ("期限が過ぎ、文書は期限切れになりました", "The document expired"),
    "history_document_viewed": (
        "{who} が文書のページを表示しました",
        "{who} viewed the document's page",
    ),
    "history_document_page_images_viewed": (
        "{who} が文書を閲覧しました（ページ画像、第{revision}版）",
        "{who} viewed the document (page images, revision {revision})",
    ),
    "history_document_downloaded": (
        "{who} がPDF（第{revision}版）を表示・ダウンロードしました",
        "{who} viewed or downloaded the PDF (revision {revision})",
    ),
    "history_certificate_downloaded": (
        "{who} が締結証明書をダウンロードしました",
        "{who} downloaded the agreement certificate",
    ),
    "history_ip": ("IPアドレス", "IP address"),
    "certificate_download": ("締結証明書をダウンロード", "Download the agreement certificate"),
    "certificate_id_label": ("締結証明書ID", "Certificate ID"),
    "certificate_hint": (
        "締結証明書には、各当事者の操作の日時・IPアドレス・認証方法が記載され、"
        "サービスの電子印とタイムスタンプが付いています。",
        "The agreement certificate lists each party's steps with time, IP address and "
        "method, sealed and timestamped by the service.",
    ),
    "certificate_not_ready": (
        "締結証明書は、文書の締結が完了したときに発行されます。",
        "The agreement certificate is issued when the document is complete.",
    ),
    "certificate_font_missing": (
        "締結証明書の日本語フォント（Noto Sans CJK JP）がサーバーにありません。"
        "管理者にお問い合わせください。",
        "The Japanese font for the agreement certificate (Noto Sans CJK JP) is missing on "
        "the server. Please contact the administrator.",
    ),
    # issue 11 / 12.7: the companion app, and the card announced to the party
    "app_page_title": ("mynasign アプリ", "The mynasign app"),
    "app_page_intro": (
        "マイナンバーカードで署名するためのアプリです。NFC 対応のスマートフォンか、"
        "カードリーダーをつないだパソコンで使えます。",
        "The app signs with your My Number Card, on a phone with NFC or on a PC with a "
        "card reader.",
    ),
    "app_page_iphone": ("iPhone（iOS 13 以降）", "iPhone (iOS 13 or later)"),
    "app_page_android": ("Android（NFC 対応）", "Android (with NFC)"),
    "app_page_pc": (
        "パソコン（Windows・macOS・Linux、カードリーダー）",
        "PC (Windows, macOS, Linux, with a card reader)",
    ),
    "app_page_app_store": ("App Store で入手", "Get it on the App Store"),
    "app_page_play_store": ("Google Play で入手", "Get it on Google Play"),
    "app_page_pc_download": ("パソコン版をダウンロード", "Download for PC"),
    "app_page_not_yet": (
        "このサービスではまだ配布先が設定されていません。送信者または管理者にお問い合わせください。",
        "This service has not set where to get it yet. Please ask the sender or the administrator.",
    ),
    "app_page_pc_pip": (
        "Python 3.11 以降があれば、次のコマンドでも入れられます。",
        "With Python 3.11 or later you can also install it with this command.",
    ),
    "app_page_pc_handler": (
        "入れたあと一度だけ次のコマンドを実行すると、署名画面の「このパソコンのリーダーで署名」"
        "ボタンでアプリが開くようになります。",
        "Run this once after installing, and the signing page's “Sign with this PC's reader” "
        "button opens the app.",
    ),
    "app_page_link": ("mynasign アプリの入手方法", "How to get the mynasign app"),
    "card_page_pc_button": ("このパソコンのリーダーで署名", "Sign with this PC's reader"),
    "card_page_pc_button_hint": (
        "パソコン版の mynasign アプリが開きます。開かないときは、アプリを入れてから"
        "「jpki-bridge install-url-handler」を実行するか、"
        "上の署名用リンクをアプリに貼り付けてください。",
        "This opens the mynasign app for PC. If nothing opens, install the app and run "
        "“jpki-bridge install-url-handler”, or paste the signing link above into the app.",
    ),
    "bridge_page_open_app": ("アプリで開く", "Open in the app"),
    "bridge_page_no_app": (
        "アプリが開かずにこのページが表示された場合は、まだアプリが入っていません。"
        "アプリを入れてから、パソコンの画面の QR コードをもう一度カメラで読み取ってください。",
        "If this page opened instead of the app, the app is not installed yet. Install it, "
        "then scan the QR code on the PC page with the camera again.",
    ),
    "card_notice_title": (
        "この文書はマイナンバーカードで署名します",
        "You sign this document with your My Number Card",
    ),
    "card_notice_prepare": (
        "ご用意いただくもの: マイナンバーカード、"
        "署名用電子証明書のパスワード（英数字 6〜16 文字）、"
        "mynasign アプリを入れた NFC 対応スマートフォン、またはカードリーダーをつないだパソコン。",
        "Please have ready: your My Number Card, its signing password (6 to 16 letters and "
        "digits), and a phone with NFC and the mynasign app, or a PC with a card reader.",
    ),
    "card_document_finishing": (
        "すべての署名がそろいました。文書を仕上げています（電子署名とタイムスタンプ）。"
        "このページは自動で更新されます。",
        "Every signature is in. The document is being finished (seal and timestamp); this "
        "page updates by itself.",
    ),
}


class CatalogueError(ValueError):
    """A catalogue the service cannot use: unreadable, with a bad entry, or unlike the other."""


def catalogue_path(language: Language, locale_dir: Path = LOCALE_DIR) -> Path:
    """Where the catalogue of `language` is: `<locale_dir>/<lang>/LC_MESSAGES/mynasign.po`."""
    return locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(path: Path) -> dict[str, str]:
    """Key -> text of one .po file, refusing entries that gettext would quietly pass over."""
    try:
        raw = path.read_bytes()
        catalog = read_po(raw.splitlines(keepends=True), ignore_obsolete=True, abort_invalid=True)
    except (OSError, PoFileError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    texts: dict[str, str] = {}
    entries = 0
    for message in catalog:
        entries += 1
        if message.id == "":
            continue  # the header
        where = f"{path}:{message.lineno}: {message.id!r}"
        if not isinstance(message.id, str) or not isinstance(message.string, str):
            raise CatalogueError(f"{where}: no plural forms here; give each form its own key")
        if message.context is not None:
            raise CatalogueError(f"{where}: no msgctxt here; the key is the whole id")
        if message.fuzzy:
            raise CatalogueError(f"{where}: marked fuzzy; check the text, then drop the flag")
        if not message.string:
            raise CatalogueError(f"{where}: no text")
        texts[message.id] = message.string
    written = sum(1 for line in raw.splitlines() if line.startswith(b"msgid "))
    if written != entries:  # Babel keeps the first of two equal msgids without a word
        raise CatalogueError(f"{path}: a msgid is written twice")
    return texts


def placeholders(text: str) -> frozenset[str]:
    """The `{name}` fields of a text (ValueError for a malformed one, such as a lone `{`)."""
    return frozenset(
        field for _, field, _, _ in string.Formatter().parse(text) if field is not None
    )


def catalogue_problems(japanese: Mapping[str, str], english: Mapping[str, str]) -> list[str]:
    """What keeps two catalogues from being used together: keys in one only, texts whose
    placeholders differ or cannot be read. Empty when they agree."""
    problems = [
        f"{key!r} is in the English catalogue only" for key in english if key not in japanese
    ]
    problems += [
        f"{key!r} is in the Japanese catalogue only" for key in japanese if key not in english
    ]
    for key in japanese.keys() & english.keys():
        try:
            fields = placeholders(japanese[key]), placeholders(english[key])
        except ValueError as exc:
            problems.append(f"{key!r}: {exc}")
            continue
        if fields[0] != fields[1]:
            problems.append(
                f"{key!r}: placeholders {sorted(fields[0])} (ja) vs {sorted(fields[1])} (en)"
            )
        if "" in fields[0] | fields[1] or any(
            field[0].isdigit() for field in fields[0] | fields[1]
        ):
            problems.append(f"{key!r}: placeholders must have names, not positions")
    return sorted(problems)


def load_catalogues(locale_dir: Path = LOCALE_DIR) -> dict[str, tuple[str, str]]:
    """Key -> (Japanese, English) from both catalogues, or `CatalogueError` naming every problem."""
    japanese = read_catalogue(catalogue_path("ja", locale_dir))
    english = read_catalogue(catalogue_path("en", locale_dir))
    problems = catalogue_problems(japanese, english)
    if problems:
        raise CatalogueError("the catalogues disagree:\n" + "\n".join(problems))
    return {key: (japanese[key], english[key]) for key in japanese}


TEXTS: Mapping[str, tuple[str, str]] = MappingProxyType(load_catalogues() | _LEGACY_TEXTS)
"""Every key with its (Japanese, English) text, read-only."""


def text(language: Language, key: str, **params: object) -> str:
    """The text for `key` in `language`, with `{name}` placeholders filled."""
    try:
        japanese, english = TEXTS[key]
    except KeyError:
        raise KeyError(f"no text {key!r} in {catalogue_path(language)}") from None
    template = japanese if language == "ja" else english
    return template.format(**params) if params else template


def both(key: str, **params: object) -> str:
    """Japanese then English, for API errors and mail: one message a person understands."""
    return f"{text('ja', key, **params)} / {text('en', key, **params)}"


def has_text(key: str) -> bool:
    """Whether `key` is in the catalogues (for keys made from data, such as audit actions)."""
    return key in TEXTS


def request_language(request: Request) -> Language:
    """`?lang=` first, then the language cookie, then Japanese."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in ("ja", "en"):
            return "en" if candidate == "en" else "ja"
    return "ja"


# --- Jinja2 --------------------------------------------------------------------------


def _page_language(context: Context) -> Language:
    language = context.get("lang")
    if language not in ("ja", "en"):
        raise KeyError(f"a template asked for a text without a page language (lang={language!r})")
    return "en" if language == "en" else "ja"


@pass_context
def template_text(context: Context, key: str, **params: object) -> str:
    """`_("key", name=value)` (and `t(...)`, `gettext(...)`) in a template: the text in the
    page's language (its `lang` variable), escaped by autoescaping like any other value."""
    return text(_page_language(context), key, **params)


@pass_context
def template_plural_text(
    context: Context, singular: str, plural: str, n: int, **params: object
) -> str:
    """`ngettext("key_one", "key_other", n)`: the first key for one, the second otherwise."""
    return text(_page_language(context), singular if n == 1 else plural, n=n, **params)


def install_texts(environment: Environment) -> None:
    """Give `environment` (made with `jinja2.ext.i18n`) the service's texts: `_`, `gettext`,
    `ngettext`, and `t` and `has_text` as the templates have used them."""
    if "jinja2.ext.InternationalizationExtension" not in environment.extensions:
        raise ValueError("make the environment with extensions=['jinja2.ext.i18n']")
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        template_text, template_plural_text, newstyle=False
    )
    environment.globals["t"] = template_text
    environment.globals["has_text"] = has_text
