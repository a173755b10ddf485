"""Keep the password screen out of screenshots and the task switcher: Android's `FLAG_SECURE`.

Only Android has such a flag per window (through Chaquopy's `java` bridge); elsewhere this
does nothing. iOS offers no equivalent for a third-party app's own view.
"""

from __future__ import annotations

import sys
from typing import Any


def _on_android() -> bool:
    return hasattr(sys, "getandroidapilevel")


def set_secure_window(app: Any, secure: bool) -> None:
    """Set or clear `FLAG_SECURE` on the app's Android activity window."""
    if not _on_android():
        return
    from android.view import WindowManager  # type: ignore[import-not-found]  # noqa: PLC0415

    activity = app._impl.native  # toga-android's App impl: the MainActivity
    window = activity.getWindow()
    flag = WindowManager.LayoutParams.FLAG_SECURE
    if secure:
        window.addFlags(flag)
    else:
        window.clearFlags(flag)
