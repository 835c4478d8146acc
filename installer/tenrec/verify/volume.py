"""Cinder: its services on the right nodes, a volume's whole life, and a guest that uses one.

The lifecycle rows work on volumes alone: create 1 GiB, extend to 2 GiB, snapshot, a volume
from the snapshot, a volume from an image and that volume uploaded to an image again (its
bytes compared with the first image's); with Swift on, a backup of that volume (its objects
counted in the owner's Swift account) restored to a new volume whose whole content is compared
on the storage node's disk; then everything deleted. volume/attach needs the
guest compute/boot started (it sits among the compute rows, judged as cinder's): a new
volume is attached to it, the guest writes a marker to the raw disk (guest_image.py
volume_script), the marker is read on the storage node's disk, and the volume is detached
and attached to a second server on another compute node, whose guest reads the same marker.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tenrec.verify.core import Check, CheckFailed, Context, Family, SkipCheck, one_line
from tenrec.verify.identity import TOKEN
from tenrec.verify.nodes import host_is, node_names, node_output
from tenrec.verify.patience import scaled

SERVICE = "cinder"
SERVICES = "volume/services"
CREATE = "volume/create"
EXTEND = "volume/extend"
SNAPSHOT = "volume/snapshot"
FROM_SNAPSHOT = "volume/from-snapshot"
FROM_IMAGE = "volume/from-image"
TO_IMAGE = "volume/to-image"
BACKUP = "volume/backup"
RESTORE = "volume/restore"
DELETE = "volume/delete"
ATTACH = "volume/attach"

CONTROLLER_BINARIES = ("cinder-scheduler",)
STORAGE_BINARY = "cinder-volume"
# With Swift on, on every storage node (roles/cinder: cinder_backup_units).
BACKUP_BINARY = "cinder-backup"
GIB = 1024**3
IMAGE_SIZE = 1024 * 1024
# Seconds: a volume or snapshot to become available (from an image: a download and a write);
# a backup or restore of 1 GiB (read, hashed and compressed in 50 MiB objects); its deletion;
# an attach or detach; the guest's console line after an attach.
AVAILABLE_TIMEOUT = 180
BACKUP_TIMEOUT = 300
DELETE_TIMEOUT = 120
ATTACH_TIMEOUT = 120
CONSOLE_TIMEOUT = 90
INTERVAL = 2

VOLUME_KEY = "volume.volume"
SNAPSHOT_KEY = "volume.snapshot"
FROM_IMAGE_KEY = "volume.from-image"
BACKUP_KEY = "volume.backup"
RESTORED_KEY = "volume.restored"
IMAGE_KEY = "volume.image-payload"
# compute/boot leaves these for the second server of volume/attach.
MARKER_LINE = re.compile(r"tenrec-volume: (?P<device>/\S+) (?P<what>wrote|holds) (?P<marker>tenrec-volume-marker:\S+)")
WRITE_FAILED = re.compile(r"tenrec-volume: (?P<device>/\S+) write failed")


# --- services -------------------------------------------------------------------------------


def judge_services(
    found: Sequence[tuple[str, str, bool]], controllers: Sequence[str], storage: Sequence[str], backup: bool = False
) -> str:
    """(binary, host, up) of every service: which runs where when all are up, else CheckFailed.

    cinder-volume's host is NODE@BACKEND; with backup, every storage node runs cinder-backup too.
    """
    wanted = [(binary, node) for binary in CONTROLLER_BINARIES for node in controllers]
    storage_binaries = (STORAGE_BINARY, BACKUP_BINARY) if backup else (STORAGE_BINARY,)
    wanted += [(binary, node) for binary in storage_binaries for node in storage]
    problems = [
        f"no {binary} on {node}"
        for binary, node in wanted
        if not any(b == binary and host_is(host.split("@", 1)[0], node) for b, host, _ in found)
    ]
    problems += [f"{binary} on {host} is down" for binary, host, up in found if not up]
    if problems:
        raise CheckFailed("; ".join(problems))
    hosts: dict[str, list[str]] = {}
    for binary, host, _ in found:
        hosts.setdefault(binary, []).append(host)
    return "; ".join(f"{binary}: {', '.join(sorted(names))}" for binary, names in hosts.items()) + " (all up)"


def backup_deployed(ctx: Context, binaries: Sequence[str] = ()) -> bool:
    """Whether the deploy runs cinder-backup: with Swift on (or, without the config, when one runs)."""
    if ctx.config is not None:
        return "swift" in ctx.config.enabled_services()
    return BACKUP_BINARY in binaries


def services(ctx: Context) -> str:
    found = [(str(s.binary), str(s.host), s.state == "up") for s in ctx.conn.block_storage.services()]
    backup = backup_deployed(ctx, [binary for binary, _, _ in found])
    return judge_services(found, node_names(ctx, "controller"), node_names(ctx, "storage"), backup)


# --- lifecycle ------------------------------------------------------------------------------


def _wait_volume(conn: Any, volume: Any, status: str = "available", wait: float = AVAILABLE_TIMEOUT) -> Any:
    from openstack import exceptions  # noqa: PLC0415

    wait = scaled(wait)
    # Fetched anew: openstacksdk's wait returns at once when the object it is handed already
    # shows the status, and a volume kept from before an upload or an attach does.
    volume = conn.block_storage.get_volume(volume.id)
    try:
        return conn.block_storage.wait_for_status(
            volume,
            status=status,
            failures=["error", "error_extending", "error_restoring"],
            interval=INTERVAL,
            wait=wait,
        )
    except exceptions.ResourceFailure as error:
        raise CheckFailed(f"volume {volume.name} went to {conn.block_storage.get_volume(volume.id).status}") from error
    except exceptions.ResourceTimeout as error:
        now = conn.block_storage.get_volume(volume.id)
        raise CheckFailed(f"volume {volume.name} not {status} within {wait:.0f} s (status {now.status})") from error


def _new_volume(ctx: Context, kind: str, size: int = 1, **source: str) -> Any:
    conn = ctx.conn
    name = ctx.resource_name(kind)
    volume = conn.block_storage.create_volume(name=name, size=size, **source)
    volume_id = volume.id

    def remove() -> None:  # a no-op once volume/delete has deleted it
        conn.block_storage.delete_volume(volume_id, ignore_missing=True, force=False)
        conn.block_storage.wait_for_delete(volume, interval=INTERVAL, wait=scaled(DELETE_TIMEOUT))

    ctx.on_cleanup(f"volume {name} ({volume_id})", remove)
    return _wait_volume(conn, volume)


def _backend(volume: Any) -> str:
    """HOST@BACKEND#POOL as the admin sees it (os-vol-host-attr:host)."""
    return str(getattr(volume, "host", None) or "?")


def create(ctx: Context) -> str:
    started = time.monotonic()
    volume = _new_volume(ctx, "volume")
    ctx.scratch[VOLUME_KEY] = volume
    return (
        f"{volume.name}: {volume.size} GiB, type {volume.volume_type}, on {_backend(volume)}, "
        f"available after {time.monotonic() - started:.1f}s"
    )


def extend(ctx: Context) -> str:
    conn = ctx.conn
    volume = ctx.scratch[VOLUME_KEY]
    started = time.monotonic()
    conn.block_storage.extend_volume(volume, 2)
    deadline = time.monotonic() + scaled(AVAILABLE_TIMEOUT)
    while True:
        now = conn.block_storage.get_volume(volume.id)
        if now.status == "available" and now.size == 2:
            break
        if now.status.startswith("error"):
            raise CheckFailed(f"{volume.name} went to {now.status} extending to 2 GiB")
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"{volume.name} not 2 GiB within {scaled(AVAILABLE_TIMEOUT):.0f} s "
                f"(status {now.status}, size {now.size})"
            )
        time.sleep(INTERVAL)
    ctx.scratch[VOLUME_KEY] = now
    return f"{volume.name}: 1 GiB -> 2 GiB after {time.monotonic() - started:.1f}s"


def snapshot(ctx: Context) -> str:
    from openstack import exceptions  # noqa: PLC0415

    conn = ctx.conn
    volume = ctx.scratch[VOLUME_KEY]
    name = ctx.resource_name("snapshot")
    started = time.monotonic()
    snap = conn.block_storage.create_snapshot(volume_id=volume.id, name=name)
    snap_id = snap.id

    def remove() -> None:
        conn.block_storage.delete_snapshot(snap_id, ignore_missing=True)
        conn.block_storage.wait_for_delete(snap, interval=INTERVAL, wait=scaled(DELETE_TIMEOUT))

    ctx.on_cleanup(f"snapshot {name} ({snap_id})", remove)
    try:
        snap = conn.block_storage.wait_for_status(
            snap, status="available", failures=["error"], interval=INTERVAL, wait=scaled(AVAILABLE_TIMEOUT)
        )
    except (exceptions.ResourceFailure, exceptions.ResourceTimeout) as error:
        raise CheckFailed(
            f"snapshot {name} of {volume.name}: {conn.block_storage.get_snapshot(snap_id).status}"
        ) from error
    ctx.scratch[SNAPSHOT_KEY] = snap
    return f"{name} of {volume.name} ({snap.size} GiB) available after {time.monotonic() - started:.1f}s"


def from_snapshot(ctx: Context) -> str:
    snap = ctx.scratch[SNAPSHOT_KEY]
    started = time.monotonic()
    volume = _new_volume(ctx, "from-snapshot", size=snap.size, snapshot_id=snap.id)
    ctx.scratch["volume.from-snapshot"] = volume
    return f"{volume.name}: {volume.size} GiB from {snap.name}, available after {time.monotonic() - started:.1f}s"


def _upload_image(ctx: Context, payload: bytes) -> Any:
    conn = ctx.conn
    name = ctx.resource_name("volume-source")
    image = conn.image.create_image(
        name, disk_format="raw", container_format="bare", allow_duplicates=True, tags=["tenrec-verify"]
    )
    image_id = image.id
    ctx.on_cleanup(f"image {name} ({image_id})", lambda: conn.image.delete_image(image_id, ignore_missing=True))
    response = image.upload(conn.image, data=payload, size=len(payload))
    if response.status_code >= 400:
        raise CheckFailed(f"uploading {name}: HTTP {response.status_code} {one_line(response.text, 200)}")
    return conn.image.wait_for_status(image, "active", failures=["killed", "deleted"], interval=1, wait=60)


def from_image(ctx: Context) -> str:
    payload = os.urandom(IMAGE_SIZE)
    image = _upload_image(ctx, payload)
    started = time.monotonic()
    volume = _new_volume(ctx, "from-image", size=1, image_id=image.id)
    ctx.scratch[FROM_IMAGE_KEY] = volume
    ctx.scratch[IMAGE_KEY] = payload
    return (
        f"{volume.name}: 1 GiB from image {image.name} (1 MiB raw), available after {time.monotonic() - started:.1f}s"
    )


def compare_image(chunks: Any, payload: bytes, size: int) -> str | None:
    """Whether a downloaded raw image is payload followed by zeros up to size; None when it is."""
    seen = 0
    head = b""
    zero_from = len(payload)
    for chunk in chunks:
        if seen < zero_from:
            head += chunk[: zero_from - seen]
        tail = chunk[max(0, zero_from - seen) :]
        if tail.count(0) != len(tail):
            return f"non-zero bytes after the first {zero_from} (near offset {seen})"
        seen += len(chunk)
    if head != payload:
        digest = hashlib.sha256(head).hexdigest()[:16]
        return f"the first {len(payload)} bytes differ from the source image's (sha256 {digest}…)"
    if seen != size:
        return f"{seen} bytes, not {size}"
    return None


def to_image(ctx: Context) -> str:
    conn = ctx.conn
    volume = ctx.scratch[FROM_IMAGE_KEY]
    payload: bytes = ctx.scratch[IMAGE_KEY]
    name = ctx.resource_name("from-volume")
    started = time.monotonic()
    result = conn.block_storage.upload_volume_to_image(
        volume, name, disk_format="raw", container_format="bare", force=False
    )
    image_id = result["image_id"]
    ctx.on_cleanup(f"image {name} ({image_id})", lambda: conn.image.delete_image(image_id, ignore_missing=True))
    image = conn.image.get_image(image_id)
    image = conn.image.wait_for_status(
        image, "active", failures=["killed", "deleted"], interval=INTERVAL, wait=scaled(AVAILABLE_TIMEOUT)
    )
    _wait_volume(conn, volume)
    uploaded = time.monotonic() - started
    response = conn.image.download_image(image, stream=True)
    if response.status_code != 200:
        raise CheckFailed(f"downloading {name}: HTTP {response.status_code}")
    problem = compare_image(response.iter_content(chunk_size=1024 * 1024), payload, GIB)
    if problem:
        raise CheckFailed(f"{name} (uploaded from {volume.name}): {problem}")
    return (
        f"{volume.name} uploaded as image {name} after {uploaded:.1f}s; its 1 GiB downloaded: "
        f"the source image's 1 MiB (sha256 {hashlib.sha256(payload).hexdigest()[:16]}…), then zeros"
    )


def _wait_backup(conn: Any, backup: Any, status: str = "available") -> Any:
    from openstack import exceptions  # noqa: PLC0415

    backup = conn.block_storage.get_backup(backup.id)  # fetched anew, as in _wait_volume
    try:
        return conn.block_storage.wait_for_status(
            backup, status=status, failures=["error"], interval=INTERVAL, wait=scaled(BACKUP_TIMEOUT)
        )
    except exceptions.ResourceFailure as error:
        now = conn.block_storage.get_backup(backup.id)
        reason = now.fail_reason or "no reason given"
        raise CheckFailed(f"backup {backup.name} went to {now.status}: {reason}") from error
    except exceptions.ResourceTimeout as error:
        now = conn.block_storage.get_backup(backup.id)
        raise CheckFailed(
            f"backup {backup.name} not {status} within {scaled(BACKUP_TIMEOUT):.0f} s (status {now.status})"
        ) from error


def backup_objects(ctx: Context, container: str, volume_id: str) -> list[dict[str, Any]]:
    """The objects the Swift driver wrote for backups of the volume (volume_ID/TIMESTAMP/...)."""
    from swiftclient.exceptions import ClientException  # noqa: PLC0415

    from tenrec.verify.objects import swift_client  # noqa: PLC0415

    try:
        _headers, found = swift_client(ctx).get_container(container, prefix=f"volume_{volume_id}/", full_listing=True)
    except ClientException as error:
        if error.http_status == 404:
            return []
        raise
    return list(found)


def backup(ctx: Context) -> str:
    conn = ctx.conn
    # Another cloud (--os-cloud, no config): whether it runs a cinder-backup at all.
    binaries = [] if ctx.config is not None else [str(s.binary) for s in conn.block_storage.services()]
    if not backup_deployed(ctx, binaries):
        raise SkipCheck("no cinder-backup: tenrec runs it with Swift, its store")
    volume = ctx.scratch[FROM_IMAGE_KEY]
    name = ctx.resource_name("backup")
    started = time.monotonic()
    made = conn.block_storage.create_backup(volume_id=volume.id, name=name)
    backup_id = made.id

    def remove() -> None:  # a no-op once volume/delete has deleted it
        conn.block_storage.delete_backup(backup_id, ignore_missing=True)
        conn.block_storage.wait_for_delete(made, interval=INTERVAL, wait=scaled(DELETE_TIMEOUT))

    ctx.on_cleanup(f"backup {name} ({backup_id})", remove)
    done = _wait_backup(conn, made)
    took = time.monotonic() - started
    ctx.scratch[BACKUP_KEY] = done
    objects = backup_objects(ctx, done.container, volume.id)
    if not objects:
        raise CheckFailed(f"{name} is available, but container {done.container} holds no object of {volume.name}")
    if done.object_count and len(objects) < done.object_count:
        raise CheckFailed(f"{name} says {done.object_count} objects; {done.container} holds {len(objects)}")
    stored = sum(int(o.get("bytes", 0)) for o in objects)
    return (
        f"{name} of {volume.name} ({done.size} GiB) available after {took:.1f}s: "
        f"{len(objects)} objects, {stored / 1024 / 1024:.1f} MiB compressed, in Swift container {done.container}"
    )


def expected_digest(payload: bytes, size: int) -> str:
    """sha256 of payload followed by zeros up to size: a volume made from the payload's image."""
    digest = hashlib.sha256(payload)
    zeros = bytes(1024 * 1024)
    left = size - len(payload)
    while left > 0:
        digest.update(zeros[: min(left, len(zeros))])
        left -= len(zeros)
    return digest.hexdigest()


def restore(ctx: Context) -> str:
    """The backup restored into a new empty volume of the source's size, compared whole.

    Into a volume made first, not with a name (which makes the volume in the restore): Cinder
    29 restores into a volume it made itself sparsely, seeking over zeros, after opening a
    file-backed volume with O_TRUNC, so on the nfs backend that volume's file ends at its last
    non-zero byte (README, "Cinder", backups).
    """
    conn = ctx.conn
    made = ctx.scratch[BACKUP_KEY]
    source = ctx.scratch[FROM_IMAGE_KEY]
    payload: bytes = ctx.scratch[IMAGE_KEY]
    volume = _new_volume(ctx, "restored", size=source.size)
    ctx.scratch[RESTORED_KEY] = volume
    started = time.monotonic()
    # The API marks the backup restoring and the volume restoring-backup before it answers;
    # both waits fetch their resource anew, so the available copies kept here do not end them.
    conn.block_storage.restore_backup(made.id, volume=volume.id)
    _wait_backup(conn, made)
    volume = _wait_volume(conn, volume, wait=BACKUP_TIMEOUT)
    took = time.monotonic() - started
    digest, place = on_disk_digest(ctx, volume)
    if digest is None:
        compared = f"its bytes not read on a node's disk ({place})"
    else:
        wanted = expected_digest(payload, source.size * GIB)
        if digest != wanted:
            raise CheckFailed(
                f"{volume.name}, restored from {made.name}: {place} has sha256 {digest[:16]}…, "
                f"the source {source.name} {wanted[:16]}… (the image's 1 MiB, then zeros)"
            )
        compared = f"{place} holds the source's {source.size} GiB byte for byte (sha256 {digest[:16]}…)"
    return f"{made.name} restored into {volume.name} after {took:.1f}s; {compared}"


def delete(ctx: Context) -> str:
    """The backup, every volume and the snapshot of these rows deleted, the snapshot first.

    The backup's objects must be gone from Swift with it."""
    conn = ctx.conn
    started = time.monotonic()
    gone: list[str] = []
    if BACKUP_KEY in ctx.scratch:
        made = ctx.scratch[BACKUP_KEY]
        conn.block_storage.delete_backup(made, ignore_missing=True)
        _wait_gone(conn.block_storage.get_backup, made)
        left = backup_objects(ctx, made.container, ctx.scratch[FROM_IMAGE_KEY].id)
        if left:
            raise CheckFailed(f"{made.name} is deleted, but {len(left)} of its objects are still in {made.container}")
        gone.append(f"{made.name} (and its objects)")
    volumes = [ctx.scratch[key] for key in ("volume.from-snapshot", FROM_IMAGE_KEY, RESTORED_KEY) if key in ctx.scratch]
    for volume in volumes:
        conn.block_storage.delete_volume(volume, ignore_missing=True)
    if SNAPSHOT_KEY in ctx.scratch:
        snap = ctx.scratch[SNAPSHOT_KEY]
        # The snapshot's clone is gone first: some backends keep a snapshot until its clones are.
        for volume in volumes:
            _wait_gone(conn.block_storage.get_volume, volume)
        conn.block_storage.delete_snapshot(snap, ignore_missing=True)
        _wait_gone(conn.block_storage.get_snapshot, snap)
        gone.append(snap.name)
    if VOLUME_KEY in ctx.scratch:
        volume = ctx.scratch[VOLUME_KEY]
        conn.block_storage.delete_volume(volume, ignore_missing=True)
        volumes.append(volume)
    for volume in volumes:
        _wait_gone(conn.block_storage.get_volume, volume)
        gone.append(volume.name)
    return f"{len(gone)} deleted after {time.monotonic() - started:.1f}s: {', '.join(gone)}"


def _wait_gone(get: Callable[[str], Any], resource: Any) -> None:
    from openstack import exceptions  # noqa: PLC0415

    deadline = time.monotonic() + scaled(DELETE_TIMEOUT)
    while True:
        try:
            now = get(resource.id)
        except exceptions.NotFoundException:
            return
        if str(now.status).startswith("error"):
            raise CheckFailed(f"{resource.name} went to {now.status} while being deleted")
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"{resource.name} still there {scaled(DELETE_TIMEOUT):.0f} s after its deletion (status {now.status})"
            )
        time.sleep(INTERVAL)


# --- attach ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    device: str
    what: str  # wrote or holds
    marker: str


def console_markers(text: str) -> list[Seen]:
    """The guest's volume lines (guest_image.py volume_script), in order; a failed write raises."""
    found = []
    for line in text.splitlines():
        failed = WRITE_FAILED.search(line)
        if failed:
            raise CheckFailed(f"the guest could not write to {failed['device']}")
        match = MARKER_LINE.search(line)
        if match:
            found.append(Seen(match["device"], match["what"], match["marker"]))
    return found


def _wait_marker(conn: Any, server: Any, what: str, after: int, name: str) -> Seen:
    """The first volume line past the first `after` ones with `what` (wrote/holds)."""
    deadline = time.monotonic() + scaled(CONSOLE_TIMEOUT)
    while True:
        lines = console_markers(conn.compute.get_server_console_output(server).get("output") or "")
        fresh = lines[after:]
        for seen in fresh:
            if seen.what == what:
                return seen
        if fresh:
            raise CheckFailed(f"{name}: the guest says {fresh[0].device} {fresh[0].what} {fresh[0].marker}, not {what}")
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"{name}: no `{what}` line on the guest's console within {scaled(CONSOLE_TIMEOUT):.0f} s of the attach"
            )
        time.sleep(INTERVAL)


def _attach(ctx: Context, server: Any, volume: Any) -> None:
    conn = ctx.conn
    conn.compute.create_volume_attachment(server, volume_id=volume.id)

    def detach() -> None:  # a no-op once the row has detached it
        if conn.block_storage.get_volume(volume.id).status == "in-use":
            conn.compute.delete_volume_attachment(server, volume.id, ignore_missing=True)
            _wait_volume(conn, volume, "available", ATTACH_TIMEOUT)

    ctx.on_cleanup(f"attachment of {volume.name} to {server.name}", detach)
    _wait_volume(conn, volume, "in-use", ATTACH_TIMEOUT)


def _detach(conn: Any, server: Any, volume: Any) -> None:
    conn.compute.delete_volume_attachment(server, volume.id)
    _wait_volume(conn, volume, "available", ATTACH_TIMEOUT)


def _marker_count(conn: Any, server: Any) -> int:
    return len(console_markers(conn.compute.get_server_console_output(server).get("output") or ""))


def on_disk(ctx: Context, volume: Any, length: int) -> tuple[str | None, str]:
    """The first bytes of the volume where its backend keeps them, on a node's disk, and
    where that is: the file on an NFS share of the config exported by one of its nodes, or
    the logical volume on the storage node. (None, why) when no node holds it."""
    data, place = _read_on_disk(ctx, volume, lambda file: f"dd if={file} bs={length} count=1 status=none")
    return (None if data is None else data.split("\0", 1)[0]), place


def on_disk_digest(ctx: Context, volume: Any) -> tuple[str | None, str]:
    """sha256 of the volume's whole content on a node's disk (see on_disk), and where it is."""
    data, place = _read_on_disk(ctx, volume, lambda file: f"sha256sum {file}")
    return (None if data is None else data.split(" ", 1)[0]), place


def _read_on_disk(ctx: Context, volume: Any, command_for: Callable[[str], str]) -> tuple[str | None, str]:
    if ctx.config is None:
        return None, "no config to find the storage node in"
    node_part, _, backend = _backend(volume).partition("@")
    backend = backend.split("#", 1)[0]
    places: list[tuple[str, str]] = []
    if backend == "nfs":
        for share in ctx.config.volumes.nfs_shares:
            host, _, path = share.partition(":")
            places += [
                (n.name, f"{path}/volume-{volume.id}")
                for n in ctx.config.nodes
                if host in (n.address, n.name, n.storage_address)
            ]
        if not places:
            return None, "no NFS share of the config is exported by one of its nodes"
    else:
        where = next((n for n in node_names(ctx, "storage") if host_is(node_part, n)), node_part)
        places.append((where, f"/dev/{ctx.config.volumes.volume_group}/volume-{volume.id}"))
    for node, file in places:
        command = f"test -e {shlex.quote(file)} && {command_for(shlex.quote(file))}"
        try:
            data = node_output(ctx, node, command)
        except Exception:  # not on this share; the next one may hold it
            continue
        return data, f"{node}:{file}"
    return None, f"none of {', '.join(f'{n}:{f}' for n, f in places)} could be read"


def _other_compute(ctx: Context, host: str) -> str | None:
    others = [n for n in node_names(ctx, "compute") if not host_is(host, n)]
    return others[0] if others else None


def attach(ctx: Context) -> str:
    from tenrec.verify import compute  # noqa: PLC0415

    conn = ctx.conn
    booted = ctx.scratch[compute.SERVER_KEY]
    first = conn.compute.get_server(booted.server.id)
    first_host = first.compute_host or first.hypervisor_hostname or "?"
    volume = _new_volume(ctx, "attach")
    started = time.monotonic()
    before = _marker_count(conn, first)
    _attach(ctx, first, volume)
    wrote = _wait_marker(conn, first, "wrote", before, booted.name)
    written_at = time.monotonic() - started
    stored, place = on_disk(ctx, volume, 64)
    if stored is not None and stored != wrote.marker:
        raise CheckFailed(f"the guest wrote {wrote.marker} to {wrote.device}; {place} holds {stored!r}")
    disk = f"found in {place}" if stored is not None else f"not read on a node's disk ({place})"
    _detach(conn, first, volume)

    other = _other_compute(ctx, first_host)
    if other is None:
        second, second_name, where = first, booted.name, f"{first_host} again (one compute node)"
    else:
        second = compute.start_on(ctx, "server-2", other)
        second_name = second.name
        where = other
    before = _marker_count(conn, second)
    _attach(ctx, second, volume)
    held = _wait_marker(conn, second, "holds", before, second_name)
    if held.marker != wrote.marker:
        raise CheckFailed(f"{second_name} reads {held.marker} on {held.device}; {booted.name} wrote {wrote.marker}")
    _detach(conn, second, volume)
    return (
        f"{volume.name} on {_backend(volume)}: {booted.name} on {first_host} wrote a marker to {wrote.device} "
        f"({written_at:.1f}s after the attach), {disk}; detached, attached to "
        f"{second_name} on {where}, which read it back; {time.monotonic() - started:.1f}s in all"
    )


FAMILY = Family(
    SERVICE,
    ("volumev3", "block-storage"),
    (
        Check(SERVICES, SERVICE, services, needs=(TOKEN,)),
        Check(CREATE, SERVICE, create, needs=(SERVICES,)),
        Check(EXTEND, SERVICE, extend, needs=(CREATE,)),
        Check(SNAPSHOT, SERVICE, snapshot, needs=(EXTEND,)),
        Check(FROM_SNAPSHOT, SERVICE, from_snapshot, needs=(SNAPSHOT,)),
        Check(FROM_IMAGE, SERVICE, from_image, needs=(SERVICES, "image/upload")),
        Check(TO_IMAGE, SERVICE, to_image, needs=(FROM_IMAGE,)),
        Check(BACKUP, SERVICE, backup, needs=(FROM_IMAGE,)),
        Check(RESTORE, SERVICE, restore, needs=(BACKUP,)),
        Check(DELETE, SERVICE, delete, needs=(CREATE,)),
    ),
)
# Among the compute rows (it needs their guest), before compute/delete.
ATTACH_CHECK = Check(ATTACH, SERVICE, attach, needs=("compute/boot", SERVICES))
