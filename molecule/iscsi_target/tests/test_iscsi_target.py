"""iscsi_target: tgt on the storage address only, and a volume target added the way
Cinder adds one (a file in its volumes_dir, then a reload) that the compute node
discovers and reads over iSCSI with libiscsi, with CHAP, before it is removed again."""

import re

import pytest
import testinfra

from tests.node_checks import assert_listens_only_on, assert_running

testinfra_hosts = ["mol-iscsi-sto"]

STORAGE = "10.201.6.11"
PORT = 3260
IQN = "iqn.2010-10.org.openstack:volume-tenrec-molecule"
BACKING = "/var/lib/tenrec-molecule/lun.img"
TARGET_FILE = "/var/lib/cinder/volumes/volume-tenrec-molecule"
CHAP_USER, CHAP_PASSWORD = "tenrecmol", "mol4Chap7Secret9"
LUN_URL = f"iscsi://{CHAP_USER}%{CHAP_PASSWORD}@{STORAGE}/{IQN}/1"
# What Cinder's tgt helper (TgtAdm) writes for a volume.
TARGET_CONFIG = f"""<target {IQN}>
    backing-store {BACKING}
    driver iscsi
    incominguser {CHAP_USER} {CHAP_PASSWORD}
    write-cache on
</target>
"""


def remove_target(host):
    """As Cinder removes a volume's target: drop its file, then delete it from tgtd."""
    host.run(f"rm -f {TARGET_FILE}")
    host.run(f"tgt-admin --force --delete {IQN}")
    host.run(f"rm -rf {BACKING.rsplit('/', 1)[0]}")


@pytest.fixture(scope="module")
def client(pytestconfig):
    node = testinfra.get_host("ansible://mol-iscsi-cmp", ansible_inventory=pytestconfig.option.ansible_inventory)
    installed = node.ansible("apt", "name=libiscsi-bin state=present install_recommends=false", check=False)
    assert not installed.get("failed"), installed
    return node


@pytest.fixture(scope="module")
def lun(host):
    host.run_expect([0], f"mkdir -p {BACKING.rsplit('/', 1)[0]} && truncate -s 64M {BACKING}")
    host.run_expect([0], f"cat > {TARGET_FILE} <<'EOF'\n{TARGET_CONFIG}EOF")
    reload = host.run("systemctl reload tgt")
    assert reload.rc == 0, reload.stderr
    yield IQN
    remove_target(host)


def test_tgt_installed_enabled_running(host):
    assert_running(host, "tgt", "tgt")


def test_listens_on_storage_address_only(host):
    assert_listens_only_on(host, STORAGE, PORT)


def test_target_files_come_from_the_drop_in_directories(host):
    targets = host.file("/etc/tgt/targets.conf").content_string
    assert re.search(r"^include /etc/tgt/conf\.d/\*\.conf$", targets, re.MULTILINE)
    cinder = host.file("/etc/tgt/conf.d/tenrec-cinder.conf").content_string
    assert re.search(r"^include /var/lib/cinder/volumes/\*$", cinder, re.MULTILINE)
    volumes = host.file("/var/lib/cinder/volumes")
    assert volumes.is_directory and volumes.mode == 0o750


def test_reload_exports_the_cinder_target(host, lun):
    shown = host.check_output("tgtadm --lld iscsi --mode target --op show")
    assert f"Target 1: {lun}" in shown or re.search(rf"Target \d+: {re.escape(lun)}", shown)
    assert f"Backing store path: {BACKING}" in shown
    assert re.search(r"Size: 67 MB", shown), shown
    assert CHAP_USER in host.check_output(f"tgt-admin --show | sed -n '/{lun}/,$p'")


def test_compute_node_discovers_the_target_at_the_storage_address(client, lun):
    listed = client.check_output(f"iscsi-ls iscsi://{STORAGE}")
    assert f"Target:{lun} Portal:{STORAGE}:{PORT},1" in listed, listed


def test_compute_node_reads_the_lun_with_chap(client, lun):
    capacity = client.check_output(f"iscsi-readcapacity16 {LUN_URL}")
    assert re.search(r"^Total size:\s*67108864$", capacity, re.MULTILINE), capacity
    inquiry = client.check_output(f"iscsi-inq {LUN_URL}")
    assert "IET" in inquiry and "VIRTUAL-DISK" in inquiry, inquiry
    # Without the CHAP credentials the login is refused.
    anonymous = client.run(f"iscsi-inq iscsi://{STORAGE}/{lun}/1")
    assert anonymous.rc != 0


def test_removed_target_is_gone(host, client, lun):
    remove_target(host)
    assert lun not in host.check_output("tgtadm --lld iscsi --mode target --op show")
    # libiscsi's iscsi-ls exits non-zero when discovery finds no target at all.
    assert lun not in client.run(f"iscsi-ls iscsi://{STORAGE}").stdout
    assert client.run(f"iscsi-inq {LUN_URL}").rc != 0
