"""`python -m bridge`: the companion app, as Briefcase starts it on every platform."""

from __future__ import annotations

import sys

from bridge.app.launch import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
