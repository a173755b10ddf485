"""Several instances of the service behind nginx: one PostgreSQL database, one S3 bucket
(moto's server), one SMTP server."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webapp.cluster.processes import (
    Cluster,
    Instance,
    free_port,
    running_nginx,
    start_instance,
)
from tests.webapp.db.conftest import postgres_databases  # noqa: F401 - a fixture
from tests.webapp.db.databases import PostgresDatabases
from tests.webapp.mail.smtp_server import Collector, LoopbackController
from tests.webapp.storage.s3_server import moto_s3_server
from webapp.storage.s3 import s3_client

REGION = "ap-northeast-1"


@pytest.fixture
def cluster(
    tmp_path: Path,
    postgres_databases: PostgresDatabases,  # noqa: F811 - the fixture imported above
) -> Iterator[Cluster]:
    database_url = postgres_databases.create(migrated=True)
    s3 = contextlib.ExitStack()
    endpoint = s3.enter_context(moto_s3_server())
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    os.environ.update(credentials)  # boto3 in this process (the bucket) finds them too
    s3_client(endpoint_url=endpoint, region=REGION).create_bucket(
        Bucket="mynasign-cluster",
        CreateBucketConfiguration={"LocationConstraint": REGION},
    )
    collector = Collector()
    smtp = LoopbackController(collector)
    smtp.start()
    data_dir = tmp_path / "var"
    listen = free_port()
    cluster_url = f"http://127.0.0.1:{listen}"
    env = {
        **os.environ,
        "MYNASIGN_DATABASE_URL": database_url,
        "MYNASIGN_SMTP_HOST": "127.0.0.1",
        "MYNASIGN_SMTP_PORT": str(smtp.port),
        "MYNASIGN_SMTP_SECURITY": "none",
        "MYNASIGN_STORAGE": "s3",
        "MYNASIGN_S3_BUCKET": "mynasign-cluster",
        "MYNASIGN_S3_ENDPOINT_URL": endpoint,
        "MYNASIGN_S3_REGION": REGION,
        **credentials,
        "PYTHONUNBUFFERED": "1",
    }
    instances = [Instance(name, free_port(), tmp_path / f"{name}.log") for name in ("a", "b")]
    try:
        for instance in instances:  # one after the other: the first makes the dev PKI
            start_instance(instance, cluster_url, data_dir, env)
        ports = [instance.port for instance in instances]
        with running_nginx(tmp_path / "nginx", listen, ports):
            yield Cluster(
                cluster_url, database_url, data_dir, instances, collector,
                tmp_path / "nginx" / "error.log",
            )  # fmt: skip
    finally:
        for instance in instances:
            instance.stop()
        smtp.stop()
        s3.close()
