"""HTTP services of the test PKI on loopback: OCSP, CRL, CA certificates, RFC 3161 TSA.

    POST /ocsp                  application/ocsp-request   -> application/ocsp-response
    GET  /ocsp/<base64 request>                            -> application/ocsp-response
    GET  /crl/sign.crl                                     -> application/pkix-crl
    GET  /certs/{sign,auth,tsa}-root.crt                   -> application/pkix-cert (DER)
    POST /tsa                   application/timestamp-query -> application/timestamp-reply

`SharedPkiServer` serves them at the PKI's own base URL for several processes at once
(two development instances on one data directory): one serves, the others use it.

Revocation state is read from the PKI directory on every request, so a `revoke` made by
another process is answered at once. One log line per request (no keys, no bodies).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import re
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from jpkisim.pki import PkiError, TestPki
from jpkisim.pki_files import ROOT_STEMS, SIGN_ROOT
from jpkisim.pki_ocsp import answer_ocsp
from jpkisim.pki_tsa import answer_timestamp

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
PROBE_TIMEOUT_SECONDS = 2.0
TAKEOVER_SECONDS = 1.0
_ROOT_CERTS = {f"/certs/{stem}.crt": stem for stem in ROOT_STEMS}


class _PkiHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], pki_dir: Path) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.pki_dir = pki_dir
        self._pki = TestPki.load(pki_dir)
        self._pki_stamp = self._stamp()
        self._pki_lock = threading.Lock()
        self.connections_accepted = 0
        """TCP connections accepted so far (a client that keeps one alive counts once)."""
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, object]:
        accepted = super().get_request()
        self.connections_accepted += 1  # only the serving thread accepts
        with self._open_lock:
            self._open.add(accepted[0])
        return accepted

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """End the kept-alive connections too: a stopped server must not go on answering
        on them (from another directory than the server now on its port)."""
        with self._open_lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def _stamp(self) -> tuple[int, ...]:
        names = (f"{SIGN_ROOT}.crt", "ocsp.crt", "tsa.crt", "tsa.key", "ocsp.key")
        try:
            return tuple((self.pki_dir / name).stat().st_mtime_ns for name in names)
        except OSError:
            return ()  # gone: reloading will say what is missing

    def pki(self) -> TestPki:
        """The PKI, reloaded if someone re-initialised the directory since we last looked."""
        with self._pki_lock:
            if self._stamp() != self._pki_stamp:
                self._pki = TestPki.load(self.pki_dir)
                self._pki_stamp = self._stamp()
            return self._pki


class _Handler(BaseHTTPRequestHandler):
    server: _PkiHttpServer
    protocol_version = "HTTP/1.1"
    server_version = "jpkisim-pki/1"
    # headers and body go out in two writes: without TCP_NODELAY the body waits for the
    # client's delayed ACK (40 ms) on every request of a kept-alive connection
    disable_nagle_algorithm = True
    _note = ""

    def do_GET(self) -> None:
        self._serve(self._get)

    def do_POST(self) -> None:
        body = self._read_body()
        if body is not None:
            self._serve(lambda path: self._post(path, body))

    def _get(self, path: str) -> None:
        pki = self.server.pki()
        if path == "/crl/sign.crl":
            self._reply(HTTPStatus.OK, "application/pkix-crl", pki.crl_der())
        elif path in _ROOT_CERTS:
            self._reply(HTTPStatus.OK, "application/pkix-cert", pki.root_der(_ROOT_CERTS[path]))
        elif path.startswith("/ocsp/"):
            self._ocsp(pki, _decode_get_request(path.removeprefix("/ocsp/")))
        elif path in ("/ocsp", "/tsa"):
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST")
        elif (extra := _extra_file(self.server.pki_dir, path)) is not None:
            content_type = _EXTRA_TYPES[extra.suffix]
            self._reply(HTTPStatus.OK, content_type, extra.read_bytes())
        else:
            self._error(HTTPStatus.NOT_FOUND, "no such resource")

    def _post(self, path: str, body: bytes) -> None:
        if path in ("/ocsp", "/ocsp/"):
            self._ocsp(self.server.pki(), body)
        elif path == "/tsa":
            answer = answer_timestamp(self.server.pki(), body)
            self._note = answer.outcome
            self._reply(answer.http_status, "application/timestamp-reply", answer.body)
        else:
            self._error(HTTPStatus.NOT_FOUND, "no such resource")

    def _serve(self, route: Callable[[str], None]) -> None:
        path = urllib.parse.urlsplit(self.path).path
        try:
            route(path)
        except PkiError as exc:
            log.error("test PKI unusable: %s", exc)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "test PKI unusable")
        except Exception:
            log.exception("%s %s failed", self.command, path)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    def _ocsp(self, pki: TestPki, request_der: bytes) -> None:
        answer = answer_ocsp(pki, request_der)
        self._note = answer.outcome
        self._reply(answer.http_status, "application/ocsp-response", answer.body)

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return None
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
            return None
        return self.rfile.read(length)

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: HTTPStatus, text: str) -> None:
        self._note = text
        self._reply(status, "text/plain; charset=utf-8", f"{status.value} {text}\n".encode())

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path if len(self.path) <= 80 else self.path[:77] + "..."
        log.info("%s %s %s %s %s", self.client_address[0], self.command, path, code, self._note)
        self._note = ""

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.client_address[0], *args)


def _decode_get_request(encoded: str) -> bytes:
    """The DER request of `GET /ocsp/<url-encoded base64>` (RFC 6960 A.1); b"" if unreadable."""
    text = urllib.parse.unquote(encoded)
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return b""


class PkiServer:
    """The services in a background thread: `with PkiServer(dir) as server: server.url`."""

    def __init__(self, pki_dir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.pki_dir = Path(pki_dir)
        self.host = host
        self.port = port
        self._httpd: _PkiHttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> PkiServer:
        """Bind (port 0: any free port) and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("PkiServer already started")
        httpd = _PkiHttpServer((self.host, self.port), self.pki_dir)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.1,), name="jpkisim-pki-server", daemon=True
        )
        self._thread.start()
        _announce(httpd, self.url)
        return self

    @property
    def url(self) -> str:
        """Base URL of the running services, e.g. `http://127.0.0.1:41234`."""
        if self._httpd is None:
            raise RuntimeError("PkiServer not started")
        return _url(self._httpd)

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since the start (keep-alive connections count once)."""
        if self._httpd is None:
            raise RuntimeError("PkiServer not started")
        return self._httpd.connections_accepted

    def stop(self) -> None:
        """Stop serving and close the socket (waits for the serving thread)."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            httpd.close_open_connections()
        if thread is not None:
            thread.join()

    def __enter__(self) -> PkiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def is_served_at(pki: TestPki, url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """Whether the services at `url` are this PKI's: its signing root is what they serve."""
    try:
        with urllib.request.urlopen(f"{url}/certs/{SIGN_ROOT}.crt", timeout=timeout) as answer:  # noqa: S310 - an http(s) base URL from pki.json
            served: bytes = answer.read(MAX_BODY)
            return bool(answer.status == HTTPStatus.OK and served == pki.root_der(SIGN_ROOT))
    except (OSError, ValueError):
        return False


class SharedPkiServer:
    """The PKI's services at the URL in its `pki.json`, shared by every process using the
    directory; the URL is never changed (certificates and seals name it).

    Whoever binds the port first serves. Another process finds the port taken, checks that
    the server there is this PKI's (`is_served_at`) and uses it; meanwhile it keeps trying
    to bind the port, every `takeover_seconds`, so when the process serving stops, another
    takes over. If a foreign program holds the port, this process serves on a free port
    of its own for what it asks itself (TSA, OCSP) and says loudly that outside
    validators (the URLs in the certificates) cannot reach the PKI until the port is free.
    """

    def __init__(self, pki_dir: Path, *, takeover_seconds: float = TAKEOVER_SECONDS) -> None:
        self.pki_dir = Path(pki_dir)
        self.takeover_seconds = takeover_seconds
        self.base_url = TestPki.load(self.pki_dir).base_url
        parts = urllib.parse.urlsplit(self.base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._server: PkiServer | None = None
        self._fallback: PkiServer | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.serving = threading.Event()
        """Set while this process serves the PKI at its base URL."""

    @property
    def url(self) -> str:
        """Where this process reaches the PKI's services: the base URL, unless a foreign
        program holds its port."""
        return self._fallback.url if self._fallback is not None else self.base_url

    def start(self) -> SharedPkiServer:
        if self._try_serve():
            return self
        if is_served_at(TestPki.load(self.pki_dir), self.base_url):
            log.info("test PKI %s is served by another process on %s", self.pki_dir, self.base_url)
        else:
            self._fallback = PkiServer(self.pki_dir, self._host, 0).start()
            log.error(
                "port %d, which the certificates of test PKI %s name, is held by another "
                "program: serving on %s for now; documents cannot be validated (nor completed) "
                "until the port is free",
                self._port, self.pki_dir, self._fallback.url,
            )  # fmt: skip
        self._watcher = threading.Thread(
            target=self._take_over, name="jpkisim-pki-takeover", daemon=True
        )
        self._watcher.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        for server in (self._server, self._fallback):
            if server is not None:
                server.stop()
        self._server = self._fallback = None
        self.serving.clear()

    def __enter__(self) -> SharedPkiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _try_serve(self) -> bool:
        try:
            self._server = PkiServer(self.pki_dir, self._host, self._port).start()
        except OSError:
            return False
        self.serving.set()
        return True

    def _take_over(self) -> None:
        while not self._stop.wait(self.takeover_seconds):
            if self._try_serve():
                log.info("test PKI %s: now served by this process", self.pki_dir)
                return


def serve_forever(pki_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Serve in the foreground until interrupted; port None: the port of the PKI's base URL."""
    if port is None:
        port = urllib.parse.urlsplit(TestPki.load(Path(pki_dir)).base_url).port or 80
    httpd = _PkiHttpServer((host, port), Path(pki_dir))
    _announce(httpd, _url(httpd))
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        log.info("test PKI services stopping")
    finally:
        httpd.server_close()


def _url(httpd: _PkiHttpServer) -> str:
    host, port = httpd.server_address[:2]
    host = str(host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _announce(httpd: _PkiHttpServer, url: str) -> None:
    log.info("test PKI %s served on %s", httpd.pki_dir, url)
    base_url = httpd.pki().base_url
    if base_url != url:
        log.warning(
            "card certificates point at %s, not at %s: call set_base_url or serve on that port",
            base_url,
            url,
        )


EXTRA_DIR = "extra"
_EXTRA_TYPES = {".crl": "application/pkix-crl", ".crt": "application/pkix-cert"}
_EXTRA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}")


def _extra_file(pki_dir: Path, path: str) -> Path | None:
    """`/extra/<name>`: a CRL or certificate another development service left in
    `<pki dir>/extra/` (the development seal's CRL, say); plain names only."""
    name = path.removeprefix(f"/{EXTRA_DIR}/")
    if name == path or not _EXTRA_NAME.fullmatch(name) or ".." in name:
        return None
    candidate = Path(pki_dir) / EXTRA_DIR / name
    return candidate if candidate.suffix in _EXTRA_TYPES and candidate.is_file() else None
