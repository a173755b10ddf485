"""The app's entry point as Briefcase starts it (`python -m bridge.app [URL]`)."""

from __future__ import annotations

import sys

from bridge.app.launch import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
