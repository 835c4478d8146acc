"""Cinder on one node (controller and storage): the API on the management address, the
volume service on the lab's NFS share, and a volume's life with the plain CLI."""

import json
import time

from tests.node_checks import assert_listens_only_on, assert_running

ADDRESS = "10.201.12.11"
OS = "openstack --os-cloud tenrec"
SHARE = "/srv/lab-nfs/cinder"


def wait_status(host, what, ident, wanted, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        status = host.check_output(f"{OS} {what} show {ident} -f value -c status")
        if status == wanted:
            return
        assert not status.startswith("error"), f"{what} {ident} went to {status}"
        assert time.monotonic() < deadline, f"{what} {ident} is still {status} after {timeout}s"
        time.sleep(2)


def test_api_and_services(host):
    for unit in ("cinder-api", "cinder-scheduler", "cinder-volume"):
        assert_running(host, unit)
    assert_listens_only_on(host, ADDRESS, 8776)
    deadline = time.monotonic() + 60
    while True:
        services = json.loads(host.check_output(f"{OS} volume service list -f json"))
        states = {(s["Binary"], s["Host"]): s["State"] for s in services}
        if states == {("cinder-scheduler", "mol-cinder-aio"): "up", ("cinder-volume", "mol-cinder-aio@nfs"): "up"}:
            break
        assert time.monotonic() < deadline, states
        time.sleep(2)


def test_catalog_and_volume_type(host):
    for kind in ("volumev3", "block-storage"):
        endpoints = json.loads(host.check_output(f"{OS} endpoint list --service {kind} -f json"))
        assert sorted(e["Interface"] for e in endpoints) == ["admin", "internal", "public"], kind
        assert all(e["URL"].endswith(":8776/v3") for e in endpoints), kind
    types = json.loads(host.check_output(f"{OS} volume type list --long -f json"))
    nfs = next(t for t in types if t["Name"] == "nfs")
    assert nfs["Properties"] == {"volume_backend_name": "nfs"}


def test_config_readable_by_cinder_only(host):
    for name in ("cinder.conf", "api-paste.ini", "nfs_shares", "rootwrap.conf"):
        conf = host.file(f"/etc/cinder/{name}")
        assert (conf.user, conf.group, conf.mode) == ("root", "cinder", 0o640), name
    assert host.file("/etc/cinder/nfs_shares").content_string.splitlines() == [f"{ADDRESS}:{SHARE}"]


def test_a_volume_lives_on_the_share(host):
    volume = host.check_output(f"{OS} volume create --size 1 mol-volume -f value -c id")
    try:
        wait_status(host, "volume", volume, "available")
        assert host.file(f"{SHARE}/volume-{volume}").size == 1024**3
        host.check_output(f"{OS} volume set --size 2 {volume}")
        wait_status(host, "volume", volume, "available")
        assert host.file(f"{SHARE}/volume-{volume}").size == 2 * 1024**3
        snapshot = host.check_output(f"{OS} volume snapshot create --volume {volume} mol-snapshot -f value -c id")
        wait_status(host, "volume snapshot", snapshot, "available")
        host.check_output(f"{OS} volume snapshot delete {snapshot}")
    finally:
        host.run(f"{OS} volume delete {volume}")
    deadline = time.monotonic() + 60
    while host.file(f"{SHARE}/volume-{volume}").exists:
        assert time.monotonic() < deadline, "the volume's file outlived the volume"
        time.sleep(2)


def test_share_mount_outlives_a_cinder_volume_restart(host):
    host.check_output("systemctl restart cinder-volume")
    mounts = host.check_output("findmnt -rn -t fuse.sshfs -o SOURCE,TARGET")
    assert f"{ADDRESS}:{SHARE} /var/lib/cinder/mnt/" in mounts
    assert host.run("ls /var/lib/cinder/mnt/*/").rc == 0
