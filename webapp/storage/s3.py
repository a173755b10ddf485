"""The S3 back end of the blob store (AWS S3 or any S3-compatible store), through boto3.

Writes stream as a multipart upload, `PART_SIZE` bytes per part, and the object appears
only when `CompleteMultipartUpload` succeeds; a write that fails is aborted, so nothing
is left (not even parts). A blob smaller than one part is a single `PutObject`, which is
just as atomic. Reads stream the `GetObject` body as it arrives. boto3's client is
thread-safe: one client serves every request thread.

Credentials are boto3's usual ones (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, a
profile, or an instance role); the bucket, region and endpoint come from settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from webapp.storage.blobs import BlobNotFoundError, BlobReader, BlobSink, check_blob_name

if TYPE_CHECKING:
    from webapp.settings import Settings

PART_SIZE = 5 * 1024 * 1024
"""S3's smallest part (all parts but the last): what one write keeps in memory."""
READ_CHUNK = 1024 * 1024
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}


class StorageUnavailableError(Exception):
    """The object store cannot be used (unreachable, no such bucket, refused credentials)."""


class _ObjectReader:
    """The body of one GetObject, read as it arrives."""

    def __init__(self, body: Any, size: int) -> None:
        self._body = body
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def read(self, size: int, /) -> bytes:
        data: bytes = self._body.read(size)
        return data

    def close(self) -> None:
        self._body.close()


class _MultipartSink:
    """Collects written bytes into one buffer and uploads it as a part once it is full.

    The buffer itself is the part's body (no copy): what a write holds is one part.
    """

    def __init__(self, client: Any, bucket: str, key: str, part_size: int) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, data: bytes, /) -> int:
        self._buffer += data
        if len(self._buffer) >= self._part_size:
            self._upload_part()
        return len(data)

    def finish(self) -> None:
        """Make the object appear: one PutObject, or the last part and the completion."""
        if self._upload_id is None:
            body, self._buffer = self._buffer, bytearray()
            self._client.put_object(Bucket=self._bucket, Key=self._key, Body=body)
            return
        if self._buffer:
            self._upload_part()
        self._client.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )  # fmt: skip

    def abort(self) -> None:
        """Throw away the parts uploaded so far; no object appears."""
        self._buffer = bytearray()
        if self._upload_id is not None:
            with contextlib.suppress(ClientError, BotoCoreError):
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
                )

    def _upload_part(self) -> None:
        if self._upload_id is None:
            started = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)
            self._upload_id = str(started["UploadId"])
        number = len(self._parts) + 1
        body, self._buffer = self._buffer, bytearray()
        answer = self._client.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
            PartNumber=number, Body=body,
        )  # fmt: skip
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})


class S3BlobStore:
    """Blobs as objects `<prefix><blob name>` in one bucket."""

    def __init__(
        self, client: Any, bucket: str, *, prefix: str = "", part_size: int = PART_SIZE
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def check(self) -> None:
        """Fail now (`StorageUnavailableError`) if the bucket cannot be reached with these
        credentials, rather than at the first upload."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailableError(
                f"the S3 bucket {self.bucket!r} cannot be used: {exc}"
            ) from exc

    @contextlib.contextmanager
    def writing(self, blob_name: str) -> Iterator[BlobSink]:
        sink = _MultipartSink(self.client, self.bucket, self._key(blob_name), self.part_size)
        try:
            yield sink
            sink.finish()
        except BaseException:
            sink.abort()
            raise

    def open_read(self, blob_name: str) -> BlobReader:
        key = self._key(blob_name)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                raise BlobNotFoundError(blob_name, f"the S3 bucket {self.bucket!r}") from None
            raise
        return _ObjectReader(answer["Body"], int(answer["ContentLength"]))

    def delete(self, blob_name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(blob_name))

    def _key(self, blob_name: str) -> str:
        return self.prefix + check_blob_name(blob_name)


def s3_client(
    *, endpoint_url: str | None = None, region: str | None = None, max_connections: int = 32
) -> Any:
    """A boto3 S3 client; credentials from boto3's usual chain (environment, profile, role)."""
    import boto3  # noqa: PLC0415 - only when the S3 back end is chosen
    from botocore.config import Config  # noqa: PLC0415

    config = Config(
        max_pool_connections=max_connections,
        retries={"mode": "standard"},
        # checksums only where S3 requires them: some S3-compatible stores refuse the rest
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )


def s3_blob_store(settings: Settings) -> S3BlobStore:
    """The S3 store the settings name (bucket checked by the caller with `check()`)."""
    assert settings.s3_bucket is not None  # noqa: S101 - validated with the settings
    client = s3_client(endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    return S3BlobStore(client, settings.s3_bucket)
