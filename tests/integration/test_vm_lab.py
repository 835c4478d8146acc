"""The production defaults on nodes with a kernel of their own: a mixed lab (container
controller and network node; VM compute and storage nodes, tenrec.lab.vm) deployed with
`auto` everywhere, which there means the kernel datapath of Open vSwitch on the compute
node, Cinder on LVM thin volumes exported by LIO, and Nova attaching them through
open-iscsi; then the same storage node switched to tgt. Slow (every VM is emulated):
`./run-vm-test`, README "Tests".

Two VMs, not three: with a VM network node as well, three emulated VMs and the
controller's services on 2 cores timed verify's API calls out (2026-12-07). The network
node's kernel datapath is the CI part's (test_vm_kernel_paths.py). For the same reason the
lab's config here leaves out the services with no kernel path of their own (Swift, Heat,
Gnocchi, Ceilometer): Glance keeps images in its file store.

The steps depend on each other, so they are one ordered module sharing a lab.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest
import testinfra
import yaml

from tenrec.config import load_config
from tenrec.exitcodes import Exit
from tenrec.lab.lab import LabPaths
from tenrec.nodecheck import KERNEL_FEATURE_NAMES
from tenrec.paths import StateDir
from tenrec.verify import deployed_services, registry, select
from tests.vm_lab import assert_lab_down_leaves_nothing, node, tenrec, vm_lab

LAB = "ivm"
VM_NODES = ("cmp1", "sto1")
# Off in this scenario: no kernel path of their own, and each is load on 2 cores (above).
SERVICES_LEFT_OUT = ("swift", "heat", "gnocchi", "ceilometer")
VOLUME_GROUP = "cinder-volumes"
# verify's time limits times 4: the guest boots on an emulated compute node (about 11 times
# slower than this machine's CPU), and the controller's APIs share 2 cores with two VMs.
VERIFY_PATIENCE = 4
MARKER_BYTES = 4096  # what the test writes through an attachment and reads back
# `cinder-rtstool create DEVICE IQN CHAP_USER CHAP_PASSWORD ...` in a log line.
CHAP_ARGUMENTS = re.compile(r"(cinder-rtstool create \S+ \S+) \S+ \S+")

pytestmark = [
    pytest.mark.lab,
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab runs rootful podman and QEMU: run as root"),
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="the lab host must be Debian with apt"),
]


@pytest.fixture(scope="module")
def lab():
    with vm_lab(LAB, "compute,storage") as paths:
        data = yaml.safe_load(paths.config.read_text())
        data["services"] = dict.fromkeys(SERVICES_LEFT_OUT, False)
        for entry in data["nodes"]:
            entry.pop("object_devices", None)  # Swift's disk: the VM keeps it, unused
        paths.config.write_text(yaml.safe_dump(data, sort_keys=False))
        yield paths


@pytest.fixture(scope="module")
def config(lab):
    return yaml.safe_load(lab.config.read_text())


def openstack(lab: LabPaths, config: dict, command: str) -> str:
    """The plain openstack CLI on the controller, as an operator runs it."""
    return node(lab, config, "ctl1").check_output(f"OS_CLOUD=tenrec openstack {command}")


def openstack_json(lab: LabPaths, config: dict, command: str) -> dict:
    return json.loads(openstack(lab, config, f"{command} -f json"))


def wait_for(what: str, probe, timeout: float, interval: float = 3.0, explain=None):
    """probe's first true answer within timeout; else the test fails, with what explain()
    collected (the logs of the nodes involved)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {last!r})" + (f"\n{explain()}" if explain else ""))


def deploy(lab: LabPaths) -> dict:
    result = tenrec("deploy", "-c", str(lab.config))
    summary = json.loads((StateDir.for_config(lab.config).logs / "deploy-last.json").read_text())
    assert result.returncode == Exit.OK, json.dumps(summary.get("failures"), indent=1) + result.stdout[-3000:]
    return summary


def changes(summary: dict) -> int:
    """The changes of a deploy summary (deploy-last.json), every host's together."""
    return sum(stats["changed"] for stats in summary["stats"].values())


def journals(lab: LabPaths, config: dict, commands: list[tuple[str, str]]) -> str:
    """What the nodes say (commands run on them by name), for a failure's message: the lab
    and its logs are gone once the module ends. CHAP arguments are masked (below)."""
    out = []
    for name, command in commands:
        try:
            result = node(lab, config, name).run(command)
            out.append(f"$ {name}: {command}\n{result.stdout}{result.stderr}")
        except RuntimeError as error:  # SSH itself failed
            out.append(f"$ {name}: {command}\n{error}")
    # Cinder passes each volume's CHAP user and password to cinder-rtstool as arguments, and
    # sudo and cinder-volume's errors log that command line: masked before it is printed.
    return CHAP_ARGUMENTS.sub(r"\1 <chap user> <chap password>", "\n".join(out))


def journal(unit: str) -> str:
    return f"journalctl -u {unit} --since -15min --no-pager | grep -v ' DEBUG ' | tail -60"


NOVA_JOURNALS = [
    ("cmp1", journal("nova-compute")),
    ("ctl1", journal("nova-conductor")),
    ("ctl1", journal("nova-api")),
    ("ctl1", journal("nova-scheduler")),
]


def test_vm_nodes_are_vms_with_their_own_kernel(lab, config):
    result = tenrec("lab", "status", "--name", LAB)
    assert result.returncode == Exit.OK
    ctl1 = node(lab, config, "ctl1")
    host_kernel = os.uname().release
    assert ctl1.check_output("uname -r") == host_kernel
    for name in VM_NODES:
        vm = node(lab, config, name)
        assert vm.check_output("uname -r") != host_kernel, f"{name} runs this machine's kernel"
        assert vm.check_output("systemctl is-system-running --wait") in ("running", "degraded")
        assert vm.check_output("systemctl --failed --no-legend") == "", f"{name} has failed units"
    assert node(lab, config, "sto1").check_output("lsblk -dn -o NAME,SERIAL /dev/vdb /dev/vdc").split() == [
        "vdb",
        "tenrec-volumes",
        "vdc",
        "tenrec-objects",
    ]


def test_check_nodes_reports_the_production_kernel_paths(lab):
    result = tenrec("check", "--nodes", "-c", str(lab.config))
    assert result.returncode == Exit.OK, result.stdout + result.stderr
    for feature in KERNEL_FEATURE_NAMES.values():  # the "kernel has" column, one a line
        assert feature in result.stdout, result.stdout
    nodes = {n["name"]: n for n in json.loads((StateDir.for_config(lab.config).logs / "nodes.json").read_text())}
    for name in VM_NODES:
        facts, decisions = nodes[name]["facts"], nodes[name]["decisions"]
        assert facts["container"] == "" and all(facts["kernel_features"].values()), facts
        assert decisions["ovs_datapath"] == "system" and decisions["volume_backend"] == "lvm"
        assert decisions["iscsi_target"] == "lio"
        assert decisions["virt_type"] == ("kvm" if facts["kvm_usable"] else "qemu")
        print(f"FIGURE {name}: virt_type {decisions['virt_type']} ({facts['kvm_reason']})")
    assert nodes["ctl1"]["facts"]["container"] == "podman"


def test_first_deploy_succeeds(lab):
    started = time.monotonic()
    summary = deploy(lab)
    print(f"FIGURE first deploy: {time.monotonic() - started:.0f} s, {changes(summary)} change(s)")


def test_second_deploy_changes_nothing(lab):
    started = time.monotonic()
    summary = deploy(lab)
    assert changes(summary) == 0, summary["stats"]
    print(f"FIGURE no-change redeploy: {time.monotonic() - started:.0f} s")


def test_open_vswitch_runs_the_kernel_datapath(lab, config):
    """On the VM compute node; its tunnels end at the container network node's userspace
    datapath (VXLAN is the same on the wire), which verify's guest crosses."""
    vm = node(lab, config, "cmp1")
    assert vm.file("/sys/module/openvswitch").is_directory
    assert "system@ovs-system" in vm.check_output("ovs-dpctl show")
    for bridge in ("br-int", "br-tun"):
        # An empty datapath_type is OVS's default, the kernel's.
        assert vm.check_output(f"ovs-vsctl get bridge {bridge} datapath_type").strip('"') in ("", "system")
    agent = vm.check_output("grep -h '^datapath_type' /etc/neutron/openvswitch_agent.ini")
    assert agent.split("=")[1].strip() == "system"


def test_the_storage_node_keeps_volumes_in_a_thin_pool_served_by_lio(lab, config):
    sto1 = node(lab, config, "sto1")
    pvs = sto1.check_output(f"pvs --noheadings -o pv_name -S vg_name={VOLUME_GROUP}").split()
    assert pvs == ["/dev/vdb"]
    attrs = sto1.check_output(f"lvs --noheadings -o lv_name,lv_attr {VOLUME_GROUP}").split()
    assert attrs[0] == f"{VOLUME_GROUP}-pool" and attrs[1].startswith("t"), attrs  # t: a thin pool
    assert "target_helper = lioadm" in sto1.check_output("grep -h target_helper /etc/cinder/cinder.conf")
    # configfs mounted, LIO's iSCSI fabric loaded (its configfs directory comes with a first target).
    assert sto1.file("/sys/kernel/config/target/core").is_directory
    assert sto1.file("/sys/module/iscsi_target_mod").is_directory
    assert not sto1.package("tgt").is_installed
    # Where Cinder's rtslib keeps LIO's dbroot and its saved targets (none saved before an attach).
    assert sto1.file("/etc/target").is_directory and sto1.file("/etc/target").mode == 0o700


def test_verify_passes_every_check(lab, config):
    """Every row, the guest on the VM compute node included: its DHCP lease and metadata
    through the network node over VXLAN, its floating IP, and a volume's bytes through
    open-iscsi read back on the storage node's logical volume and after a re-attach."""
    started = time.monotonic()
    result = tenrec("verify", "-c", str(lab.config), "--patience", str(VERIFY_PATIENCE))
    rows = json.loads((StateDir.for_config(lab.config).logs / "verify-last.json").read_text())
    if result.returncode != Exit.OK:
        print(journals(lab, config, NOVA_JOURNALS))
    assert result.returncode == Exit.OK, [row for row in rows if row["result"] not in ("ok", "skipped")]
    results = {row["check"]: row["result"] for row in rows}
    expected = dict.fromkeys(
        [check.name for check in select(registry(), deployed_services(load_config(lab.config)))], "ok"
    )
    # cinder-backup runs with Swift, its store, which this scenario leaves out.
    expected |= dict.fromkeys(("volume/backup", "volume/restore"), "skipped")
    assert results == expected, rows
    seconds = {row["check"]: row["seconds"] for row in rows}
    print(
        f"FIGURE verify: {time.monotonic() - started:.0f} s; compute/boot {seconds['compute/boot']:.0f} s, "
        f"volume/attach {seconds['volume/attach']:.0f} s"
    )


# --- one volume through the attachment, a reboot of the storage node, and tgt -----------------


class Volume:
    """A volume attached to a server on cmp1; its bytes written and read through the iSCSI
    disk the compute node logged in to, and read on the storage node's logical volume."""

    def __init__(self, lab: LabPaths, config: dict) -> None:
        self.lab, self.config = lab, config
        self.cmp1, self.sto1 = node(lab, config, "cmp1"), node(lab, config, "sto1")
        self.id = ""
        self.marker = os.urandom(MARKER_BYTES).hex()

    def iscsi_disk(self) -> str:
        """The compute node's device of this volume (its iSCSI session's LUN)."""
        found = self.cmp1.run(f"ls /dev/disk/by-path/ | grep -- '-iscsi-.*{self.id}-lun-'")
        return f"/dev/disk/by-path/{found.stdout.split()[0]}" if found.rc == 0 and found.stdout.strip() else ""

    def attach(self) -> str:
        started = time.monotonic()
        openstack(self.lab, self.config, f"server add volume vmtest-server {self.id}")
        disk = wait_for("the volume's iSCSI disk on cmp1", self.iscsi_disk, 300, explain=self.diagnosis)
        print(f"FIGURE attach through open-iscsi: {time.monotonic() - started:.1f} s")
        sessions = self.cmp1.check_output("iscsiadm -m session")
        assert f"volume-{self.id}" in sessions, sessions
        return disk

    def detach(self) -> None:
        openstack(self.lab, self.config, f"server remove volume vmtest-server {self.id}")

        def detached() -> bool:
            return self.status() == "available" and not self.iscsi_disk()

        wait_for("the volume detached", detached, 300, explain=self.diagnosis)
        assert f"volume-{self.id}" not in self.cmp1.run("iscsiadm -m session").stdout

    def status(self) -> str:
        return openstack_json(self.lab, self.config, f"volume show {self.id}")["status"]

    def diagnosis(self) -> str:
        """What the attach path says: the volume, both ends' sessions and targets, and the
        logs of nova-compute (os-brick) and cinder-volume."""
        return journals(
            self.lab,
            self.config,
            [
                ("ctl1", f"OS_CLOUD=tenrec openstack volume show {self.id} -c status -c attachments"),
                ("ctl1", "OS_CLOUD=tenrec openstack server event list vmtest-server"),
                ("cmp1", "iscsiadm -m session -P 1"),
                ("cmp1", "ls -l /dev/disk/by-path/"),
                ("cmp1", journal("nova-compute")),
                ("sto1", "targetcli ls /iscsi 2; tgtadm --lld iscsi --mode target --op show"),
                ("sto1", journal("cinder-volume")),
            ],
        )

    def read(self, host: testinfra.host.Host, device: str) -> str:
        # O_DIRECT: LIO's block backend writes past the page cache.
        dump = f"dd if={device} bs={MARKER_BYTES} count=1 iflag=direct status=none | od -An -v -tx1 | tr -d ' \\n'"
        return host.check_output(dump).strip()

    def logical_volume(self) -> str:
        return f"/dev/{VOLUME_GROUP}/volume-{self.id}"


@pytest.fixture(scope="module")
def volume(lab, config):
    made = Volume(lab, config)
    ctl1 = node(lab, config, "ctl1")
    for command in (
        "truncate -s 1M /tmp/vmtest.raw",
        "openstack image create --disk-format raw --container-format bare --file /tmp/vmtest.raw vmtest-image",
        "openstack flavor create --ram 128 --disk 1 --vcpus 1 vmtest-flavor",
        "openstack network create vmtest-net",
        "openstack subnet create --network vmtest-net --subnet-range 192.168.78.0/24 vmtest-subnet",
        "openstack server create --image vmtest-image --flavor vmtest-flavor --network vmtest-net --wait vmtest-server",
        # Its disk holds no system, so nothing in it answers the hot unplug a live detach asks
        # for (verify's volume/attach does that with its guest). Stopped, the attach still logs
        # in to the target and the detach logs out; only the domain's definition changes.
        "openstack server stop vmtest-server",
    ):
        result = ctl1.run(f"OS_CLOUD=tenrec {command} >/dev/null")
        if result.rc != 0:
            server = [("ctl1", "OS_CLOUD=tenrec openstack server show vmtest-server -c status -c fault -f yaml")]
            pytest.fail(f"{command}: rc {result.rc}: {result.stderr}\n{journals(lab, config, server + NOVA_JOURNALS)}")
    wait_for(
        "vmtest-server SHUTOFF",
        lambda: openstack_json(lab, config, "server show vmtest-server")["status"] == "SHUTOFF",
        300,
    )
    made.id = openstack_json(lab, config, "volume create --size 1 vmtest-volume")["id"]
    wait_for("the volume available", lambda: made.status() == "available", 180)
    yield made
    if not lab.key.exists():  # the lab is down already (its last test)
        return
    for command in (
        "openstack server delete --wait vmtest-server",
        f"openstack volume delete {made.id}",
        "openstack subnet delete vmtest-subnet",
        "openstack network delete vmtest-net",
        "openstack flavor delete vmtest-flavor",
        "openstack image delete vmtest-image",
    ):
        ctl1.run(f"OS_CLOUD=tenrec {command}")


def test_bytes_written_through_the_attachment_survive_detach_and_reattach(volume):
    disk = volume.attach()
    write = f"import sys; sys.stdout.buffer.write(bytes.fromhex('{volume.marker}'))"
    volume.cmp1.check_output(f'python3 -c "{write}" | dd of={disk} bs={MARKER_BYTES} count=1 oflag=direct status=none')
    targets = volume.sto1.check_output("targetcli ls /iscsi 1")
    assert f"volume-{volume.id}" in targets, targets
    volume.detach()
    assert volume.read(volume.sto1, volume.logical_volume()) == volume.marker
    assert volume.read(volume.cmp1, volume.attach()) == volume.marker
    volume.detach()


def test_the_storage_nodes_volumes_survive_its_reboot(lab, config, volume):
    sto1 = volume.sto1
    boot_id = sto1.check_output("cat /proc/sys/kernel/random/boot_id")
    sto1.run("systemctl reboot")
    started = time.monotonic()

    def back() -> bool:
        try:  # testinfra raises while SSH is refused or times out (ssh's exit status 255)
            probe = node(lab, config, "sto1").run("cat /proc/sys/kernel/random/boot_id")
        except RuntimeError:
            return False
        return probe.rc == 0 and probe.stdout.strip() not in ("", boot_id)

    wait_for("sto1 back after its reboot", back, 600, interval=5)
    print(f"FIGURE storage VM reboot until SSH: {time.monotonic() - started:.0f} s")
    volume.sto1 = node(lab, config, "sto1")
    assert volume.sto1.check_output(f"pvs --noheadings -o pv_name -S vg_name={VOLUME_GROUP}").split() == ["/dev/vdb"]
    assert volume.sto1.check_output(f"lvs --noheadings -o lv_active {volume.logical_volume()}").strip() == "active"
    assert volume.read(volume.sto1, volume.logical_volume()) == volume.marker

    def cinder_volume_up() -> bool:
        services = openstack_json(lab, config, "volume service list --service cinder-volume")
        return all(s["State"] == "up" for s in services) and bool(services)

    wait_for("cinder-volume up again", cinder_volume_up, 300, interval=5)
    assert volume.read(volume.cmp1, volume.attach()) == volume.marker
    volume.detach()


def test_the_same_storage_node_switched_to_tgt_serves_the_volume(lab, config, volume):
    data = yaml.safe_load(lab.config.read_text())
    data.setdefault("options", {})["iscsi_target"] = "tgt"
    lab.config.write_text(yaml.safe_dump(data, sort_keys=False))
    started = time.monotonic()
    deploy(lab)
    print(f"FIGURE redeploy switching LIO to tgt: {time.monotonic() - started:.0f} s")
    sto1 = node(lab, config, "sto1")
    assert "target_helper = tgtadm" in sto1.check_output("grep -h target_helper /etc/cinder/cinder.conf")
    assert sto1.service("tgt").is_running and not sto1.package("targetcli-fb").is_installed
    # Cinder's tgt helper writes each volume's target file there as the cinder user.
    assert sto1.file("/var/lib/cinder/volumes").user == "cinder"
    assert sto1.check_output("ls /sys/kernel/config/target/iscsi | grep -c '^iqn' || true") == "0"
    assert volume.read(volume.cmp1, volume.attach()) == volume.marker
    assert f"volume-{volume.id}" in sto1.check_output("tgtadm --lld iscsi --mode target --op show")
    volume.detach()
    assert changes(deploy(lab)) == 0


def test_lab_down_leaves_no_vm_tap_or_network(lab):
    assert_lab_down_leaves_nothing(lab, LAB)
