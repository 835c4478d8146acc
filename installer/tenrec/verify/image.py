"""Glance: an image goes in, becomes active, and comes back byte for byte."""

from __future__ import annotations

import hashlib
import os
import time

from tenrec.verify.core import Check, CheckFailed, Context, Family, one_line
from tenrec.verify.identity import TOKEN
from tenrec.verify.patience import scaled

SERVICE = "glance"
UPLOADED_KEY = "image.uploaded"
SIZE = 1024 * 1024
# Seconds a 1 MiB image may take to become active.
ACTIVE_TIMEOUT = 60


def upload(ctx: Context) -> str:
    conn = ctx.conn
    payload = os.urandom(SIZE)
    expected = hashlib.sha256(payload).hexdigest()
    name = ctx.resource_name("image")
    started = time.monotonic()
    image = conn.image.create_image(
        name, disk_format="raw", container_format="bare", allow_duplicates=True, tags=["tenrec-verify"]
    )
    image_id = image.id
    ctx.on_cleanup(f"image {name} ({image_id})", lambda: conn.image.delete_image(image_id, ignore_missing=True))
    response = image.upload(conn.image, data=payload, size=SIZE)
    if response.status_code >= 400:
        raise CheckFailed(f"uploading {name}: HTTP {response.status_code} {one_line(response.text, 200)}")
    image = conn.image.wait_for_status(
        image, "active", failures=["killed", "deleted"], interval=1, wait=scaled(ACTIVE_TIMEOUT)
    )
    active = time.monotonic() - started
    response = conn.image.download_image(image)
    if response.status_code != 200:
        raise CheckFailed(f"downloading {name}: HTTP {response.status_code} {one_line(response.text, 200)}")
    data = response.content
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise CheckFailed(
            f"{name}: downloaded {len(data)} bytes, sha256 {actual[:16]}…; "
            f"uploaded {SIZE} bytes, sha256 {expected[:16]}…"
        )
    ctx.scratch[UPLOADED_KEY] = image
    return f"{name}: 1 MiB raw, active after {active:.1f}s, downloaded sha256 {expected[:16]}… matches"


FAMILY = Family(SERVICE, ("image",), (Check("image/upload", SERVICE, upload, needs=(TOKEN,)),))
