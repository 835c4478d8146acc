"""tenrec verify's nova and neutron rows: their order and dependencies, the test guest (--guest,
building it from the checkout), what its console prints, and the pure judging logic."""

from __future__ import annotations

import ipaddress
import json
import random
import re
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from openstack.compute.v2.service import Service
from openstack.network.v2.agent import Agent

from tenrec.cli import main
from tenrec.config import load_config
from tenrec.exitcodes import Exit
from tenrec.verify import ALWAYS_DEPLOYED, registry, select
from tenrec.verify.compute import (
    Booted,
    ServiceState,
    console_token,
    judge_services,
    service_state,
    watch_console,
)
from tenrec.verify.core import FAILED, OK, SKIPPED, Check, CheckFailed, Context, SkipCheck, run
from tenrec.verify.guest import (
    INSTANCE_ID,
    META_DATA,
    NO_GUEST,
    GuestError,
    checkout_builder,
    drive_verdict,
    guest_in,
    guest_script,
    guest_verdict,
    load_builder,
    read_console,
    resolve_guest,
)
from tenrec.verify.network import (
    FLOATING_KEY,
    GUEST_KEY,
    NO_PING,
    TENANT_POOL,
    AgentState,
    GuestPort,
    agent_state,
    choose_cidr,
    judge_agents,
    ping_once,
    ping_until,
    required_agents,
    tcp,
)
from tenrec.verify.nodes import config_cidrs, host_is, node_names
from tests import guest_image

# openstacksdk warns about its own internals whenever a resource is built.
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning")
REPO = Path(__file__).resolve().parents[2]
SERVER_ID = "6f1c3e2a-9b7d-4c1e-8a55-0d2f4b9e7c10"
FIXED_IP = "10.199.7.23"
META_JSON = json.dumps(
    {
        "uuid": SERVER_ID,
        "meta": {},
        "hostname": "tenrec-verify-a1b2c3-server",
        "name": "tenrec-verify-a1b2c3-server",
        "launch_index": 0,
        "availability_zone": "nova",
        "project_id": "0c7f4ef3a1b24a7b9bb7c1f3e3d9a1d2",
        "devices": [],
        "dedicated_cpus": [],
    }
)
NEW_ROWS = (
    "network/agents",
    "network/tenant",
    "compute/services",
    "compute/boot",
    "compute/config-drive",
    "compute/console",
    "network/floating-ip",
    "network/tcp",
    "network/security-group",
    "compute/delete",
)


# --- order and dependencies ---------------------------------------------------------------


def test_the_new_rows_run_in_order_after_glance_and_placement():
    names = [c.name for c in select(registry(), ALWAYS_DEPLOYED)]
    assert names[-len(NEW_ROWS) :] == list(NEW_ROWS)
    assert names.index("image/upload") < names.index("compute/boot")
    assert {"identity/endpoints/network", "identity/endpoints/compute"} <= set(names)


def test_each_new_row_needs_what_it_uses():
    needs = {c.name: set(c.needs) for c in registry()}
    assert needs["network/agents"] == needs["network/tenant"] == needs["compute/services"] == {"identity/token"}
    assert needs["compute/boot"] == {"compute/services", "network/agents", "network/tenant", "image/upload"}
    assert needs["network/floating-ip"] == {"compute/boot"}
    assert needs["network/tcp"] == {"network/floating-ip"}
    assert needs["network/security-group"] == {"network/floating-ip"}
    assert needs["compute/config-drive"] == {"compute/boot"}
    assert needs["compute/delete"] == {"compute/boot"}
    assert needs["compute/console"] == {"compute/boot"}


def test_only_delete_brings_the_whole_chain_it_needs():
    names = [c.name for c in select(registry(), ALWAYS_DEPLOYED, ["compute/delete"])]
    assert names == [
        "identity/token",
        "image/upload",
        "network/agents",
        "network/tenant",
        "compute/services",
        "compute/boot",
        "compute/delete",
    ]


def stand_ins(results):
    """The registry's checks with their real names, services and needs, and functions giving results."""

    def function(name):
        def check(ctx):
            outcome = results.get(name, OK)
            if outcome == FAILED:
                raise CheckFailed(f"{name} broke")
            if outcome == SKIPPED:
                raise SkipCheck(NO_GUEST)
            return "fine"

        return check

    return [Check(c.name, c.service, function(c.name), c.needs) for c in select(registry(), ALWAYS_DEPLOYED)]


def test_without_a_guest_boot_is_skipped_and_so_are_the_rows_on_its_guest():
    outcome = run(stand_ins({"compute/boot": SKIPPED}), Context(None))
    rows = {row.check: row for row in outcome.rows}
    assert (rows["compute/boot"].result, rows["compute/boot"].detail) == (SKIPPED, NO_GUEST)
    assert rows["network/floating-ip"].detail == "needs compute/boot, which was skipped"
    assert rows["network/security-group"].detail == "needs network/floating-ip, which was skipped"
    assert rows["compute/delete"].detail == "needs compute/boot, which was skipped"
    assert rows["network/tenant"].result == OK
    assert outcome.ok


def test_an_unreachable_floating_ip_skips_the_security_group_row_but_not_the_deletion():
    outcome = run(stand_ins({"network/floating-ip": FAILED}), Context(None))
    rows = {row.check: row for row in outcome.rows}
    assert rows["network/security-group"].result == SKIPPED
    assert rows["compute/delete"].result == OK


def test_a_dead_agent_skips_boot_but_not_the_tenant_network():
    outcome = run(stand_ins({"network/agents": FAILED}), Context(None))
    rows = {row.check: row for row in outcome.rows}
    assert rows["network/tenant"].result == OK
    assert rows["compute/boot"].detail == "needs network/agents, which failed"


# --- the test guest ---------------------------------------------------------------------------


def test_guest_dir_needs_kernel_and_initramfs(tmp_path):
    with pytest.raises(GuestError, match="no such directory"):
        guest_in(tmp_path / "absent")
    with pytest.raises(GuestError, match=r"no vmlinuz and no initramfs\.gz in it"):
        guest_in(tmp_path)
    (tmp_path / "vmlinuz").write_bytes(b"kernel")
    with pytest.raises(GuestError, match=r"no initramfs\.gz in it; `python3 tests/guest_image.py verify`"):
        guest_in(tmp_path)
    (tmp_path / "initramfs.gz").write_bytes(b"initramfs")
    files = guest_in(tmp_path)
    assert (files.kernel, files.initramfs) == (tmp_path / "vmlinuz", tmp_path / "initramfs.gz")
    assert files.origin == f"--guest {tmp_path}"
    assert resolve_guest(tmp_path, None) == files


def test_the_checkout_has_the_builder_an_installed_tenrec_does_not(tmp_path):
    assert checkout_builder() == REPO / "tests/guest_image.py"
    assert checkout_builder(REPO) == REPO / "tests/guest_image.py"
    assert checkout_builder(tmp_path) is None


def test_without_guest_or_builder_boot_skips_saying_how_to_give_one():
    with pytest.raises(SkipCheck) as skipped:
        resolve_guest(None, None)
    assert str(skipped.value) == NO_GUEST
    assert "pass --guest DIR" in NO_GUEST
    assert "python3 tests/guest_image.py verify" in NO_GUEST


def test_a_guest_dir_that_went_away_fails_boot(tmp_path):
    with pytest.raises(CheckFailed, match="no such directory"):
        resolve_guest(tmp_path / "gone", REPO / "tests/guest_image.py")


def test_a_builder_that_cannot_build_fails_boot_with_its_error(tmp_path):
    builder = tmp_path / "guest_image.py"
    builder.write_text(
        "def verify_script(paths):\n"
        "    return 'true'\n"
        "def build_guest(script, files=None):\n"
        "    raise RuntimeError('apt has no candidate for busybox-static')\n"
    )
    with pytest.raises(CheckFailed) as failed:
        resolve_guest(None, builder)
    message = str(failed.value)
    assert f"building the test guest with {builder} failed" in message
    assert "RuntimeError: apt has no candidate for busybox-static" in message
    assert message.endswith("pass --guest DIR instead")


def test_verify_builds_the_same_guest_as_the_builders_metadata_command():
    """Same init script, same cache key: `python3 tests/guest_image.py verify` prebuilds verify's guest."""
    builder = load_builder(REPO / "tests/guest_image.py")
    assert guest_script(builder) == guest_image.verify_script()
    assert builder.VERIFY_FILES == guest_image.VERIFY_FILES and "usr/bin/curl" in guest_image.VERIFY_FILES
    assert f"tenrec-metadata-begin {META_DATA}" in guest_script(builder)


def write_config(tmp_path):
    config = tmp_path / "tenrec.yml"
    config.write_text((REPO / "inventory/aio/tenrec.yml").read_text())
    return config


def test_verify_with_a_wrong_guest_dir_exits_2_before_connecting(tmp_path, capsys):
    config = write_config(tmp_path)
    rc = main(["verify", "-c", str(config), "--guest", str(tmp_path / "guest")])
    assert rc == Exit.INVALID_CONFIG  # not NOT_DEPLOYED: nothing was looked up yet
    assert f"--guest {tmp_path / 'guest'}: no such directory" in " ".join(capsys.readouterr().err.split())


# --- what the guest prints ----------------------------------------------------------------------


def stub(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def guest_output(
    tmp_path, *, lease=True, meta=META_JSON, leased=FIXED_IP, drive_meta=META_JSON, drive=True, disks=None
):
    """The console text of verify_script() and the udhcpc script, run by sh with stand-in tools.

    Only the devices and tools of a guest are replaced (ip, udhcpc, wget, timeout, sleep,
    readlink, mount, umount, httpd; /dev, /mnt, /www point into tmp_path); the scripts and
    their echo lines are guest_image's own.
    """
    assert "/etc/resolv.conf" in guest_image.UDHCPC_SCRIPT
    dhcp_script = guest_image.UDHCPC_SCRIPT.replace("/etc/resolv.conf", str(tmp_path / "resolv.conf"))
    assert "/etc/" not in dhcp_script, "the udhcpc script must write nothing on this machine"
    (tmp_path / "default.script").write_text(dhcp_script)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub(bin_dir / "ip", "exit 0\n")
    # A clock of the guest's own: sleep returns at once and moves it (the metadata retries
    # give up after so many seconds of uptime).
    clock = tmp_path / "uptime"
    clock.write_text("100.00 50.00\n")
    stub(bin_dir / "sleep", f'read up idle < {clock}\necho "$((${{up%.*}} + $1)).00 $idle" > {clock}\n')
    stub(bin_dir / "timeout", 'shift\nexec "$@"\n')
    stub(bin_dir / "readlink", "echo ../../../../bus/virtio/drivers/virtio_net\n")
    stub(bin_dir / "umount", "exit 0\n")
    stub(bin_dir / "httpd", f'echo "$@" > {tmp_path / "httpd.args"}\n')
    # The guest's devices: a CD-ROM (a plain file standing in) that mounts when drive is set.
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "sr0").write_bytes(b"")
    # Attached volumes (plain files standing in): name -> first bytes.
    for name, data in (disks or {}).items():
        (dev / name).write_bytes(data.ljust(4096, b"\0"))
    stub(bin_dir / "mount", "exit 0\n" if drive else "exit 32\n")
    mnt = tmp_path / "mnt" / "config"
    if drive_meta is not None:
        (mnt / "openstack" / "latest").mkdir(parents=True)
        (mnt / META_DATA).write_text(drive_meta)
    else:
        (mnt / "openstack").mkdir(parents=True)
    if lease:
        stub(
            bin_dir / "udhcpc",
            f"interface=eth0 ip={leased} mask=24 router=10.199.7.1 dns= staticroutes= mtu=1450 \\\n"
            f"    exec sh {tmp_path / 'default.script'} bound\n",
        )
    else:
        stub(bin_dir / "udhcpc", "exit 1\n")
    answers = f"*/{META_DATA}) printf '%s' '{meta}' ;;\n" if meta is not None else ""
    stub(
        bin_dir / "wget",
        'for url; do :; done\ncase "$url" in\n'
        f"{answers}*/{INSTANCE_ID}) printf '%s' 'i-00000007' ;;\n*) exit 1 ;;\nesac\n",
    )
    script = guest_image.verify_script()
    for guest_path, here in (
        ('[ -b "$dev" ]', '[ -e "$dev" ]'),
        ("/dev/sr* /dev/vd* /dev/sd* /dev/hd*", f"{dev}/sr*"),
        # The volume watcher looks twice, then the script goes on (a guest's looks forever).
        ("/dev/vd[b-z]", f"{dev}/vd[b-z]"),
        ("    while true; do", "    for round in 1 2; do"),
        ("/mnt/config", str(mnt)),
        (guest_image.SERVED_DIR, str(tmp_path / "www")),
        ("/proc/uptime", str(clock)),
    ):
        assert guest_path in script
        script = script.replace(guest_path, here)
    result = subprocess.run(
        ["sh", "-c", script],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    # A serial console: CRLF line ends, the kernel's own lines around the init's.
    lines = ["[    0.000000] Linux version 6.1.0-28-amd64", *result.stdout.splitlines()]
    lines.insert(2, "[    3.141592] virtio_net virtio0 eth0: renamed from eth0")
    return "\r\n".join(lines) + "\r\n"


def test_the_guests_console_shows_lease_and_metadata(tmp_path):
    text = guest_output(tmp_path)
    seen = read_console(text)
    assert seen.lease is not None
    assert (seen.lease.address, seen.lease.prefix, seen.lease.interface) == (FIXED_IP, 24, "eth0")
    assert seen.meta_data()["uuid"] == SERVER_ID
    assert seen.answers[INSTANCE_ID] == "i-00000007"
    assert seen.failed == []
    assert guest_verdict(seen, FIXED_IP, SERVER_ID) == (
        f"guest leased {FIXED_IP}/24 on eth0 (virtio_net), metadata uuid = server id (instance-id i-00000007)"
    )


def test_the_guest_reads_its_config_drive_and_serves_its_metadata(tmp_path):
    text = guest_output(tmp_path)
    seen = read_console(text)
    assert seen.drive == f"{tmp_path}/dev/sr0"
    assert seen.drive_meta_data()["uuid"] == SERVER_ID
    assert drive_verdict(seen, SERVER_ID) == f"config drive on {tmp_path}/dev/sr0: {META_DATA} uuid = server id"
    # What the metadata service answered is what the guest's HTTP server hands out.
    assert json.loads((tmp_path / "www" / META_DATA).read_text())["uuid"] == SERVER_ID
    assert (tmp_path / "httpd.args").read_text().split() == ["-p", "80", "-h", f"{tmp_path}/www"]
    assert f"tenrec-guest: serving {tmp_path}/www on port 80" in text


def test_no_config_drive_fails_its_row_naming_where_to_look(tmp_path):
    seen = read_console(guest_output(tmp_path, drive=False))
    assert seen.drive is None and seen.no_drive
    with pytest.raises(CheckFailed, match=r"found no config drive.*genisoimage"):
        drive_verdict(seen, SERVER_ID)
    # The rest of the guest goes on: lease and metadata do not need the drive.
    assert guest_verdict(seen, FIXED_IP, SERVER_ID) is not None


def test_a_config_drive_of_another_server_fails(tmp_path):
    other = META_JSON.replace(SERVER_ID, "00000000-0000-0000-0000-000000000000")
    seen = read_console(guest_output(tmp_path, drive_meta=other))
    with pytest.raises(CheckFailed, match=r"config drive's .* has uuid '00000000"):
        drive_verdict(seen, SERVER_ID)


def test_a_config_drive_without_meta_data_fails(tmp_path):
    seen = read_console(guest_output(tmp_path, drive_meta=None))
    assert seen.drive_failed == [META_DATA]
    with pytest.raises(CheckFailed, match=f"has no {META_DATA}"):
        drive_verdict(seen, SERVER_ID)


def test_a_console_cut_short_is_not_a_verdict_yet(tmp_path):
    text = guest_output(tmp_path)
    assert guest_verdict(read_console(""), FIXED_IP, SERVER_ID) is None
    upto_lease = text[: text.index("tenrec-metadata-begin")]
    seen = read_console(upto_lease)
    assert seen.lease is not None
    assert guest_verdict(seen, FIXED_IP, SERVER_ID) is None
    inside_body = text[: text.index("tenrec-metadata-end")]
    assert guest_verdict(read_console(inside_body), FIXED_IP, SERVER_ID) is None
    assert read_console(inside_body).tail[-1].startswith('{"uuid"')


def test_a_kernel_line_inside_an_answer_is_left_out(tmp_path):
    text = guest_output(tmp_path)
    text = text.replace(META_JSON, "[   12.000001] random: crng init done\r\n" + META_JSON)
    assert read_console(text).meta_data()["uuid"] == SERVER_ID


def test_a_guest_without_a_lease_fails_at_once(tmp_path):
    seen = read_console(guest_output(tmp_path, lease=False, meta=None))
    assert seen.no_lease == "eth0"
    with pytest.raises(CheckFailed, match=f"the guest got no DHCP lease on eth0 \\(Neutron's fixed IP: {FIXED_IP}\\)"):
        guest_verdict(seen, FIXED_IP, SERVER_ID)


def test_a_lease_of_another_address_fails(tmp_path):
    seen = read_console(guest_output(tmp_path, leased="10.199.7.99"))
    with pytest.raises(CheckFailed, match=f"the guest leased 10.199.7.99, but Neutron assigned {FIXED_IP}"):
        guest_verdict(seen, FIXED_IP, SERVER_ID)


def test_metadata_the_guest_could_not_fetch_fails(tmp_path):
    text = guest_output(tmp_path, meta=None)
    seen = read_console(text)
    assert seen.failed == [META_DATA]
    # It kept asking for METADATA_PATIENCE seconds, 2 s apart, and says so (the volume
    # watcher's sleeps move the same clock now and then).
    said = re.search(rf"tenrec-guest: {META_DATA}: no after (\d+) tries, up (\d+) s\r\n", text)
    assert said and 140 <= int(said[1]) <= 151 and int(said[2]) >= 100 + guest_image.METADATA_PATIENCE, text
    assert seen.answers == {INSTANCE_ID: "i-00000007"}
    with pytest.raises(CheckFailed, match=f"could not fetch {META_DATA}"):
        guest_verdict(seen, FIXED_IP, SERVER_ID)


def test_metadata_of_another_server_fails(tmp_path):
    other = META_JSON.replace(SERVER_ID, "00000000-0000-0000-0000-000000000000")
    seen = read_console(guest_output(tmp_path, meta=other))
    with pytest.raises(
        CheckFailed, match=f"uuid '00000000-0000-0000-0000-000000000000', but the server is {SERVER_ID}"
    ):
        guest_verdict(seen, FIXED_IP, SERVER_ID)


def test_metadata_that_is_no_json_fails(tmp_path):
    seen = read_console(guest_output(tmp_path, meta="<html>502 Bad Gateway</html>"))
    with pytest.raises(CheckFailed, match="no JSON object"):
        guest_verdict(seen, FIXED_IP, SERVER_ID)


# --- the tenant subnet ------------------------------------------------------------------------


def test_the_tenant_subnet_is_a_free_24_of_the_pool():
    rng = random.Random(7)
    for _ in range(20):
        cidr = ipaddress.ip_network(choose_cidr([], rng))
        assert cidr.prefixlen == 24
        assert cidr.subnet_of(TENANT_POOL)


def test_the_tenant_subnet_overlaps_nothing_taken():
    taken = [f"10.199.{i}.0/24" for i in range(256) if i != 42]
    assert choose_cidr(taken, random.Random(1)) == "10.199.42.0/24"
    lower_half = ["10.199.0.0/17", "fd00::/64", "not-a-cidr", "198.51.100.0/24"]
    for seed in range(20):
        assert ipaddress.ip_network(choose_cidr(lower_half, random.Random(seed))).network_address.packed[2] >= 128


def test_no_free_tenant_subnet_fails():
    with pytest.raises(CheckFailed, match=r"every /24 of 10\.199\.0\.0/16 overlaps"):
        choose_cidr(["10.0.0.0/8"])


def test_the_configs_networks_are_taken():
    config = load_config(REPO / "inventory/multinode/tenrec.yml")
    ctx = Context(None, config=config)
    assert config_cidrs(ctx) == ["192.0.2.0/24", "203.0.113.0/26", "203.0.113.64/26", "198.51.100.0/24"]
    assert config_cidrs(Context(None)) == []


# --- services and agents ----------------------------------------------------------------------


def test_nodes_by_role_and_host_names():
    config = load_config(REPO / "inventory/multinode/tenrec.yml")
    ctx = Context(None, config=config)
    assert node_names(ctx, "compute") == ["cmp1", "cmp2"]
    assert node_names(ctx, "network", "compute") == ["net1", "cmp1", "cmp2"]
    with pytest.raises(SkipCheck, match="no deployment config"):
        node_names(Context(None), "compute")
    assert host_is("cmp1", "cmp1")
    assert host_is("cmp1.example.org", "cmp1")
    assert not host_is("cmp10", "cmp1")
    assert not host_is(None, "cmp1")


def nova_service(binary, host, state="up", status="enabled"):
    """A compute Service as the API lists it (openstacksdk's own resource class)."""
    return service_state(Service.existing(binary=binary, host=host, state=state, status=status, id=f"{binary}@{host}"))


def test_services_up_on_every_node_pass_and_are_listed():
    found = [
        nova_service("nova-conductor", "ctl1"),
        nova_service("nova-scheduler", "ctl1"),
        nova_service("nova-compute", "cmp1"),
        nova_service("nova-compute", "cmp2.example.org"),
    ]
    assert judge_services(found, ["ctl1"], ["cmp1", "cmp2"]) == (
        "nova-conductor: ctl1; nova-scheduler: ctl1; nova-compute: cmp1, cmp2.example.org (all up)"
    )


def test_services_missing_down_or_disabled_fail_with_every_problem():
    found = [
        nova_service("nova-conductor", "ctl1"),
        nova_service("nova-scheduler", "ctl1", state="down"),
        nova_service("nova-compute", "cmp1", status="disabled"),
    ]
    assert found[2] == ServiceState("nova-compute", "cmp1", up=True, enabled=False)
    with pytest.raises(CheckFailed) as failed:
        judge_services(found, ["ctl1"], ["cmp1", "cmp2"])
    assert str(failed.value) == (
        "no nova-compute on cmp2; nova-scheduler on ctl1 is down; nova-compute on cmp1 is disabled"
    )


def neutron_agent(kind, host, alive=True, up=True):
    """A network Agent as the API lists it (openstacksdk's own resource class)."""
    return agent_state(Agent.existing(agent_type=kind, host=host, alive=alive, admin_state_up=up, id=f"{kind}@{host}"))


def test_agents_required_per_node():
    assert required_agents(["net1"], ["cmp1"]) == [
        ("Open vSwitch agent", "net1"),
        ("Open vSwitch agent", "cmp1"),
        ("DHCP agent", "net1"),
        ("L3 agent", "net1"),
        ("Metadata agent", "net1"),
    ]
    # all-in-one: one node holds both roles and needs one OVS agent
    assert required_agents(["cloud1"], ["cloud1"])[:2] == [("Open vSwitch agent", "cloud1"), ("DHCP agent", "cloud1")]


def test_agents_alive_on_every_node_pass_with_counts():
    found = [
        neutron_agent("Open vSwitch agent", "cmp2"),
        neutron_agent("Metadata agent", "net1"),
        neutron_agent("Open vSwitch agent", "net1"),
        neutron_agent("L3 agent", "net1"),
        neutron_agent("DHCP agent", "net1"),
        neutron_agent("Open vSwitch agent", "cmp1"),
    ]
    assert judge_agents(found, ["net1"], ["cmp1", "cmp2"]) == (
        "6 agent(s) alive and up: Open vSwitch agent ×3 (cmp1, cmp2, net1); DHCP agent ×1 (net1); "
        "L3 agent ×1 (net1); Metadata agent ×1 (net1)"
    )


def test_agents_missing_dead_or_down_fail_with_every_problem():
    found = [
        neutron_agent("Open vSwitch agent", "net1"),
        neutron_agent("Open vSwitch agent", "cmp1", alive=False),
        neutron_agent("DHCP agent", "net1", up=False),
        neutron_agent("Metadata agent", "net1"),
    ]
    assert found[1] == AgentState("Open vSwitch agent", "cmp1", alive=False, admin_up=True)
    with pytest.raises(CheckFailed) as failed:
        judge_agents(found, ["net1"], ["cmp1"])
    assert str(failed.value) == (
        "no L3 agent on net1; Open vSwitch agent on cmp1 is dead; DHCP agent on net1 is administratively down"
    )


# --- ping -------------------------------------------------------------------------------------


class Clock:
    """Time that passes only when the code under test pings or sleeps."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def scripted(clock, answers, seconds=2.0):
    """A probe answering from a list (True = reply), each ping taking seconds."""
    answers = list(answers)
    asked = []

    def probe(address):
        asked.append(address)
        clock.now += seconds
        return answers.pop(0) if answers else False

    return probe, asked


def test_ping_until_answering_gives_the_seconds_of_the_first_reply():
    clock = Clock()
    probe, asked = scripted(clock, [False, False, True])
    assert ping_until("198.51.100.7", True, 60, probe=probe, clock=clock, sleep=clock.sleep) == 6.0
    assert asked == ["198.51.100.7"] * 3


def test_ping_until_silent_wants_misses_in_a_row_and_dates_them_from_the_first():
    clock = Clock()
    probe, asked = scripted(clock, [True, False, True, False, False])
    assert ping_until("a", False, 20, confirm=2, probe=probe, clock=clock, sleep=clock.sleep) == 9.0
    assert len(asked) == 5


def test_ping_until_gives_none_after_the_timeout():
    clock = Clock()
    probe, asked = scripted(clock, [])
    assert ping_until("a", True, 20, probe=probe, clock=clock, sleep=clock.sleep) is None
    assert clock.now - 100.0 <= 20 + 3
    assert len(asked) == 7


def test_ping_without_the_command_skips(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SkipCheck) as skipped:
        ping_once("127.0.0.1")
    assert str(skipped.value) == NO_PING


# --- console ---------------------------------------------------------------------------------


def test_the_console_token_is_found_in_both_url_forms():
    assert console_token("http://192.0.2.10:6080/vnc_lite.html?path=%3Ftoken%3Dabc-123") == "abc-123"
    assert console_token("http://192.0.2.10:6080/vnc_auto.html?token=def-456") == "def-456"


def test_a_console_url_without_a_token_is_a_clear_failure():
    with pytest.raises(CheckFailed, match="no token"):
        console_token("http://192.0.2.10:6080/vnc_lite.html")


# --- network/tcp ----------------------------------------------------------------------------


def tcp_context():
    guest = GuestPort(SERVER_ID, "port-1", FIXED_IP, "group-1", "rule-1", 80, META_DATA)
    return SimpleNamespace(scratch={GUEST_KEY: guest, FLOATING_KEY: "10.201.3.57"})


def test_tcp_reads_the_guests_own_server_id_through_its_floating_ip(monkeypatch):
    monkeypatch.setattr("tenrec.verify.network.time.sleep", lambda _seconds: None)
    asked = []

    def fetch(url):
        asked.append(url)
        if len(asked) < 3:  # the guest's httpd starts after its metadata fetch
            raise ConnectionRefusedError(111, "Connection refused")
        return META_JSON.encode()

    detail = tcp(tcp_context(), fetch=fetch)
    assert asked == [f"http://10.201.3.57:80/{META_DATA}"] * 3
    assert detail.startswith(f"http://10.201.3.57:80/{META_DATA} answered after ")
    assert detail.endswith("with the guest's meta_data.json (uuid = server id)")


def test_tcp_that_never_connects_fails_saying_what_was_last_seen(monkeypatch):
    clock = iter(range(0, 1000, 7))
    monkeypatch.setattr("tenrec.verify.network.time.monotonic", lambda: next(clock))
    monkeypatch.setattr("tenrec.verify.network.time.sleep", lambda _seconds: None)

    def fetch(url):
        raise TimeoutError("timed out")

    with pytest.raises(CheckFailed, match=r"no HTTP answer within 60 s \(timed out\); ping works"):
        tcp(tcp_context(), fetch=fetch)


def test_tcp_answered_by_something_else_fails():
    with pytest.raises(CheckFailed, match="answered uuid 'other', but the guest is " + SERVER_ID):
        tcp(tcp_context(), fetch=lambda url: b'{"uuid": "other"}')
    with pytest.raises(CheckFailed, match=r"answered 9 bytes that are no meta_data\.json"):
        tcp(tcp_context(), fetch=lambda url: b"It works!")


def test_the_guest_marks_a_new_volume_and_reads_a_marked_one(tmp_path):
    from tenrec.verify.volume import console_markers  # noqa: PLC0415

    marked = b"tenrec-volume-marker:8c2f0d9e-0000-4000-8000-000000000001"
    text = guest_output(tmp_path, disks={"vdb": b"", "vdc": marked})
    seen = {line.device.rsplit("/", 1)[1]: line for line in console_markers(text)}
    assert seen["vdc"].what == "holds" and seen["vdc"].marker == marked.decode()
    assert seen["vdb"].what == "wrote" and seen["vdb"].marker.startswith("tenrec-volume-marker:")
    on_disk = (tmp_path / "dev" / "vdb").read_bytes()
    assert on_disk[:64].rstrip(b"\0").decode() == seen["vdb"].marker
    assert len(on_disk) == 4096, "the marker overwrites the first 64 bytes only"
    assert len(console_markers(text)) == 2, "a disk is looked at once while it stays attached"


class _Console:
    """A compute API whose console request fails with server errors before it answers."""

    def __init__(self, output: str, errors: int, status: int = 500) -> None:
        self.output, self.errors, self.status, self.calls = output, errors, status, 0

    def get_server_console_output(self, server):
        from openstack import exceptions  # noqa: PLC0415

        self.calls += 1
        if self.calls <= self.errors:
            raise exceptions.HttpException("MessagingTimeout", http_status=self.status)
        return {"output": self.output}


def test_a_console_request_that_meets_a_busy_compute_node_is_asked_again(tmp_path, monkeypatch):
    monkeypatch.setattr("tenrec.verify.compute.CONSOLE_INTERVAL", 0)
    compute = _Console(guest_output(tmp_path), errors=2)
    booted = Booted(SimpleNamespace(id=SERVER_ID), "tenrec-verify-x-server")
    verdict, _, _, seen = watch_console(SimpleNamespace(compute=compute), booted, FIXED_IP, time.monotonic())
    assert compute.calls == 3 and seen.meta_data()["uuid"] == SERVER_ID
    assert verdict.endswith("(the console request failed 2 time(s) with a server error first)")


def test_a_console_request_refused_by_the_api_fails_at_once(tmp_path):
    from openstack import exceptions  # noqa: PLC0415

    compute = _Console(guest_output(tmp_path), errors=1, status=403)
    booted = Booted(SimpleNamespace(id=SERVER_ID), "tenrec-verify-x-server")
    with pytest.raises(exceptions.HttpException):
        watch_console(SimpleNamespace(compute=compute), booted, FIXED_IP, time.monotonic())
    assert compute.calls == 1
