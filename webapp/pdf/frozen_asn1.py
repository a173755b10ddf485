"""Signed ASN.1 kept as its exact bytes: a guard against asn1crypto re-encoding it, slowly.

Once asn1crypto has parsed a SEQUENCE with a DEFAULT field left out (as DER requires:
ESSCertIDv2's sha256 hash algorithm in every signing-certificate-v2 attribute), it
considers the SEQUENCE and all its parents "mutated" for ever, and re-encodes the whole
subtree twice per level on every dump; a definite length ending in byte 0x80 is also
taken for an indefinite one and forces the same (asn1crypto issues #249, #256). In a
seal, a timestamp token sits some twenty levels deep, so one seal took 0.1 s or 5 s at
random, depending on the lengths it happened to have.

Signed bytes must never be re-encoded anyway. So the TSA's tokens, our signed attributes
and each finished CMS are frozen: parsed from the DER that was (or will be) signed, and
always written out as exactly that DER. A frozen value must not be changed.
"""

from __future__ import annotations

from typing import Any, Self

from asn1crypto import cms
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.timestamps.common_utils import handle_tsp_response

from webapp.http_client import PooledTimeStamper


class _Frozen:
    """Mixin for asn1crypto SEQUENCE / SET OF classes: contents fixed at `freeze` time."""

    _frozen_contents: bytes | None = None

    @classmethod
    def freeze(cls, der: bytes) -> Self:
        value = cls.load(der)  # type: ignore[attr-defined]
        value._frozen_contents = value.contents  # as parsed, before any child is touched
        return value  # type: ignore[no-any-return]

    def _is_mutated(self) -> bool:
        if self._frozen_contents is not None:
            return False
        return bool(super()._is_mutated())  # type: ignore[misc]

    def _set_contents(self, force: bool = False) -> None:
        if self._frozen_contents is None:
            super()._set_contents(force)  # type: ignore[misc]
            return
        self._contents = self._frozen_contents
        self._header = None  # recomputed for the tagging in force (implicit [0] in SignerInfo)

    def _copy(self, other: Any, copy_func: Any) -> None:
        super()._copy(other, copy_func)  # type: ignore[misc]
        self._frozen_contents = getattr(other, "_frozen_contents", None)


class FrozenContentInfo(_Frozen, cms.ContentInfo):  # type: ignore[misc]
    """A ContentInfo (a timestamp token) that always encodes as the DER it came as."""


class FrozenAttributes(_Frozen, cms.CMSAttributes):  # type: ignore[misc]
    """Signed attributes that always encode as the DER that was signed."""


class KeepingTimeStamper(PooledTimeStamper):
    """The HTTP timestamp client (on the process's shared HTTP client, `webapp.http_client`),
    returning tokens as `FrozenContentInfo`."""

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        nonce, request = self.request_cms(message_digest, md_algorithm)  # type: ignore[no-untyped-call]
        response = await self.async_request_tsa_response(request)
        try:
            received = response["time_stamp_token"].dump()  # as sent: nothing parsed inside yet
            handle_tsp_response(response, nonce)  # status and nonce; TimestampRequestError
            return FrozenContentInfo.freeze(received)
        except (ValueError, TypeError, KeyError) as exc:  # not a time-stamp response at all
            raise TimestampRequestError("the TSA's answer cannot be parsed") from exc


class FrozenSignatures:
    """Mixin for pyHanko `Signer`s: signed and unsigned attributes and the CMS come out frozen.

    Each level is frozen on its own because asn1crypto copies a value whenever it is
    tagged into a parent (the attribute sets into a SignerInfo, the SignedData into its
    ContentInfo), and a copy re-parses its children into plain, unfrozen classes.
    """

    async def async_sign_prescribed_attributes(
        self, digest_algorithm: str, signed_attrs: cms.CMSAttributes, *args: Any, **kwargs: Any
    ) -> cms.ContentInfo:
        frozen = FrozenAttributes.freeze(signed_attrs.dump())
        result: cms.ContentInfo = await super().async_sign_prescribed_attributes(  # type: ignore[misc]
            digest_algorithm, frozen, *args, **kwargs
        )
        return FrozenContentInfo.freeze(result.dump())

    async def unsigned_attrs(self, *args: Any, **kwargs: Any) -> cms.CMSAttributes | None:
        attributes = await super().unsigned_attrs(*args, **kwargs)  # type: ignore[misc]
        if attributes is None:
            return None
        return FrozenAttributes.freeze(attributes.dump())
