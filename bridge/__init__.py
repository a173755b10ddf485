"""Signing bridge: QR URL -> websocket -> password + card -> CMS -> the server's verdict.

Modules: `protocol` (wire protocol v1, pydantic), `url` (QR URL to websocket URL),
`core` (the session state machine) with `mailbox` (its one queue) and `channel` (the
websocket, resumed with the claim key), `flow` (password and card in either order, one
card burst), `cards` / `pkcs11_card` (where the card comes from), `interaction` (what the
core asks of a person), `errors` (exit codes), `terminal` + `cli` + `diagnose` (the
`jpki-bridge` command), `messages` (Japanese and English texts).
"""
