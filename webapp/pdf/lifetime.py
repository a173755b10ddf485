"""PDF worker processes end with the server that started them, however it ends.

When an instance stops normally it stops its PDF workers; when it is killed (SIGKILL, the
out-of-memory killer) nothing would, and they would run on, adopted by init, holding
memory and the instance's log pipe. Each worker therefore watches its parent and ends
when the parent has gone.

Why not `PR_SET_PDEATHSIG`: the kernel sends that signal when the *thread* that created
the child ends, and a process pool creates workers from whichever thread submits (a
request's worker thread, which ends when idle), so healthy workers would be killed.
"""

from __future__ import annotations

import os
import signal
import threading
import time

PARENT_CHECK_SECONDS = 1.0


def end_with_parent(parent_pid: int, interval: float = PARENT_CHECK_SECONDS) -> threading.Thread:
    """In a child: a daemon thread that ends this process once `parent_pid` is no longer
    its parent (the parent ended and the child was adopted). Returns the thread."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=watch, name="end-with-parent", daemon=True)
    watcher.start()
    return watcher
