"""The companion app's window (Toga): start, request, password, last try, card, done, error.

One window whose content is replaced screen by screen; every widget a test or a person
needs has an `id` (`app.main_window.widgets["password"]`). The screens answer the core
through `bridge.app.runner`; the password field is cleared the moment its text is handed
over, and on Android the window is marked secure (no screenshots) while it is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import unicodedata
from collections.abc import Callable
from typing import Any

import toga
from toga.style import Pack

from bridge.app.password import check_typed
from bridge.app.platforms import DESKTOP, Platform
from bridge.app.runner import AppInteraction, Outcome, Reply, SessionRunner
from bridge.app.secure import set_secure_window
from bridge.cards import CardProvider, PcscCardProvider
from bridge.core import SessionOptions, Signed
from bridge.errors import BridgeError
from bridge.interaction import Problem
from bridge.messages import Messages
from bridge.protocol import Order, SignRequest, Stage
from bridge.url import BridgeUrlError, bridge_target, unwrap_app_link
from card.certificate import CertificateParseError, JpkiCertificate
from card.errors import CardError

APP_ID = "jp.mynasign.bridge"
ProviderFactory = Callable[[str | None], CardProvider]
"""Makes the card provider for the chosen reader (None: the first one / the phone's NFC)."""
WRAP_CELLS = 34
"""The default width of `wrap` in cells (a CJK character is two)."""
ORDERS = (Order.PASSWORD_FIRST, Order.CARD_FIRST)

MAX_WIDTH = 560
"""Content wider than this reads badly: a desktop window centres a column this wide."""
BODY_POINTS = 11
HEADING = Pack(font_size=18, font_weight="bold", margin_bottom=12)
TITLE = Pack(font_size=16, margin_bottom=10)
TEXT = Pack(margin_bottom=10, font_size=BODY_POINTS)
HINT = Pack(margin_bottom=10, font_size=10, color="#4a4a4a")
PROBLEM = Pack(margin_bottom=10, font_size=BODY_POINTS, color="#b00020", font_weight="bold")
NOTICE = Pack(margin_bottom=10, font_size=BODY_POINTS, color="#0b5394")
BUTTON = Pack(margin_top=8, height=44, font_size=BODY_POINTS)
DISABLED_BACKGROUND = "#c9ced6"
DISABLED_TEXT = "#5b6270"
PRIMARY = Pack(
    margin_top=8, height=48, font_size=BODY_POINTS, font_weight="bold",
    background_color="#1a56db", color="#ffffff",
)  # fmt: skip


NO_LINE_START = frozenset(
    "、。，．・：；？！ー」』）］｝〕〉》】ぁぃぅぇぉっゃゅょァィゥェォッャュョ,.:;!?)]}"
)
"""Characters a line must not start with (Japanese kinsoku): they stay on the line before."""


def _cells(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def wrap(text: str, cells: int = WRAP_CELLS) -> str:
    """`text` with line breaks so no line is wider than `cells` (Toga labels do not wrap).

    Latin words break at spaces, which stay at the end of the line: taking the breaks out
    gives the text back exactly.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for char in paragraph:
            fits = sum(map(_cells, line)) + _cells(char) <= cells
            if not fits and line and char != " " and char not in NO_LINE_START:
                cut = len(line)  # keep a Latin word whole: break before it
                while _cells(char) == 1 and cut > 0 and line[cut - 1].isascii():
                    if line[cut - 1] == " ":
                        break
                    cut -= 1
                if 0 < cut < len(line):
                    lines.append(line[:cut])
                    line = line[cut:]
                else:
                    lines.append(line)
                    line = ""
            line += char
        lines.append(line)
    return "\n".join(lines)


def _enable(button: toga.Button, enabled: bool) -> None:
    """Enable or disable a primary button, and let it look so (its colour hides the state)."""
    button.enabled = enabled
    button.style.background_color = PRIMARY.background_color if enabled else DISABLED_BACKGROUND
    button.style.color = PRIMARY.color if enabled else DISABLED_TEXT


def reader_names() -> list[str]:
    """The PC/SC readers connected now (none when PC/SC itself is missing)."""
    try:
        from card.pcsc import list_readers  # noqa: PLC0415 - pyscard: desktops only
    except ImportError:
        return []
    try:
        return list_readers()
    except CardError:
        return []


def default_provider(reader: str | None) -> CardProvider:
    return PcscCardProvider(reader)


class CompanionApp(toga.App):
    """The signing app: `CompanionApp(url=...).main_loop()`."""

    def __init__(
        self,
        *,
        url: str | None = None,
        lang: str = "ja",
        platform: Platform = DESKTOP,
        provider_factory: ProviderFactory = default_provider,
        options: SessionOptions | None = None,
        insecure: bool = False,
        readers: Callable[[], list[str]] = reader_names,
        size: tuple[int, int] = (420, 760),
        launch_url: Callable[[CompanionApp], str | None] | None = None,
    ) -> None:
        """`launch_url`: where a phone app finds the URL it was opened with (Android's
        intent); asked once the app has started."""
        self.t = Messages(lang)
        self.platform = platform
        self.provider_factory = provider_factory
        self.options = options or SessionOptions()
        self.insecure = insecure
        self.readers = readers
        self.initial_url = url
        self.launch_url = launch_url
        self.window_size = size
        self.screen = ""
        self.runner: SessionRunner | None = None
        self.outcome: Outcome | None = None
        self.request: SignRequest | None = None
        self._reply: Reply[bool] | Reply[str] | None = None
        self._notice: Problem | None = None
        self._reconnects_shown = 0
        self._screen_changed = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None
        super().__init__(formal_name="mynasign", app_id=APP_ID, app_name="mynasign_bridge")

    # --- life ---------------------------------------------------------------------------

    def startup(self) -> None:
        self.window = toga.MainWindow(  # type: ignore[no-untyped-call]
            title=self.t("app_title"), size=self.window_size
        )
        self.main_window = self.window
        self.show_start(self.initial_url or "")
        self.window.show()
        self._ticker = self.loop.create_task(self._tick())
        if self.initial_url is None and self.launch_url is not None:
            self.initial_url = self.launch_url(self)  # the App Link that opened the app
            if self.initial_url:
                self.show_start(self.initial_url)
        if self.initial_url and self.platform.phone:
            self.begin()

    def stop(self, timeout: float = 10.0) -> None:
        """End the ticker and any running session (before the app's loop closes)."""
        if self._ticker is not None:
            self._ticker.cancel()
        runner = self.runner
        if runner is not None and not runner.finished.is_set():
            runner.cancel()
            runner.finished.wait(timeout)

    def open_url(self, url: str) -> None:
        """A URL handed over while the app runs (an app link, the PC page's button)."""
        if self.runner is not None and not self.runner.finished.is_set():
            return  # one signature at a time: finish or cancel the current one first
        self.show_start(url)
        if self.platform.phone:
            self.begin()

    def post(self, action: Callable[[], None]) -> None:
        """Run `action` on the UI loop (from any thread)."""
        self.loop.call_soon_threadsafe(action)

    async def wait_for_screen(self, *names: str, timeout: float = 30.0) -> str:
        """Wait until one of `names` is shown (for tests and scripted screenshots)."""
        async with asyncio.timeout(timeout):
            while self.screen not in names:
                self._screen_changed.clear()
                await self._screen_changed.wait()
        return self.screen

    def _width(self) -> int:
        """The content column's width in pixels."""
        try:
            window_width = int(self.window.size[0])
        except (AttributeError, TypeError, ValueError):
            window_width = self.window_size[0]
        return max(240, min(window_width, MAX_WIDTH) - 32)

    def _show(self, name: str, *children: toga.Widget) -> None:
        set_secure_window(self, name == "password")
        column = toga.Box(
            children=list(children),
            style=Pack(direction="column", margin=16, width=self._width()),
        )
        row = toga.Box(children=[column], style=Pack(direction="row", justify_content="center"))
        self.window.content = toga.ScrollContainer(content=row, horizontal=False)
        self.screen = name
        self._screen_changed.set()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            self._update_time_left()
            runner = self.runner
            if runner is not None and runner.reconnects > self._reconnects_shown:
                self._reconnects_shown = runner.reconnects
                self._set_label("resumed", self.t("app_resumed", count=runner.reconnects))

    def _cells(self, style: Pack) -> int:
        """How many cells (a CJK character is two) fit the column in `style`'s font."""
        points = style.font_size if isinstance(style.font_size, int | float) else BODY_POINTS
        return max(16, int(self._width() / (0.7 * float(points))))

    def _set_label(self, widget_id: str, text: str) -> None:
        with contextlib.suppress(KeyError):
            label = self.window.widgets[widget_id]
            label.text = wrap(text, self._cells(label.style))
            label.style.display = "pack" if text else "none"

    def _time_left(self) -> str:
        if self.request is None:
            return ""
        left = self.request.expires_at - datetime.datetime.now(datetime.UTC)
        seconds = max(0, int(left.total_seconds()))
        return self.t("app_time_left", time=f"{seconds // 60:02d}:{seconds % 60:02d}")

    def _update_time_left(self) -> None:
        self._set_label("time-left", self._time_left())

    # --- widgets ------------------------------------------------------------------------

    def _label(self, text: str, style: Pack = TEXT, widget_id: str | None = None) -> toga.Label:
        style = style.copy()
        style.display = "pack" if text else "none"  # an empty line takes no room
        return toga.Label(wrap(text, self._cells(style)), id=widget_id, style=style)

    def _button(
        self,
        key: str,
        handler: Callable[[toga.Widget], Any],
        widget_id: str,
        *,
        primary: bool = False,
    ) -> toga.Button:
        return toga.Button(
            self.t(key), id=widget_id, on_press=handler, style=PRIMARY if primary else BUTTON
        )

    def _common(self) -> list[toga.Widget]:
        """The time left and the connection notice, on every screen of a running session."""
        return [
            self._label(self._time_left(), NOTICE, "time-left"),
            self._label("", NOTICE, "resumed"),
        ]

    def _notice_label(self) -> toga.Label:
        """The last problem (a wrong password, the card taken away) until the next answer."""
        notice = self._notice
        text = "" if notice is None else self.t(notice.key, **notice.params)
        return self._label(text, PROBLEM, "problem")

    def _cancel_button(self) -> toga.Button:
        return self._button("app_cancel", self._on_cancel, "cancel")

    # --- the start screen -----------------------------------------------------------------

    def show_start(self, url: str = "") -> None:
        self.request = None
        children: list[toga.Widget] = [
            self._label(self.t("app_start_heading"), HEADING),
            self._label(self.t("app_start_intro"), HINT),
            self._label(self.t("app_url_label"), TEXT),
            toga.TextInput(
                id="url", value=unwrap_app_link(url), placeholder=self.t("app_url_placeholder"),
                style=Pack(margin_bottom=10),
            ),
        ]  # fmt: skip
        if self.platform.has_readers:
            readers = self.readers()
            children.append(self._label(self.t("app_reader_label"), TEXT))
            choices = [{"label": self.t("app_reader_first"), "reader": ""}]
            choices += [{"label": name, "reader": name} for name in readers]
            children.append(toga.Selection(id="reader", items=choices, accessor="label"))
            if not readers:
                children.append(self._label(self.t("app_readers_none"), HINT, "readers-none"))
            children.append(self._button("app_readers_refresh", self._on_refresh, "refresh"))
        if self.platform.order is None:
            children.append(self._label(self.t("app_order_label"), TEXT))
            children.append(
                toga.Selection(
                    id="order",
                    items=[
                        {"label": self.t(f"app_order_{order.name.lower()}"), "order": order.value}
                        for order in ORDERS
                    ],
                    accessor="label",
                )
            )
        children += [
            self._label("", PROBLEM, "start-error"),
            self._button("app_start", lambda _w: self.begin(), "start", primary=True),
            self._button("app_language", self._on_language, "language"),
        ]
        self._show("start", *children)

    def _on_refresh(self, _widget: toga.Widget) -> None:
        self.show_start(self.window.widgets["url"].value)

    def _on_language(self, _widget: toga.Widget) -> None:
        other = "en" if self.t.lang == "ja" else "ja"
        self.t = Messages(other)
        self.window.title = self.t("app_title")
        self.show_start(self.window.widgets["url"].value)

    def _chosen_order(self) -> Order:
        if self.platform.order is not None:
            return self.platform.order
        return Order(self.window.widgets["order"].value.order)

    def _chosen_reader(self) -> str | None:
        if not self.platform.has_readers:
            return None
        chosen = str(self.window.widgets["reader"].value.reader)
        return chosen or None

    def begin(self) -> None:
        """Check the URL and start the session (the "Start" button)."""
        typed = unwrap_app_link(self.window.widgets["url"].value or "")
        if not typed:
            self._set_label("start-error", self.t("app_url_missing"))
            return
        try:
            target = bridge_target(typed, insecure=self.insecure)
        except BridgeUrlError as exc:
            self._set_label("start-error", self.t(exc.reason, detail=str(exc)))
            return
        order = self._chosen_order()
        try:
            provider = self.provider_factory(self._chosen_reader())
        except BridgeError as exc:
            self._set_label("start-error", self.t(exc.key, **exc.params))
            return
        options = SessionOptions(
            order=order,
            allow_last_try=self.options.allow_last_try,
            card_wait=self.options.card_wait,
            timeouts=self.options.timeouts,
        )
        self.outcome = None
        self._notice = None
        self._reconnects_shown = 0
        interaction = AppInteraction(self, self.post)
        self.runner = SessionRunner(target.websocket_url, provider, interaction, options, self._end)
        self._show(
            "connecting",
            self._label(self.t("app_connecting"), HEADING),
            self._label(target.host, HINT),
            toga.ActivityIndicator(running=True),
            self._cancel_button(),
        )
        self.runner.start()

    def _on_cancel(self, _widget: toga.Widget) -> None:
        if self._reply is not None and not self._reply.answered:
            self._reply.cancel()
        elif self.runner is not None:
            self.runner.cancel()

    # --- the core's questions (Screens) -----------------------------------------------------

    def show_request(self, request: SignRequest, reply: Reply[bool]) -> None:
        self.request = request
        self._reply = reply
        self._show(
            "request",
            self._label(self.t("app_request_heading"), HEADING),
            self._label(self.t("app_request_title"), HINT),
            self._label(request.document_title, TITLE, "request-title"),
            self._label(self.t("app_request_sender"), HINT),
            self._label(request.sender, TEXT, "request-sender"),
            self._label(self.t("app_request_signer"), HINT),
            self._label(request.expected_signer_name, TEXT, "request-signer"),
            *self._common(),
            self._button(
                "app_request_continue", lambda _w: reply.give(True), "continue", primary=True
            ),
            self._cancel_button(),
        )  # fmt: skip

    def ask_password(self, tries_left: int | None, reply: Reply[str]) -> None:
        self._reply = reply
        field = toga.PasswordInput(
            id="password", on_change=self._on_password_change,
            on_confirm=self._on_password_confirm,
            style=Pack(margin_bottom=6),
        )  # fmt: skip
        tries = "" if tries_left is None else self.t("app_password_tries", tries_left=tries_left)
        submit = self._button(
            "app_password_submit", lambda _w: self._submit_password(reply), "password-submit",
            primary=True,
        )  # fmt: skip
        _enable(submit, False)
        self._show(
            "password",
            self._label(self.t("app_password_heading"), HEADING),
            self._notice_label(),
            self._label(self.t("app_password_intro"), HINT),
            self._label(tries, TEXT, "password-tries"),
            field,
            self._label(self.t("app_password_rule"), HINT, "password-rule"),
            *self._common(),
            submit,
            self._cancel_button(),
        )
        field.focus()

    def _on_password_confirm(self, widget: toga.TextInput, **_kwargs: Any) -> None:
        if isinstance(self._reply, Reply) and self.screen == "password":
            self._submit_password(self._reply)  # type: ignore[arg-type]

    def _on_password_change(self, field: toga.Widget) -> None:
        check = check_typed(field.value)
        self._set_label("password-rule", self.t(check.key, **check.params))
        _enable(self.window.widgets["password-submit"], check.ok)

    def _submit_password(self, reply: Reply[str]) -> None:
        field = self.window.widgets["password"]
        if not check_typed(field.value).ok:
            return
        typed = field.value
        field.value = ""  # the field forgets it at once; the core drops it after the burst
        self._notice = None
        set_secure_window(self, False)
        reply.give(typed)
        del typed
        self._show_working(Stage.WAITING_FOR_CARD if self._card_next() else Stage.VERIFYING)

    def _card_next(self) -> bool:
        runner = self.runner
        return runner is not None and runner.session.options.order is Order.PASSWORD_FIRST

    def confirm_last_try(self, tries_left: int | None, reply: Reply[bool]) -> None:
        self._reply = reply

        def answer(value: bool) -> Callable[[toga.Widget], None]:
            return lambda _w: reply.give(value)

        self._show(
            "last_try",
            self._label(self.t("app_last_try_heading"), HEADING),
            self._label(self.t("app_last_try_text"), PROBLEM),
            *self._common(),
            self._button("app_last_try_stop", answer(False), "last-try-stop", primary=True),
            self._button("app_last_try_go", answer(True), "last-try-go"),
        )

    def ask_for_card(self) -> None:
        self._show(
            "card",
            self._label(self.t("app_card_heading"), HEADING),
            self._notice_label(),
            self._label(self.t(self.platform.card_key), TEXT, "card-text"),
            toga.ActivityIndicator(running=True),
            self._label(self.t("stage_waiting_for_card"), HINT, "stage"),
            *self._common(),
            self._cancel_button(),
        )

    def show_progress(self, stage: Stage) -> None:
        if stage in (Stage.WAITING_FOR_PASSWORD, Stage.WAITING_FOR_CARD):
            return  # their own screens follow
        if self.screen == "card" and stage is Stage.CARD_PRESENT:
            self._set_label("stage", self.t("stage_card_present"))
            return
        self._show_working(stage)

    def _show_working(self, stage: Stage) -> None:
        if self.screen == "working":
            self._set_label("stage", self.t(f"stage_{stage.value}"))
            return
        self._show(
            "working",
            self._label(self.t("app_working_heading"), HEADING),
            toga.ActivityIndicator(running=True),
            self._label(self.t(f"stage_{stage.value}"), TEXT, "stage"),
            self._label(self.t("app_working_keep"), HINT),
            *self._common(),
        )

    def show_problem(self, problem: Problem) -> None:
        self._notice = problem
        if self.screen in ("card", "password"):
            self._set_label("problem", self.t(problem.key, **problem.params))

    # --- the end ------------------------------------------------------------------------

    def _end(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self._reply = None
        if isinstance(outcome, Signed):
            self._show_done(outcome)
        else:
            self._show_error(outcome)

    def _show_done(self, signed: Signed) -> None:
        name = ""
        with contextlib.suppress(CertificateParseError):
            name = JpkiCertificate.from_der(signed.certificate).name or ""
        self.request = None
        self._show(
            "done",
            self._label(self.t("app_done_heading"), HEADING),
            self._label(self.t("app_done_text"), TEXT),
            self._label(self.t("app_done_signer", name=name) if name else "", TEXT, "done-signer"),
            self._button("app_again", lambda _w: self.show_start(), "again", primary=True),
            self._button("app_close", self._on_close, "close"),
        )

    def _on_close(self, _widget: toga.Widget) -> None:
        self.request_exit()  # type: ignore[no-untyped-call]

    def _show_error(self, error: BaseException) -> None:
        if isinstance(error, BridgeError):
            message = self.t(error.key, **error.params)
        else:
            message = self.t("app_unexpected", detail=type(error).__name__)
        self.request = None
        self._show(
            "error",
            self._label(self.t("app_error_heading"), HEADING),
            self._label(message, PROBLEM, "error-text"),
            self._label(self.t("app_error_retry_hint"), HINT),
            self._button("app_back", lambda _w: self.show_start(), "back", primary=True),
        )

    def error_key(self) -> str | None:
        """The catalogue key of the run's failure (None: none, or not a bridge error)."""
        return self.outcome.key if isinstance(self.outcome, BridgeError) else None
