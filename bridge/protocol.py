"""Wire protocol (v1 and v2) between the bridge and the server: the pydantic models are the spec.

Every frame is one JSON text object with `type` and `version`. The `hello` is always
sent as version 1 and says the highest version the bridge speaks; the server's `claim`
carries the version chosen, and every later frame, both ways, carries that version.
v2 adds `certificate` (bridge → server, after VERIFY) and `sign_digest` (the answer: what
to sign, so that the PDF's `/Name` can be the name in the certificate); its
`sign_request` carries no digest. `parse_message` turns a frame into a model or raises
`ProtocolError` with a stable code; `message_json_schema` is what `jpki-bridge schema`
prints. `docs/protocol.md` explains the exchange.
"""

from __future__ import annotations

import json
import unicodedata
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

PROTOCOL_VERSION: Final = 2
"""The highest version this side speaks."""
SUPPORTED_VERSIONS: Final = frozenset({1, 2})
V2_TYPES: Final = frozenset({"certificate", "sign_digest"})
"""Messages that exist only from version 2 on."""
CLAIM_KEY_PATTERN = r"^[A-Za-z0-9_-]{22,128}$"
"""Claim keys, like link tokens, are base64url with at least 128 random bits."""
SHA256_HEX_PATTERN = r"^[0-9a-f]{64}$"
BASE64_PATTERN = r"^[A-Za-z0-9+/]+={0,2}$"
CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_CMS_BASE64 = 64 * 1024
MAX_CERTIFICATE_BASE64 = 16 * 1024
"""A JPKI signing certificate is about 1.7 KB of DER; 12 KiB of DER is plenty."""


class ProtocolErrorCode(StrEnum):
    """Why a frame was refused (the `code` of an `error` message)."""

    MALFORMED_JSON = "malformed_json"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    INVALID_MESSAGE = "invalid_message"
    UNEXPECTED_MESSAGE = "unexpected_message"
    ALREADY_CLAIMED = "already_claimed"
    INVALID_CLAIM_KEY = "invalid_claim_key"
    UNKNOWN_SESSION = "unknown_session"
    INTERNAL = "internal"


class ProtocolError(Exception):
    """A frame that is not a valid message, or one that arrived at the wrong time."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Order(StrEnum):
    """Which comes first: the password (iPhone order) or the card (Android order)."""

    PASSWORD_FIRST = "password-first"  # noqa: S105 - an order, not a password
    CARD_FIRST = "card-first"


class Stage(StrEnum):
    """Where the bridge is; shown to the person at the PC through the server."""

    WAITING_FOR_PASSWORD = "waiting_for_password"  # noqa: S105 - a stage
    WAITING_FOR_CARD = "waiting_for_card"
    CARD_PRESENT = "card_present"
    VERIFYING = "verifying"
    READING_CERTIFICATE = "reading_certificate"
    SIGNING = "signing"
    SENDING = "sending"


class CardErrorCode(StrEnum):
    """What went wrong with the card; never carries a secret."""

    WRONG_PASSWORD = "wrong_password"  # noqa: S105 - an error code
    LOCKED = "locked"
    NOT_JPKI_CARD = "not_jpki_card"
    CARD_REMOVED = "card_removed"
    NO_READER = "no_reader"
    NO_CARD = "no_card"
    CARD_FAILURE = "card_failure"
    SIGNATURE_CHECK_FAILED = "signature_check_failed"


def printable(text: str, limit: int = 1000) -> str:
    """`text` made fit for a `Note`: control and format characters become `?`, cut to `limit`."""
    cleaned = "".join(
        "?" if unicodedata.category(char) in ("Cc", "Cf") else char for char in text[:limit]
    )
    return cleaned or "?"


def _no_control_characters(text: str) -> str:
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in text):
        raise ValueError("control and format characters are not allowed")
    return text


_Clean = AfterValidator(_no_control_characters)
Title = Annotated[str, Field(min_length=1, max_length=500), _Clean]
PersonName = Annotated[str, Field(min_length=1, max_length=200), _Clean]
Note = Annotated[str, Field(min_length=1, max_length=1000), _Clean]
ClientName = Annotated[str, Field(min_length=1, max_length=64), _Clean]
Code = Annotated[str, Field(pattern=CODE_PATTERN)]
ClaimKey = Annotated[str, Field(pattern=CLAIM_KEY_PATTERN)]
Sha256Hex = Annotated[str, Field(pattern=SHA256_HEX_PATTERN)]


def _envelope_first(schema: dict[str, Any]) -> None:
    """Mark `type` and `version` required in the JSON Schema (they have Python defaults)."""
    required = [name for name in schema.get("required", []) if name not in ("type", "version")]
    schema["required"] = ["type", "version", *required]


class _Message(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, json_schema_extra=_envelope_first
    )

    type: str
    version: Literal[1, 2] = 1
    """The connection's protocol version (the `hello`: always 1)."""

    def to_json(self) -> str:
        """The frame's text."""
        return self.model_dump_json()

    def in_version(self, version: int) -> Any:
        """This message as sent on a connection of protocol `version` (same type)."""
        if version == self.version:
            return self
        return type(self).model_validate({**self.model_dump(), "version": version})


class _V2Message(_Message):
    version: Literal[2] = 2  # narrower: these exist from version 2 on


# --- bridge -> server -------------------------------------------------------------------


class Hello(_Message):
    """First frame of a new connection: who is calling and in which order it will ask.

    Sent as version 1 whatever the bridge speaks, so that any server can read it;
    `protocol_version` is the highest version the bridge speaks.
    """

    type: Literal["hello"] = "hello"
    client: ClientName
    client_version: ClientName
    protocol_version: Annotated[int, Field(ge=1)] = 1
    """Left out: 1 (as the first bridges meant it)."""
    order: Order


class ClaimResume(_Message):
    """First frame of a reconnection: the claim key received in `claim`."""

    type: Literal["claim_resume"] = "claim_resume"
    claim_key: ClaimKey


class Progress(_Message):
    """The bridge reached a stage."""

    type: Literal["progress"] = "progress"
    stage: Stage


class CardError(_Message):
    """A card problem; `tries_left` for wrong_password (null: unknown) and 0 for locked."""

    type: Literal["card_error"] = "card_error"
    code: CardErrorCode
    tries_left: Annotated[int, Field(ge=0, le=15)] | None = None
    message: Note


class Certificate(_V2Message):
    """v2: the card's signing certificate (DER, standard base64), read after VERIFY.

    Sent while the card is still held; the server answers `sign_digest`.
    """

    type: Literal["certificate"] = "certificate"
    certificate: Annotated[
        str, Field(min_length=4, max_length=MAX_CERTIFICATE_BASE64, pattern=BASE64_PATTERN)
    ]


class Signature(_Message):
    """The detached CMS SignedData (DER, standard base64) over the requested digest."""

    type: Literal["signature"] = "signature"
    digest: Sha256Hex
    cms: Annotated[str, Field(min_length=4, max_length=MAX_CMS_BASE64, pattern=BASE64_PATTERN)]


# --- server -> bridge -------------------------------------------------------------------


class Claim(_Message):
    """The session is this bridge's; `claim_key` lets it reconnect until `expires_at`."""

    type: Literal["claim"] = "claim"
    claim_key: ClaimKey
    expires_at: AwareDatetime


class SignRequest(_Message):
    """What is to be signed. v1: with the SHA-256 digest (lower-case hex) of the prepared
    PDF revision; v2: without it (`sign_digest` brings it once the certificate is known)."""

    type: Literal["sign_request"] = "sign_request"
    document_title: Title
    sender: PersonName
    expected_signer_name: PersonName
    digest_algorithm: Literal["sha256"] = "sha256"
    digest: Sha256Hex | None = None
    expires_at: AwareDatetime

    @model_validator(mode="after")
    def _digest_in_v1_only(self) -> SignRequest:
        if self.version == 1 and self.digest is None:
            raise ValueError("a v1 sign_request needs the digest")
        if self.version != 1 and self.digest is not None:
            raise ValueError("a v2 sign_request has no digest: sign_digest brings it")
        return self

    def to_json(self) -> str:
        return self.model_dump_json(exclude={"digest"} if self.digest is None else None)


class SignDigest(_V2Message):
    """v2: the digest to sign for the announced certificate (its SHA-256 names it)."""

    type: Literal["sign_digest"] = "sign_digest"
    certificate_sha256: Sha256Hex
    digest_algorithm: Literal["sha256"] = "sha256"
    digest: Sha256Hex


class Result(_Message):
    """The server's verdict on the signature; `reason` is set when rejected."""

    type: Literal["result"] = "result"
    outcome: Literal["accepted", "rejected"]
    reason: Code | None = None
    message: Note | None = None

    @model_validator(mode="after")
    def _reason_when_rejected(self) -> Result:
        if self.outcome == "rejected" and self.reason is None:
            raise ValueError("a rejected result needs a reason")
        return self


class Expired(_Message):
    """The session ran out of time; nothing more will be accepted."""

    type: Literal["expired"] = "expired"
    message: Note | None = None


# --- both directions --------------------------------------------------------------------


class Cancelled(_Message):
    """The session is called off (by the person, the bridge or the sender)."""

    type: Literal["cancelled"] = "cancelled"
    reason: Code
    message: Note | None = None


class Error(_Message):
    """A protocol error; the sender closes the connection after it."""

    type: Literal["error"] = "error"
    code: Code
    message: Note


Message = Annotated[
    Hello
    | ClaimResume
    | Progress
    | CardError
    | Certificate
    | Signature
    | Claim
    | SignRequest
    | SignDigest
    | Result
    | Expired
    | Cancelled
    | Error,
    Field(discriminator="type"),
]
BridgeMessage = (
    Hello | ClaimResume | Progress | CardError | Certificate | Signature | Cancelled | Error
)
ServerMessage = Claim | SignRequest | SignDigest | Result | Expired | Cancelled | Error

_MODELS: tuple[type[_Message], ...] = (
    Hello,
    ClaimResume,
    Progress,
    CardError,
    Certificate,
    Signature,
    Claim,
    SignRequest,
    SignDigest,
    Result,
    Expired,
    Cancelled,
    Error,
)
MESSAGE_TYPES: dict[str, type[_Message]] = {
    model.model_fields["type"].default: model for model in _MODELS
}
BRIDGE_TYPES = frozenset(
    {"hello", "claim_resume", "progress", "card_error", "certificate", "signature", "cancelled",
     "error"}
)  # fmt: skip
SERVER_TYPES = frozenset(
    {"claim", "sign_request", "sign_digest", "result", "expired", "cancelled", "error"}
)

_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


def parse_message(text: str | bytes) -> Message:
    """The message a frame holds; `ProtocolError` for bad JSON, unknown type or version.

    Whether the version is the connection's is for the caller to check.
    """
    if isinstance(text, bytes):
        raise ProtocolError(ProtocolErrorCode.MALFORMED_JSON, "binary frames are not used")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(ProtocolErrorCode.MALFORMED_JSON, "the frame is not JSON") from exc
    if not isinstance(obj, dict):
        raise ProtocolError(ProtocolErrorCode.MALFORMED_JSON, "the frame is not a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        shown = kind if isinstance(kind, str) and len(kind) <= 40 else "?"
        raise ProtocolError(ProtocolErrorCode.UNKNOWN_TYPE, f"unknown message type {shown!r}")
    version = obj.get("version")
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise ProtocolError(
            ProtocolErrorCode.UNSUPPORTED_VERSION,
            f"{kind} must have version 1 or 2; this side speaks v1 and v2",
        )
    if kind in V2_TYPES and version < 2:
        raise ProtocolError(ProtocolErrorCode.UNKNOWN_TYPE, f"{kind} is not a v1 message")
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"][1:]) or kind for err in exc.errors()})
        named = printable(", ".join(fields), 200)
        raise ProtocolError(
            ProtocolErrorCode.INVALID_MESSAGE, f"invalid {kind}: check {named}"
        ) from None


def message_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of every message, as a discriminated union."""
    schema = _ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"mynasign bridge protocol v1 and v{PROTOCOL_VERSION}"
    return schema
