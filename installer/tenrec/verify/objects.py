"""Swift: what the proxy offers, an object's life through the Swift and S3 APIs, and where its
bytes are.

object/put-get puts 10 MiB of random bytes with python-swiftclient and reads them back;
object/replicas finds the object's data file on the storage nodes' disks (as many nodes as
the rings keep replicas); object/s3 reads the same object and writes another through the S3
API with boto3 and the operator's EC2 credential; object/tempurl reads it without a token
through a signed URL; object/slo stores a static large object in segments and reads it whole.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tenrec.verify.core import Check, CheckFailed, Context, Family, SkipCheck, deployment_secrets, one_line
from tenrec.verify.identity import TOKEN
from tenrec.verify.nodes import node_names, node_output
from tenrec.verify.patience import scaled

SERVICE = "swift"
INFO = "object/info"
PUT_GET = "object/put-get"
REPLICAS = "object/replicas"
LISTING = "object/listing"
S3 = "object/s3"
TEMPURL = "object/tempurl"
SLO = "object/slo"
DELETE = "object/delete"
GLANCE_STORE = "object/glance-store"
# Where the glance role puts images when Swift is on (roles/glance: glance_swift_container).
GLANCE_CONTAINER = "glance"

MIB = 1024 * 1024
OBJECT_SIZE = 10 * MIB
OBJECT_NAME = "payload"
# What the proxy's pipeline must offer (its /info keys).
# dlo is in the pipeline too, but registers nothing in /info.
WANTED_CAPABILITIES = ("s3api", "tempurl", "slo", "staticweb", "bulk_upload", "bulk_delete", "symlink")
# Seconds for every replica's data file to appear (the proxy answers once a quorum wrote).
REPLICA_TIMEOUT = 30
# Seconds for the proxy to see a new temp URL key (it caches container info).
TEMPURL_KEY_TIMEOUT = 15
HTTP_TIMEOUT = 60

SWIFT_KEY = "object.swift"
CONTAINER_KEY = "object.container"
PAYLOAD_KEY = "object.payload"


@dataclass(frozen=True)
class Proxy:
    """The account's storage URL and the proxy's root (where /info and S3 answer)."""

    storage_url: str
    root: str
    account: str


def split_storage_url(url: str) -> Proxy:
    """http://host:8080/v1/AUTH_x -> its root http://host:8080 and account AUTH_x."""
    root, marker, rest = url.rstrip("/").partition("/v1/")
    if not marker or not rest:
        raise CheckFailed(f"the object-store endpoint {url} is not of the form http://HOST:PORT/v1/ACCOUNT")
    return Proxy(url.rstrip("/"), root, rest.split("/", 1)[0])


def missing_capabilities(info: dict[str, Any]) -> list[str]:
    return [name for name in WANTED_CAPABILITIES if name not in info]


def object_hash(prefix: str, suffix: str, account: str, container: str, name: str) -> str:
    """The object's hash as Swift names its directory (swift.common.utils.hash_path)."""
    path = "/" + "/".join((account, container, name))
    return hashlib.md5((prefix + path + suffix).encode(), usedforsecurity=False).hexdigest()


def expected_replicas(replicas: int | None, zones: Sequence[int]) -> int:
    """The rings' replica count: the config's, else min(3, number of zones)."""
    return replicas or min(3, len(set(zones)))


def temp_url_signature(key: str, method: str, expires: int, path: str) -> str:
    body = f"{method}\n{expires}\n{path}"
    return hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()


def swift_client(ctx: Context) -> Any:
    if SWIFT_KEY not in ctx.scratch:
        from swiftclient.client import Connection  # noqa: PLC0415

        conn = ctx.conn
        options = {
            "service_type": "object-store",
            "interface": conn.config.get_interface() or "public",
            "region_name": conn.config.region_name,
        }
        ctx.scratch[SWIFT_KEY] = Connection(
            session=conn.session, os_options=options, retries=2, timeout=scaled(HTTP_TIMEOUT)
        )
    return ctx.scratch[SWIFT_KEY]


def _proxy(ctx: Context) -> Proxy:
    url, _token = swift_client(ctx).get_auth()
    return split_storage_url(url)


def _requests() -> Any:
    import requests  # noqa: PLC0415

    return requests


# --- the proxy ------------------------------------------------------------------------------


def info(ctx: Context) -> str:
    proxy = _proxy(ctx)
    answer = _requests().get(f"{proxy.root}/info", timeout=scaled(HTTP_TIMEOUT))
    if answer.status_code != 200:
        raise CheckFailed(f"GET {proxy.root}/info answered {answer.status_code}: {one_line(answer.text)}")
    found = answer.json()
    missing = missing_capabilities(found)
    if missing:
        offered = ", ".join(sorted(found))
        raise CheckFailed(f"the proxy's pipeline lacks {', '.join(missing)} (its /info lists {offered})")
    version = found.get("swift", {}).get("version", "?")
    return f"swift {version} at {proxy.root}: {', '.join(WANTED_CAPABILITIES)} on"


# --- an object's life -----------------------------------------------------------------------


def _container(ctx: Context, kind: str) -> str:
    swift = swift_client(ctx)
    name = ctx.resource_name(kind)
    swift.put_container(name)

    def remove() -> None:
        from swiftclient.exceptions import ClientException  # noqa: PLC0415

        try:
            _headers, listing = swift.get_container(name, full_listing=True)
        except ClientException as error:
            if error.http_status == 404:
                return
            raise
        for item in listing:
            query = "multipart-manifest=delete" if item.get("slo_etag") or kind == "slo" else None
            swift.delete_object(name, item["name"], query_string=query)
        swift.delete_container(name)

    ctx.on_cleanup(f"container {name}", remove)
    return name


def put_get(ctx: Context) -> str:
    swift = swift_client(ctx)
    container = _container(ctx, "objects")
    payload = os.urandom(OBJECT_SIZE)
    started = time.monotonic()
    etag = swift.put_object(container, OBJECT_NAME, payload, content_type="application/octet-stream")
    put_seconds = time.monotonic() - started
    if etag != hashlib.md5(payload, usedforsecurity=False).hexdigest():
        raise CheckFailed(f"PUT {container}/{OBJECT_NAME}: the proxy's ETag {etag} is not the bytes' MD5")
    started = time.monotonic()
    _headers, body = swift.get_object(container, OBJECT_NAME)
    get_seconds = time.monotonic() - started
    sent, got = hashlib.sha256(payload).hexdigest(), hashlib.sha256(body).hexdigest()
    if got != sent:
        raise CheckFailed(f"GET {container}/{OBJECT_NAME}: {len(body)} bytes, sha256 {got[:16]}…, sent {sent[:16]}…")
    ctx.scratch[CONTAINER_KEY] = container
    ctx.scratch[PAYLOAD_KEY] = payload
    return (
        f"{container}/{OBJECT_NAME}: 10 MiB put in {put_seconds:.1f}s and read back in {get_seconds:.1f}s, "
        f"sha256 {sent[:16]}… both ways"
    )


def replicas(ctx: Context) -> str:
    if ctx.config is None:
        raise SkipCheck("no deployment config to find the storage nodes in")
    secrets = deployment_secrets(ctx)
    proxy = _proxy(ctx)
    container = ctx.scratch[CONTAINER_KEY]
    digest = object_hash(
        secrets["swift_hash_path_prefix"], secrets["swift_hash_path_suffix"], proxy.account, container, OBJECT_NAME
    )
    storage = ctx.config.nodes_with("storage")
    zones = [node.zone or number for number, node in enumerate(storage, start=1)]
    wanted = min(expected_replicas(ctx.config.object_storage.replicas, zones), len(storage))
    pattern = f"/srv/node/*/objects/*/{digest[-3:]}/{digest}/*.data"
    command = f"sh -c {shlex.quote(f'ls -1 {pattern} 2>/dev/null || true')}"
    deadline = time.monotonic() + scaled(REPLICA_TIMEOUT)
    while True:
        holding = {}
        for node in node_names(ctx, "storage"):
            files = [line for line in node_output(ctx, node, command).splitlines() if line.strip()]
            if files:
                holding[node] = files[0]
        if len(holding) >= wanted or time.monotonic() > deadline:
            break
        time.sleep(2)
    if len(holding) < wanted:
        raise CheckFailed(
            f"{container}/{OBJECT_NAME} (hash {digest}) is on {len(holding)} storage node(s) "
            f"({', '.join(holding) or 'none'}); the rings keep {wanted} replicas"
        )
    where = "; ".join(f"{node}:{path}" for node, path in sorted(holding.items()))
    return f"{len(holding)} replicas of {container}/{OBJECT_NAME}: {where}"


def listing(ctx: Context) -> str:
    container = ctx.scratch[CONTAINER_KEY]
    _headers, found = swift_client(ctx).get_container(container)
    entries = {item["name"]: item for item in found}
    entry = entries.get(OBJECT_NAME)
    if entry is None or entry.get("bytes") != OBJECT_SIZE:
        raise CheckFailed(f"the listing of {container} is {found!r}; expected {OBJECT_NAME} of {OBJECT_SIZE} bytes")
    return f"{container} lists {OBJECT_NAME}: {entry['bytes']} bytes, {entry.get('content_type')}"


def s3_client(endpoint: str, region: str, access: str, secret: str) -> Any:
    """A boto3 S3 client for Swift's s3api: path-style, SigV4, no CRC checksums."""
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            # Swift's s3api does not take the CRC checksums newer clients add by default.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 2},
        ),
    )


def _s3_client(ctx: Context, proxy: Proxy) -> Any:
    secrets = deployment_secrets(ctx)
    region = ctx.conn.config.region_name or "RegionOne"
    return s3_client(proxy.root, region, secrets["ec2_access_key"], secrets["ec2_secret_key"])


def s3(ctx: Context) -> str:
    proxy = _proxy(ctx)
    client = _s3_client(ctx, proxy)
    container, payload = ctx.scratch[CONTAINER_KEY], ctx.scratch[PAYLOAD_KEY]
    buckets = [bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])]
    if container not in buckets:
        raise CheckFailed(f"S3's bucket list lacks {container}: {', '.join(buckets) or 'none'}")
    started = time.monotonic()
    body = client.get_object(Bucket=container, Key=OBJECT_NAME)["Body"].read()
    if hashlib.sha256(body).digest() != hashlib.sha256(payload).digest():
        raise CheckFailed(f"S3 GET {container}/{OBJECT_NAME}: {len(body)} bytes that differ from what Swift stored")
    written = os.urandom(MIB)
    client.put_object(Bucket=container, Key="through-s3", Body=written)
    _headers, back = swift_client(ctx).get_object(container, "through-s3")
    if back != written:
        raise CheckFailed(f"{container}/through-s3, written through S3, reads back {len(back)} other bytes via Swift")
    return (
        f"S3 at {proxy.root} with the operator's EC2 key: {OBJECT_NAME} read (10 MiB, same sha256), "
        f"through-s3 written (1 MiB) and read via Swift; {time.monotonic() - started:.1f}s"
    )


def tempurl(ctx: Context) -> str:
    swift = swift_client(ctx)
    proxy = _proxy(ctx)
    container, payload = ctx.scratch[CONTAINER_KEY], ctx.scratch[PAYLOAD_KEY]
    key = os.urandom(16).hex()
    swift.post_container(container, {"X-Container-Meta-Temp-URL-Key": key})
    path = f"/v1/{proxy.account}/{container}/{OBJECT_NAME}"
    expires = int(time.time()) + 300
    signature = temp_url_signature(key, "GET", expires, path)
    requests = _requests()
    url = f"{proxy.root}{path}"
    wrong = requests.get(
        url, params={"temp_url_sig": "0" * 64, "temp_url_expires": expires}, timeout=scaled(HTTP_TIMEOUT)
    )
    if wrong.status_code != 401:
        raise CheckFailed(f"a GET with a wrong signature answered {wrong.status_code}, not 401")
    # The proxy may take a moment to see the new key (its container info is cached).
    deadline = time.monotonic() + scaled(TEMPURL_KEY_TIMEOUT)
    while True:
        answer = requests.get(
            url, params={"temp_url_sig": signature, "temp_url_expires": expires}, timeout=scaled(HTTP_TIMEOUT)
        )
        if answer.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    if answer.status_code != 200:
        raise CheckFailed(f"GET {path} with a temporary URL answered {answer.status_code}: {one_line(answer.text)}")
    if hashlib.sha256(answer.content).digest() != hashlib.sha256(payload).digest():
        raise CheckFailed(f"the temporary URL gave {len(answer.content)} bytes that differ from {OBJECT_NAME}'s")
    return f"GET {path} with no token, signed (HMAC-SHA256) for 300 s: 10 MiB, same sha256; a wrong signature: 401"


def slo(ctx: Context) -> str:
    import json  # noqa: PLC0415

    swift = swift_client(ctx)
    segments = _container(ctx, "slo")
    parts = [os.urandom(MIB), os.urandom(MIB), os.urandom(MIB // 2)]
    manifest = []
    for number, part in enumerate(parts):
        name = f"segment-{number}"
        etag = swift.put_object(segments, name, part)
        manifest.append({"path": f"/{segments}/{name}", "etag": etag, "size_bytes": len(part)})
    swift.put_object(segments, "whole", json.dumps(manifest), query_string="multipart-manifest=put")
    headers, body = swift.get_object(segments, "whole")
    whole = b"".join(parts)
    if body != whole:
        raise CheckFailed(f"{segments}/whole reads {len(body)} bytes, not its {len(parts)} segments' {len(whole)}")
    if headers.get("x-static-large-object", "").lower() != "true":
        raise CheckFailed(f"{segments}/whole is not marked a static large object: {headers!r}")
    return f"{segments}/whole from {len(parts)} segments ({len(whole)} bytes) reads back whole"


def glance_store(ctx: Context) -> str:
    """image/upload's image is in Glance's swift store: an object of its size named after it in
    the glance service user's container, read with that user's credentials."""
    from keystoneauth1 import session as ks_session  # noqa: PLC0415
    from keystoneauth1.identity import v3  # noqa: PLC0415
    from swiftclient.client import Connection  # noqa: PLC0415
    from swiftclient.exceptions import ClientException  # noqa: PLC0415

    from tenrec.verify.image import UPLOADED_KEY  # noqa: PLC0415

    image = ctx.conn.image.get_image(ctx.scratch[UPLOADED_KEY].id)
    stores = str(getattr(image, "stores", None) or image.properties.get("stores", ""))
    if "swift" not in stores.split(","):
        raise CheckFailed(f"image {image.name} is in store(s) {stores or 'none'}, not swift")
    secrets = deployment_secrets(ctx)
    auth = v3.Password(
        auth_url=ctx.conn.config.get_auth_args()["auth_url"],
        username="glance",
        password=secrets["service_glance_password"],
        project_name="service",
        user_domain_id="default",
        project_domain_id="default",
    )
    options = {"service_type": "object-store", "interface": ctx.conn.config.get_interface() or "public"}
    swift = Connection(session=ks_session.Session(auth=auth), os_options=options, retries=1)
    try:
        headers = swift.head_object(GLANCE_CONTAINER, image.id)
    except ClientException as error:
        raise CheckFailed(f"no object {GLANCE_CONTAINER}/{image.id} in glance's account: {error}") from error
    size = int(headers.get("content-length", -1))
    if size != image.size:
        raise CheckFailed(f"{GLANCE_CONTAINER}/{image.id} holds {size} bytes; the image has {image.size}")
    return f"image {image.name}: store swift, object {GLANCE_CONTAINER}/{image.id} ({size} bytes) in glance's account"


def delete(ctx: Context) -> str:
    from swiftclient.exceptions import ClientException  # noqa: PLC0415

    swift = swift_client(ctx)
    ours = [step for step in ctx.cleanups if step.service == SERVICE and step.description.startswith("container ")]
    names = [step.description.split(" ", 1)[1] for step in ours]
    for step in reversed(ours):
        step.undo()
        ctx.cleanups.remove(step)
    for name in names:
        try:
            swift.head_container(name)
        except ClientException as error:
            if error.http_status == 404:
                continue
            raise
        raise CheckFailed(f"container {name} still exists after its objects and it were deleted")
    return f"{len(names)} containers and their objects deleted: {', '.join(names)}"


FAMILY = Family(
    SERVICE,
    ("object-store",),
    (
        Check(INFO, SERVICE, info, needs=(TOKEN,)),
        Check(PUT_GET, SERVICE, put_get, needs=(INFO,)),
        Check(REPLICAS, SERVICE, replicas, needs=(PUT_GET,)),
        Check(LISTING, SERVICE, listing, needs=(PUT_GET,)),
        Check(S3, SERVICE, s3, needs=(PUT_GET,)),
        Check(TEMPURL, SERVICE, tempurl, needs=(PUT_GET,)),
        Check(SLO, SERVICE, slo, needs=(INFO,)),
        Check(DELETE, SERVICE, delete, needs=(PUT_GET,)),
        Check(GLANCE_STORE, SERVICE, glance_store, needs=(INFO, "image/upload")),
    ),
)
