"""Nova on one node: control plane and nova-compute, cells v2 with the host mapped, the
hypervisor registered with Placement, and nova-status content."""

import json

from tests.node_checks import assert_listens_only_on, assert_running

ADDRESS = "10.201.11.11"
OS = "openstack --os-cloud tenrec"


def test_units_run_and_apis_listen_on_management_only(host):
    for unit in ("nova-api", "nova-metadata", "nova-conductor", "nova-scheduler", "nova-novncproxy", "nova-compute"):
        assert_running(host, unit)
    assert_listens_only_on(host, ADDRESS, 8774)
    assert_listens_only_on(host, ADDRESS, 8775)


def test_compute_services_up(host):
    services = json.loads(host.check_output(f"{OS} compute service list -f json"))
    found = {(s["Binary"], s["State"]) for s in services}
    assert {("nova-conductor", "up"), ("nova-scheduler", "up"), ("nova-compute", "up")} <= found


def test_cells_and_host_mapping(host):
    cells = host.check_output("runuser -u nova -- /opt/openstack/nova/bin/nova-manage cell_v2 list_cells")
    assert "cell0" in cells and "cell1" in cells
    hosts = host.check_output("runuser -u nova -- /opt/openstack/nova/bin/nova-manage cell_v2 list_hosts")
    assert "mol-nova-aio" in hosts


def test_hypervisor_is_a_placement_resource_provider(host):
    providers = json.loads(host.check_output(f"{OS} resource provider list -f json"))
    assert [p["name"] for p in providers] == ["mol-nova-aio"]
    hypervisor = json.loads(host.check_output(f"{OS} hypervisor list -f json"))[0]
    assert hypervisor["State"] == "up"


def test_upgrade_check_passes(host):
    result = host.run("runuser -u nova -- /opt/openstack/nova/bin/nova-status upgrade check")
    assert result.rc == 0, result.stdout + result.stderr


def test_virt_type_follows_the_decision(host):
    conf = host.file("/etc/nova/nova.conf").content_string
    kvm = host.run("test -w /dev/kvm").rc == 0
    assert "virt_type = qemu" in conf or ("virt_type = kvm" in conf and kvm)


def test_compute_reaches_libvirt_and_rootwrap(host):
    assert "libvirt" in host.user("nova").groups
    assert host.run("runuser -u nova -- virsh -c qemu:///system version").rc == 0
    assert host.file("/usr/local/bin/nova-rootwrap").is_symlink
    assert "nova-rootwrap" in host.check_output("sudo -l -U nova")
