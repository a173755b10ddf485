"""The ways to the card besides PC/SC and the simulator (`bridge.cards`): the phones' NFC.

`android.AndroidNfcProvider` (IsoDep through Chaquopy's `java` module) and
`ios.CoreNfcProvider` (Core NFC through rubicon-objc) are imported only on their phone;
the desktop reader chooser is the app's start screen over `bridge.cards.PcscCardProvider`.
"""
