"""What differs between the app's platforms: the order of password and card, and the words.

iPhone asks for the password first (Core NFC's sheet must not wait for typing), Android
for the card first (the card is held while the password is typed), and a desktop lets
the person choose. The way to the card is a `CardProvider` from `bridge.providers`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from bridge.protocol import Order


@dataclass(frozen=True)
class Platform:
    """One platform's traits."""

    name: str
    order: Order | None
    """The fixed order, or None where the person chooses."""
    card_key: str
    """The catalogue key that tells the person where the card goes."""
    has_readers: bool
    """Whether PC/SC readers can be chosen."""

    @property
    def phone(self) -> bool:
        return self.name in ("android", "iOS")


ANDROID = Platform("android", Order.CARD_FIRST, "app_card_android", has_readers=False)
IOS = Platform("iOS", Order.PASSWORD_FIRST, "app_card_ios", has_readers=False)
DESKTOP = Platform("desktop", None, "app_card_reader", has_readers=True)
SIMULATED = Platform("desktop", None, "app_card_sim", has_readers=False)


def current_platform() -> Platform:
    """The platform this process runs on (Chaquopy's and BeeWare's iOS `sys.platform`)."""
    if hasattr(sys, "getandroidapilevel") or sys.platform == "android":
        return ANDROID
    if sys.platform == "ios":
        return IOS
    return DESKTOP
