"""The companion app: the bridge core with a Toga window, for phones (NFC) and PCs (readers).

`jpki-bridge app [URL]` starts it on a desktop; Briefcase builds it for Android, iOS,
Windows, macOS and Linux (`python -m bridge.app`). Toga is imported only here, so the
rest of the bridge installs without it (`pip install 'mynasign[app]'` adds it).
"""
