"""swift_devices: its fstab lines (one per mount point, compared by fields) and its refusals."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))

from ansible_collections.tenrec.cloud.plugins.modules import swift_devices


class FakeModule:
    check_mode = False

    def __init__(self, blkid: dict[tuple[str, str], str] | None = None) -> None:
        self.params = {"loop_dir": "/var/lib/swift-disks", "loop_size_gb": 1, "root": "/srv/node", "owner": "swift"}
        self.blkid = blkid or {}
        self.ran: list[list[str]] = []

    def run_command(self, argv):
        self.ran.append(argv)
        if argv[0] == "blkid":
            value = self.blkid.get((argv[-1], argv[-2]), "")
            return (0 if value else 2), value, ""
        return 0, "", ""

    def fail_json(self, **result):
        raise RuntimeError(result["msg"])


LOOP = ["/var/lib/swift-disks/file1.xfs", "/srv/node/file1", "xfs", "loop,noatime", "0", "0"]
DISK = ["LABEL=sdb", "/srv/node/sdb", "xfs", "noatime", "0", "0"]


def test_fstab_keeps_other_lines_replaces_a_changed_one_and_appends_a_missing_one(tmp_path, monkeypatch):
    fstab = tmp_path / "fstab"
    fstab.write_text("# static\nUUID=1 / ext4 defaults 0 1\n/old.xfs  /srv/node/file1  xfs  loop  0  0\n")
    monkeypatch.setattr(swift_devices, "FSTAB", str(fstab))
    devices = swift_devices.Devices(FakeModule())
    devices.fstab({"/srv/node/file1": LOOP, "/srv/node/sdb": DISK})
    assert fstab.read_text().splitlines() == ["# static", "UUID=1 / ext4 defaults 0 1", " ".join(LOOP), " ".join(DISK)]
    assert len(devices.changed) == 2

    # The same fields with other spacing (ansible.posix.mount's lines) change nothing.
    fstab.write_text("UUID=1 / ext4 defaults 0 1\n" + "\t".join(LOOP) + "\n" + "  ".join(DISK) + "\n")
    again = swift_devices.Devices(FakeModule())
    again.fstab({"/srv/node/file1": LOOP, "/srv/node/sdb": DISK})
    assert again.changed == []
    assert "\t" in fstab.read_text(), "an unchanged fstab is not rewritten"


def test_formats_only_an_empty_device(tmp_path):
    disk = tmp_path / "disk"
    disk.write_bytes(b"")
    empty = FakeModule()
    swift_devices.Devices(empty).format(str(disk), "sdb")
    assert ["mkfs.xfs", "-q", "-L", "sdb", "-i", "size=1024", str(disk)] in empty.ran

    ours = FakeModule({(str(disk), "TYPE"): "xfs", (str(disk), "LABEL"): "sdb"})
    swift_devices.Devices(ours).format(str(disk), "sdb")
    assert not [argv for argv in ours.ran if argv[0] == "mkfs.xfs"]

    other = FakeModule({(str(disk), "TYPE"): "ext4"})
    with pytest.raises(RuntimeError, match="holds a ext4 filesystem; tenrec formats only empty devices"):
        swift_devices.Devices(other).format(str(disk), "sdb")

    relabel = FakeModule({(str(disk), "TYPE"): "xfs", (str(disk), "LABEL"): "d1"})
    with pytest.raises(RuntimeError, match="labelled d1, not sdb"):
        swift_devices.Devices(relabel).format(str(disk), "sdb")
