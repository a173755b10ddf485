"""Every line the bridge shows a person, in Japanese and English: one key per message.

`text(lang, key, **params)` formats one; unknown parameters are ignored, so callers can
pass details a language does not mention. Nothing here may ever receive a password.
"""

from __future__ import annotations

import string
from typing import Literal

Lang = Literal["ja", "en"]
LANGUAGES: tuple[Lang, ...] = ("ja", "en")

CATALOGUE: dict[str, tuple[str, str]] = {
    # --- the request and progress ---------------------------------------------------
    "request_header": ("署名の依頼", "Signature request"),
    "request_title": ("文書: {title}", "Document: {title}"),
    "request_sender": ("送信者: {sender}", "From: {sender}"),
    "request_signer": ("署名する人: {name}", "To be signed by: {name}"),
    "request_digest": ("ダイジェスト (SHA-256): {digest}", "Digest (SHA-256): {digest}"),
    "request_expires": ("有効期限: {expires}", "Expires: {expires}"),
    "stage_waiting_for_password": ("署名用パスワードを待っています", "Waiting for the password"),
    "stage_waiting_for_card": ("カードを待っています", "Waiting for the card"),
    "stage_card_present": ("カードを読み取りました", "Card found"),
    "stage_verifying": ("パスワードを確認しています", "Checking the password"),
    "stage_reading_certificate": ("証明書を読んでいます", "Reading the certificate"),
    "stage_signing": ("署名しています", "Signing"),
    "stage_sending": ("署名を送信しています", "Sending the signature"),
    "ask_card_reader": (
        "マイナンバーカードをリーダーに置いてください",
        "Put your My Number Card on the reader",
    ),
    "ask_card_sim": ("模擬カードを使います", "Using the simulated card"),
    "ask_card_pkcs11": (
        "PKCS#11 モジュールでカードを使います",
        "Using the card through the PKCS#11 module",
    ),
    "prompt_password": ("署名用パスワード (6〜16 文字): ", "Signing password (6-16 characters): "),
    "prompt_password_tries": (
        "署名用パスワード (残り {tries_left} 回): ",
        "Signing password ({tries_left} tries left): ",
    ),
    "confirm_last_try": (
        "パスワードの残り回数はあと 1 回です。間違えるとロックされ、市区町村の窓口でしか"
        "解除できません。続けますか? [y/N]: ",
        "Only one try is left. A wrong password locks the card until the municipal office "
        "resets it. Continue? [y/N]: ",
    ),
    "last_try_needs_flag": (
        "残り 1 回のため中止しました (対話できないときは --allow-last-try で許可できます)",
        "Stopped at the last try (allow it with --allow-last-try when nobody can answer)",
    ),
    "signed": ("署名しました。サーバーが受け付けました。", "Signed: the server accepted it."),
    "signed_as": ("署名者: {name}", "Signer: {name}"),
    # --- password and card problems ---------------------------------------------------
    "password_format": (
        "署名用パスワードは英大文字 A〜Z と数字 0〜9 の 6〜16 文字です (カードには送っていません)",
        "The signing password is 6 to 16 letters A-Z and digits 0-9 (nothing was sent to the card)",
    ),
    "password_stdin_empty": (
        "--password-stdin ですが標準入力にパスワードがありません",
        "--password-stdin was given but standard input holds no password",
    ),
    "password_no_retry": (
        "パスワードをもう一度聞くことができません (--password-stdin は 1 回だけです)",
        "Cannot ask for the password again (--password-stdin gives one password)",
    ),
    "card_wrong_password": (
        "パスワードが違います。残り {tries_left} 回です",
        "Wrong password: {tries_left} tries left",
    ),
    "card_wrong_password_unknown": ("パスワードが違います", "Wrong password"),
    "card_locked": (
        "署名用パスワードがロックされています。市区町村の窓口で解除してください",
        "The signing password is locked; the municipal office can reset it",
    ),
    "card_not_jpki": (
        "マイナンバーカードではありません (JPKI がありません)",
        "This is not a My Number Card (no JPKI application)",
    ),
    "card_no_reader": (
        "カードリーダーが見つかりません ({detail})",
        "No card reader found ({detail})",
    ),
    "card_none": ("時間内にカードが置かれませんでした", "No card was presented in time"),
    "card_removed": (
        "カードが離れました。もう一度置いてください",
        "The card was taken away; put it back on the reader",
    ),
    "card_lost_too_often": (
        "カードとの通信が何度も途切れたので中止しました",
        "The card was lost too many times; stopped",
    ),
    "card_failure": ("カードが正しく応答しません ({detail})", "The card failed ({detail})"),
    "card_signature_bad": (
        "カードの署名が証明書で検証できません",
        "The card's signature does not verify against its certificate",
    ),
    "last_try_refused": ("最後の 1 回は使わずに中止しました", "Stopped before the last try"),
    "user_cancelled": ("中止しました", "Cancelled"),
    "aborted": ("中断しました", "Aborted"),
    "sim_unavailable": (
        "--sim には jpki-sim (mynasign のテスト用シミュレーター) が必要です",
        "--sim needs jpki-sim (mynasign's test simulator) installed",
    ),
    "sim_state_unreadable": (
        "模擬カードの状態ファイル {path} を読めません: {detail}",
        "Cannot read the simulated card state {path}: {detail}",
    ),
    "pkcs11_module_missing": (
        "PKCS#11 モジュール {path} がありません",
        "No PKCS#11 module at {path}",
    ),
    # --- the server -------------------------------------------------------------------
    "expired": (
        "有効期限が切れました。新しい QR コードから始めてください",
        "The session expired; start again from a new QR code",
    ),
    "rejected": (
        "サーバーが署名を受け付けませんでした: {reason} {detail}",
        "The server rejected the signature: {reason} {detail}",
    ),
    "cancelled_by_server": ("サーバー側で取り消されました", "Cancelled on the server"),
    "network_unreachable": (
        "サーバーに接続できません ({detail})",
        "Cannot reach the server ({detail})",
    ),
    "network_refused": (
        "サーバーが接続を拒否しました (HTTP {status})",
        "The server refused the connection (HTTP {status})",
    ),
    "network_session_gone": (
        "この QR コードは無効か、期限切れです (HTTP {status})",
        "This QR code is not valid or has expired (HTTP {status})",
    ),
    "network_dropped": (
        "サーバーとの接続が切れ、再接続できませんでした",
        "The connection to the server was lost and could not be resumed",
    ),
    "network_timeout": ("サーバーの応答がありません", "The server did not answer in time"),
    "protocol_error": (
        "サーバーとの通信の形式が正しくありません ({code}: {detail})",
        "Protocol error ({code}: {detail})",
    ),
    "server_error": (
        "サーバーがエラーを返しました ({code}: {detail})",
        "Server error ({code}: {detail})",
    ),
    # --- the URL ----------------------------------------------------------------------
    "url_malformed": ("URL が正しくありません: {detail}", "The URL is not valid: {detail}"),
    "url_insecure": (
        "http:// はこのパソコン内のサーバーにだけ使えます (--insecure で許可)",
        "Plain http:// is allowed only for this computer's own server (or --insecure)",
    ),
    "url_scheme": ("URL は https:// で始まる必要があります", "The URL must start with https://"),
    "url_path": ("QR コードの URL ではありません (…/b/<token>)", "Not a QR URL (…/b/<token>)"),
    "url_token": ("URL のトークンが短すぎるか不正です", "The URL's token is too short or invalid"),
    # --- readers and check ------------------------------------------------------------
    "readers_none": ("カードリーダーがありません", "No card readers are connected"),
    "readers_empty": ("{reader}: カードなし", "{reader}: no card"),
    "readers_card": ("{reader}: {kind} ({token})", "{reader}: {kind} ({token})"),
    "readers_not_jpki": ("{reader}: JPKI のないカード", "{reader}: a card without JPKI"),
    "readers_unreadable": (
        "{reader}: 読めないカード ({detail})",
        "{reader}: unreadable ({detail})",
    ),
    "kind_my_number_card": ("マイナンバーカード", "My Number Card"),
    "kind_smartphone": ("スマートフォン用電子証明書", "smartphone certificate"),
    "kind_juki_card": ("住基カード", "Juki card"),
    "kind_other": ("不明な JPKI トークン", "unknown JPKI token"),
    "check_ok": ("カードとパスワードで署名できました", "The card and password signed"),
    "check_name": ("氏名: {name}", "Name: {name}"),
    "check_validity": ("有効期間: {start} 〜 {end}", "Valid: {start} to {end}"),
    "check_expired": ("証明書の有効期限が切れています", "The certificate has expired"),
    "check_tries": ("確認前のパスワード残り回数: {tries}", "Tries left before this check: {tries}"),
    "check_tries_unknown": (
        "確認前のパスワード残り回数: 不明",
        "Tries left before this check: unknown",
    ),
    "check_root": ("発行元: {root}", "Issued by: {root}"),
    "check_root_unknown": (
        "発行元: 本番の JPKI ルートではありません (テスト用カード?)",
        "Issuer: not a production JPKI root (a test card?)",
    ),
    # --- the companion app (bridge.app) ---------------------------------------------
    "app_title": ("mynasign 署名", "mynasign signing"),
    "app_start_heading": ("マイナンバーカードで署名する", "Sign with your My Number Card"),
    "app_start_intro": (
        "パソコンの画面の QR コードをスマートフォンのカメラで読み取るか、"
        "「このパソコンのリーダーで署名」ボタンを押すと、ここに URL が入ります。"
        "URL を貼り付けてもかまいません。",
        "Scan the QR code on the PC page with the phone's camera, or press the PC page's "
        '"sign with this PC\'s reader" button, and the URL comes here. You can paste it too.',
    ),
    "app_url_label": ("署名の URL", "Signing URL"),
    "app_url_placeholder": (
        "https://…/b/…（QR コードの URL）",
        "https://…/b/… (the QR code's URL)",
    ),
    "app_url_missing": ("URL を入れてください", "Enter the URL"),
    "app_reader_label": ("カードリーダー", "Card reader"),
    "app_reader_first": ("最初に見つかったリーダー", "The first reader found"),
    "app_readers_refresh": ("リーダーを再検索", "Look for readers again"),
    "app_readers_none": (
        "カードリーダーが見つかりません。接続してから「リーダーを再検索」を押してください",
        'No card reader found: connect one, then press "Look for readers again"',
    ),
    "app_order_label": ("順番", "Order"),
    "app_order_password_first": ("先にパスワードを入力", "Password first"),
    "app_order_card_first": ("先にカードを置く", "Card first"),
    "app_start": ("始める", "Start"),
    "app_language": ("English（英語）", "日本語 (Japanese)"),
    "app_connecting": ("サーバーに接続しています…", "Connecting to the server…"),
    "app_cancel": ("中止", "Cancel"),
    "app_request_heading": ("この文書に署名します", "You are about to sign"),
    "app_request_title": ("文書", "Document"),
    "app_request_sender": ("送信者", "From"),
    "app_request_signer": ("署名する人", "To be signed by"),
    "app_time_left": ("残り時間 {time}", "Time left {time}"),
    "app_request_continue": ("署名に進む", "Continue to sign"),
    "app_password_heading": ("署名用パスワード", "Signing password"),
    "app_password_intro": (
        "マイナンバーカードの署名用電子証明書のパスワード (英大文字と数字 6〜16 文字) を"
        "入力してください。パスワードは保存されません。",
        "Type the signing certificate's password of your My Number Card (6 to 16 capital "
        "letters and digits). It is never stored.",
    ),
    "app_password_tries": ("残り {tries_left} 回まで試せます", "{tries_left} tries left"),
    "app_password_rule": (
        "英大文字 A〜Z と数字 0〜9 で 6〜16 文字",
        "6 to 16 letters A-Z and digits 0-9",
    ),
    "app_password_too_short": (
        "あと {missing} 文字以上必要です",
        "{missing} more characters needed",
    ),
    "app_password_too_long": ("16 文字までです", "At most 16 characters"),
    "app_password_bad_character": (
        "使えない文字があります (英字 A〜Z と数字 0〜9 のみ)",
        "Only letters A-Z and digits 0-9 can be used",
    ),
    "app_password_ok": ("形式は正しいです", "The format is right"),
    "app_password_submit": ("次へ", "Next"),
    "app_last_try_heading": ("残り 1 回です", "One try left"),
    "app_last_try_text": (
        "パスワードを間違えるとカードがロックされ、市区町村の窓口でしか解除できません。"
        "パスワードに自信がなければ、ここでやめてください。",
        "A wrong password locks the card until the municipal office resets it. If you are "
        "not sure of the password, stop here.",
    ),
    "app_last_try_go": ("最後の 1 回を使う", "Use the last try"),
    "app_last_try_stop": ("やめる", "Stop"),
    "app_card_heading": ("カードを読み取ります", "Reading the card"),
    "app_card_reader": (
        "マイナンバーカードをカードリーダーに置き、終わるまで動かさないでください。",
        "Put your My Number Card on the reader and leave it there until this finishes.",
    ),
    "app_card_android": (
        "マイナンバーカードをスマートフォンの背面に当て、終わるまで動かさないでください。",
        "Hold your My Number Card to the back of the phone and keep it still until this finishes.",
    ),
    "app_card_ios": (
        "「スキャンの準備ができました」と表示されたら、カードを iPhone の上部に当ててください。",
        'When "Ready to Scan" appears, hold the card to the top of the iPhone.',
    ),
    "app_card_sim": ("模擬カードを使います", "Using the simulated card"),
    "app_working_heading": ("署名しています", "Signing"),
    "app_working_keep": ("カードを動かさないでください", "Keep the card where it is"),
    "app_resumed": (
        "接続が一度切れましたが、再接続しました ({count} 回)",
        "The connection dropped and was resumed ({count} times)",
    ),
    "app_done_heading": ("署名しました", "Signed"),
    "app_done_text": (
        "サーバーが署名を受け付けました。パソコンの画面は自動で完了に変わります。",
        "The server accepted the signature. The PC page turns to done by itself.",
    ),
    "app_done_signer": ("署名者: {name}", "Signer: {name}"),
    "app_again": ("別の文書に署名する", "Sign another document"),
    "app_close": ("閉じる", "Close"),
    "app_error_heading": ("署名できませんでした", "Not signed"),
    "app_error_retry_hint": (
        "パソコンの画面で「QRコードを更新」を押すと、やり直せます。",
        'Press "Refresh QR code" on the PC page to try again.',
    ),
    "app_back": ("最初に戻る", "Back to the start"),
    "app_nfc_unavailable": (
        "この端末では NFC を使えません。NFC を有効にするか、"
        "リーダー付きのパソコンで署名してください",
        "NFC is not available on this device: turn it on, or sign on a PC with a card reader",
    ),
    "app_unexpected": (
        "予期しないエラーで中止しました ({detail})",
        "Stopped by an unexpected error ({detail})",
    ),
    # --- install-url-handler ----------------------------------------------------------
    "cli_app": (
        "署名アプリを開く (URL を渡すとその署名から始める)",
        "open the signing app (with a URL: start with that signature)",
    ),
    "cli_app_url": (
        "QR コードの URL、または mynasign-bridge: の URL",
        "the QR code's URL, or a mynasign-bridge: URL",
    ),
    "cli_app_missing": (
        "署名アプリには Toga が必要です: pip install 'mynasign[app]'",
        "The signing app needs Toga: pip install 'mynasign[app]'",
    ),
    "cli_install_url_handler": (
        "パソコンの画面のボタン (mynasign-bridge:) でこのアプリが開くように登録する",
        "register this app for the PC page's button (mynasign-bridge: URLs)",
    ),
    "cli_uninstall": ("登録を取り消す", "remove the registration"),
    "url_handler_installed": (
        "mynasign-bridge: の URL をこのアプリで開くように登録しました ({where})",
        "mynasign-bridge: URLs now open this app ({where})",
    ),
    "url_handler_removed": (
        "mynasign-bridge: の登録を取り消しました ({where})",
        "The mynasign-bridge: registration was removed ({where})",
    ),
    "url_handler_failed": (
        "URL ハンドラーを登録できません: {detail}",
        "Cannot register the URL handler: {detail}",
    ),
    "url_handler_macos": (
        "macOS ではアプリ (Briefcase で作った .app) の Info.plist が mynasign-bridge: を"
        "登録します。アプリを「アプリケーション」フォルダーに入れてください",
        "On macOS the app bundle (built with Briefcase) registers mynasign-bridge: in its "
        "Info.plist: move the app to the Applications folder",
    ),
    # --- the command line -------------------------------------------------------------
    "cli_description": (
        "マイナンバーカード (JPKI) で mynasign の契約に署名するブリッジ",
        "Sign mynasign contracts with a My Number Card (JPKI)",
    ),
    "cli_sign": ("QR コードの URL の文書に署名する", "sign the document behind a QR URL"),
    "cli_readers": ("リーダーとカードの一覧", "list readers and their cards"),
    "cli_check": (
        "リーダー・カード・パスワードを試す (ローカルで署名して検証)",
        "try reader, card and password (signs locally and verifies)",
    ),
    "cli_schema": ("プロトコルの JSON Schema を表示", "print the protocol's JSON Schema"),
    "cli_url": ("QR コードの URL (https://…/b/<token>)", "the QR code's URL (https://…/b/<token>)"),
    "cli_reader": ("使うリーダーの名前 (一部でも可)", "reader to use (name or part of it)"),
    "cli_sim": (
        "jpki-sim のカード状態ファイルを使う (テスト用)",
        "use a jpki-sim card state (tests)",
    ),
    "cli_pkcs11": ("PKCS#11 モジュールでカードを使う", "use the card through a PKCS#11 module"),
    "cli_order": ("パスワードとカードの順番", "whether the password or the card comes first"),
    "cli_password_stdin": (
        "標準入力の 1 行目をパスワードとして使う (再入力なし)",
        "read the password from the first line of standard input (no second try)",
    ),
    "cli_allow_last_try": (
        "残り 1 回でも確認なしで続ける",
        "spend the password's last try without asking",
    ),
    "cli_insecure": (
        "http:// / ws:// をループバック以外にも許可する (開発用)",
        "allow plain http:// and ws:// to other hosts (development only)",
    ),
    "cli_lang": ("表示言語", "language of messages"),
    "cli_exit_codes": (
        "終了コード:\n"
        "  0  署名しました (サーバーが受け付けました)\n"
        "  2  使い方の誤り (引数、URL、--password-stdin の入力なし)\n"
        "  3  パスワードが違う、または形式が正しくない\n"
        "  4  パスワードがロックされている\n"
        "  5  署名されませんでした: 拒否、期限切れ、中止 (Ctrl-C、最後の 1 回を使わない)\n"
        "  6  リーダーやカードがない、JPKI のカードでない、カードの異常\n"
        "  7  ネットワークまたはプロトコルの誤り",
        "exit codes:\n"
        "  0  signed (the server accepted the signature)\n"
        "  2  usage (arguments, URL, no password on stdin with --password-stdin)\n"
        "  3  wrong or malformed password\n"
        "  4  password locked\n"
        "  5  not signed: rejected, expired or cancelled (Ctrl-C, last try refused)\n"
        "  6  no reader or card, not a JPKI card, or the card failed\n"
        "  7  network or protocol error",
    ),
    "cli_bridge_extra_missing": (
        "カードリーダーを使うには pyscard と python-pkcs11 が必要です ({module} がありません): "
        "pip install 'mynasign[bridge]'",
        "Card readers need pyscard and python-pkcs11 ({module} is missing): "
        "pip install 'mynasign[bridge]'",
    ),
    "cli_interrupted": ("中止しました (Ctrl-C)", "Cancelled (Ctrl-C)"),
}


class _Lenient(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return ""


def text(lang: str, key: str, **params: object) -> str:
    """The message `key` in `lang` ("ja" or "en"), formatted with `params`."""
    ja, en = CATALOGUE[key]
    template = ja if lang == "ja" else en
    return string.Formatter().vformat(template, (), _Lenient(params))


class Messages:
    """The catalogue in one language, callable: `messages("key", name=...)`."""

    def __init__(self, lang: str = "ja") -> None:
        self.lang = lang if lang in LANGUAGES else "ja"

    def __call__(self, key: str, **params: object) -> str:
        return text(self.lang, key, **params)
