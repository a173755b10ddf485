"""Signing bridge: QR URL -> websocket -> password + card -> CMS (arrives with its own issue)."""
