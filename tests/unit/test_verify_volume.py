"""The judgements of tenrec verify's volume rows (the rows themselves run against a lab)."""

from __future__ import annotations

import hashlib

import pytest

from tenrec.verify.core import CheckFailed
from tenrec.verify.volume import (
    _wait_backup,
    _wait_volume,
    compare_image,
    console_markers,
    expected_digest,
    judge_services,
)

PAYLOAD = bytes(range(256)) * 4


def test_services_all_up_on_their_nodes():
    found = [
        ("cinder-scheduler", "ctl1", True),
        ("cinder-volume", "sto1@nfs", True),
        ("cinder-volume", "sto2@lvm", True),
    ]
    assert judge_services(found, ["ctl1"], ["sto1", "sto2"]) == (
        "cinder-scheduler: ctl1; cinder-volume: sto1@nfs, sto2@lvm (all up)"
    )


def test_services_missing_or_down_are_named():
    found = [("cinder-scheduler", "ctl1", True), ("cinder-volume", "sto1@nfs", False)]
    with pytest.raises(CheckFailed) as failed:
        judge_services(found, ["ctl1"], ["sto1", "sto2"])
    assert str(failed.value) == "no cinder-volume on sto2; cinder-volume on sto1@nfs is down"


def test_with_backup_every_storage_node_needs_cinder_backup():
    found = [
        ("cinder-scheduler", "ctl1", True),
        ("cinder-volume", "sto1@nfs", True),
        ("cinder-volume", "sto2@nfs", True),
        ("cinder-backup", "sto1", True),
    ]
    with pytest.raises(CheckFailed) as failed:
        judge_services(found, ["ctl1"], ["sto1", "sto2"], backup=True)
    assert str(failed.value) == "no cinder-backup on sto2"
    assert "cinder-backup: sto1, sto2" in judge_services(
        [*found, ("cinder-backup", "sto2", True)], ["ctl1"], ["sto1", "sto2"], backup=True
    )
    # Without Swift nobody asks for cinder-backup.
    assert "no cinder-backup" not in judge_services(found, ["ctl1"], ["sto1", "sto2"])


def test_expected_digest_is_the_payload_then_zeros():
    size = 3 * 1024 * 1024 + 5
    assert expected_digest(PAYLOAD, size) == hashlib.sha256(PAYLOAD + bytes(size - len(PAYLOAD))).hexdigest()
    assert expected_digest(PAYLOAD, len(PAYLOAD)) == hashlib.sha256(PAYLOAD).hexdigest()


def test_an_image_equal_to_the_payload_then_zeros_passes():
    chunks = [PAYLOAD[:100], PAYLOAD[100:] + bytes(24), bytes(1000)]
    assert compare_image(iter(chunks), PAYLOAD, len(PAYLOAD) + 1024) is None


@pytest.mark.parametrize(
    ("chunks", "size", "problem"),
    [
        ([PAYLOAD[:-1] + b"x", bytes(8)], len(PAYLOAD) + 8, "differ from the source image's"),
        ([PAYLOAD, bytes(4) + b"\x01"], len(PAYLOAD) + 5, "non-zero bytes after the first 1024"),
        ([PAYLOAD, bytes(4)], len(PAYLOAD) + 8, "1028 bytes, not 1032"),
    ],
)
def test_a_wrong_image_says_what_differs(chunks, size, problem):
    assert problem in (compare_image(iter(chunks), PAYLOAD, size) or "")


def test_console_markers_in_order_and_a_failed_write_fails():
    text = (
        "[ 3.1] virtio_blk virtio2: [vdb] 2097152 512-byte logical blocks\r\n"
        "tenrec-volume: /dev/vdb wrote tenrec-volume-marker:1234\r\n"
        "tenrec-volume: /dev/vdb holds tenrec-volume-marker:1234\r\n"
    )
    assert [(m.device, m.what, m.marker) for m in console_markers(text)] == [
        ("/dev/vdb", "wrote", "tenrec-volume-marker:1234"),
        ("/dev/vdb", "holds", "tenrec-volume-marker:1234"),
    ]
    with pytest.raises(CheckFailed, match="could not write to /dev/vdc"):
        console_markers(text + "tenrec-volume: /dev/vdc write failed\r\n")


class Volume:
    def __init__(self, status: str) -> None:
        self.id, self.name, self.status = "v1", "tenrec-verify-volume", status


class BlockStorage:
    """Cinder as openstacksdk shows it: get_volume answers the next status; wait_for_status
    returns at once when the object it is handed shows the status already, as the SDK's does."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses

    def get_volume(self, volume_id: str) -> Volume:
        return Volume(self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0])

    get_backup = get_volume  # a backup's status is read the same way

    def wait_for_status(self, volume: Volume, status: str, failures, interval, wait) -> Volume:
        while volume.status != status:
            volume = self.get_volume(volume.id)
        return volume


class Conn:
    def __init__(self, statuses: list[str]) -> None:
        self.block_storage = BlockStorage(statuses)


def test_waiting_for_a_volume_does_not_trust_the_object_kept_from_before():
    """volume/to-image kept the volume from when it was available; after the upload call it is
    uploading, and the wait must last until Cinder says available again (2026-12-07: the
    delete that followed found it uploading)."""
    conn = Conn(["uploading", "uploading", "available"])
    kept = Volume("available")
    assert _wait_volume(conn, kept).status == "available"
    assert conn.block_storage.statuses == ["available"]


def test_waiting_for_a_backup_does_not_trust_the_object_kept_from_before():
    """volume/restore keeps the backup from when it was available; the restore makes it restoring."""
    conn = Conn(["restoring", "available"])
    assert _wait_backup(conn, Volume("available")).status == "available"
    assert conn.block_storage.statuses == ["available"]
