"""Serves the development seal's CRL over HTTP on loopback, as the application does in dev."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from webapp.pdf import development_seal_crl

CRL_PATH = "/dev-seal.crl"


@contextmanager
def serving_development_crl(seal_directory: Path) -> Iterator[str]:
    """Serve `development_seal_crl(seal_directory)`; yields the CRL's URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != CRL_PATH:
                self.send_error(404)
                return
            body = development_seal_crl(seal_directory)
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: one line per request would drown the test output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{CRL_PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
