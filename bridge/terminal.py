"""The terminal's `UserInteraction`: prompts with getpass (no echo) or one line of stdin.

Progress and the request go to `out`, problems to `err`. With `--password-stdin` there is
exactly one password: asking again (after a wrong one) stops the run instead, and the
last try is never spent without `--allow-last-try`.
"""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from bridge.errors import NotSignedError, PasswordError, UsageError
from bridge.interaction import Problem
from bridge.messages import Messages
from bridge.protocol import SignRequest, Stage

DIGEST_SHOWN = 16
YES = frozenset({"y", "yes", "はい"})


class TerminalInteraction:
    """A person at a terminal (or a script feeding one password on stdin)."""

    def __init__(
        self,
        messages: Messages,
        *,
        password_stdin: bool = False,
        card_kind: str = "reader",
        stdin: TextIO | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.t = messages
        self.password_stdin = password_stdin
        self.card_kind = card_kind
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._stdin_used = False

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def show_request(self, request: SignRequest) -> None:
        expires = request.expires_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        header = self.t("request_header")
        self._say(f"== {header} ==")
        self._say(self.t("request_title", title=request.document_title))
        self._say(self.t("request_sender", sender=request.sender))
        self._say(self.t("request_signer", name=request.expected_signer_name))
        if request.digest is not None:  # v1; v2 sends the digest after the certificate
            self._say(self.t("request_digest", digest=request.digest[:DIGEST_SHOWN] + "…"))
        self._say(self.t("request_expires", expires=expires))

    def ask_password(self, tries_left: int | None) -> str:
        if self.password_stdin:
            if self._stdin_used:
                raise PasswordError("password_no_retry", reason="wrong_password")
            self._stdin_used = True
            line = self.stdin.readline()
            if not line.strip():
                raise UsageError("password_stdin_empty", reason="no_password")
            return line.rstrip("\r\n")
        if tries_left is None:
            prompt = self.t("prompt_password")
        else:
            prompt = self.t("prompt_password_tries", tries_left=tries_left)
        try:
            return getpass.getpass(prompt)
        except EOFError:
            raise NotSignedError("user_cancelled", reason="user_cancelled") from None

    def confirm_last_try(self, tries_left: int | None) -> bool:
        if self.password_stdin or not self.stdin.isatty():
            print(self.t("last_try_needs_flag"), file=self.err, flush=True)
            return False
        print(self.t("confirm_last_try"), end="", file=self.out, flush=True)
        answer = self.stdin.readline()
        return answer.strip().lower() in YES

    def ask_for_card(self) -> None:
        self._say(self.t(f"ask_card_{self.card_kind}"))

    def show_progress(self, stage: Stage) -> None:
        self._say(f"… {self.t(f'stage_{stage.value}')}")

    def show_error(self, problem: Problem) -> None:
        print(self.t(problem.key, **problem.params), file=self.err, flush=True)
