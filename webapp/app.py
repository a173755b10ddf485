"""The FastAPI application: routers, error mapping, hardening, and the runtime's lifespan."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import AsyncIterator
from email.policy import SMTP as SMTP_POLICY

import fastapi.routing
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute

import webapp
from webapp import interpreter
from webapp.card_signing import api as card_api
from webapp.card_signing import bridge_socket
from webapp.card_signing import pages as card_pages
from webapp.errors import install_error_handlers
from webapp.http_security import SecurityHeadersMiddleware
from webapp.interpreter import YoungCollections
from webapp.log_redaction import install_log_redaction
from webapp.mail.messages import MailMessage
from webapp.mail.smtp import SmtpConfig, build_email
from webapp.offload import off_loop
from webapp.pages import install_pages
from webapp.pdf.sandbox import start_helper as start_sandbox_helper
from webapp.pdf.workers import stop_pdf_workers
from webapp.rate_limits import install_rate_limits
from webapp.routers import (
    api_documents,
    api_recipients,
    app_links,
    certificates,
    pages_account,
    pages_documents,
    pages_outbox,
    pages_recipient,
    verify,
)
from webapp.runtime import Runtime, open_runtime
from webapp.settings import Settings
from webapp.text_input import refuse_hostile_path

API_DESCRIPTION = """\
mynasign: contracts sent, agreed and sealed (PAdES B-LTA), with My Number Card signatures.

Senders call the document endpoints with `Authorization: Bearer <API token>`. Recipients
open their link with `POST /api/v1/r/{token}/open` and send the returned session token as
`Authorization: Bearer <session_token>`. Errors are `{"error": {"code", "message", ...}}`
with the message in Japanese and English.
"""


def prepare_for_requests(app: FastAPI) -> None:
    """Do before the first request what would otherwise happen during one, on the loop.

    - FastAPI 0.165 reads and tokenizes an endpoint's source file (for its error messages)
      the first time the endpoint is called: 100–160 ms per route on a busy machine. Its
      function is private: if it goes away, that part is skipped.
    - Modules imported on first use (the mail's MIME generator, parts of the web stack)
      load, and on a fresh checkout compile, while a request waits: 100–300 ms steps seen
      by the loop watchdog. Every module of the service is imported here, and one mail is
      built, so their imports happen now, in a worker thread.
    """
    extract = getattr(fastapi.routing, "_extract_endpoint_context", None)
    for route in app.routes:
        if extract is not None and isinstance(route, APIRoute | APIWebSocketRoute):
            call = route.dependant.call
            if call is not None:
                extract(call)
    for module in pkgutil.walk_packages(webapp.__path__, "webapp."):
        if not module.name.endswith(("__main__", ".sandbox")) and ".migrations" not in module.name:
            importlib.import_module(module.name)
    build_email(
        SmtpConfig(host="localhost", mail_from="warm-up@mynasign.invalid"),
        MailMessage("warm-up", "warm-up", "<p>warm-up</p>"),
        "to@mynasign.invalid",
        ("warm-up.pdf", b"%PDF-1.7"),
    ).as_bytes(policy=SMTP_POLICY)
    start_sandbox_helper()  # the upload check's process: 1-3 s of imports, not on an upload


def create_app(settings: Settings, *, server_process: bool = False) -> FastAPI:
    """The service for these settings; resources are opened when the app starts.

    `server_process`: the app is its process's long-running server (`mynasign dev` and
    `serve`). It tunes the garbage collector once started, and stops the process's PDF
    workers when it ends (here, not after `uvicorn.run`: uvicorn ends a process stopped
    by a signal with that signal again, and nothing after it runs). Tests that start many
    apps in one process leave both.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            app.state.context = runtime.context
            await off_loop(prepare_for_requests, app)
            young = YoungCollections()
            if server_process:
                interpreter.settle()
                young.start()
            runtime.watchdog.start()  # from here on, every loop step counts
            try:
                async with app.state.rate_limits.recording(runtime.context):  # issue 10
                    yield
            finally:
                await young.stop()
                if server_process:
                    await off_loop(stop_pdf_workers)

    app = FastAPI(
        title="mynasign", version="1", description=API_DESCRIPTION, lifespan=lifespan,
        docs_url="/docs", redoc_url=None,
        dependencies=[Depends(refuse_hostile_path)],  # issue 10: IDs and tokens only
    )  # fmt: skip
    app.add_middleware(SecurityHeadersMiddleware, https=settings.base_url.startswith("https://"))
    install_error_handlers(app)
    install_rate_limits(app, settings)  # issue 10: the unauthenticated doors
    install_log_redaction()  # issue 10: no token or password in any log line
    app.include_router(api_documents.router)
    app.include_router(api_recipients.router)
    app.include_router(card_api.router)
    app.include_router(bridge_socket.router)
    install_pages(app)
    app.include_router(pages_account.router)
    app.include_router(pages_documents.router)
    app.include_router(pages_recipient.router)
    app.include_router(card_pages.router)
    app_links.install(app, settings)  # issue 11: the companion app's hand-off
    app.include_router(certificates.router)  # issue 12: the agreement certificate
    app.include_router(verify.api)  # issue 12: verification of any PDF (API and page)
    app.include_router(verify.pages)
    if pages_outbox.outbox_enabled(settings):
        app.state.dev_outbox = True
        app.include_router(pages_outbox.router)
    return app


def runtime_of(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime
