"""libvirt: installed and running through its sockets, live migration on the management
address only and behind SASL, the default network off, the libvirt group's access, and a
tiny emulated guest (Debian kernel + busybox initramfs) that boots and prints a marker."""

import re
import time

import pytest

from tests import guest_image

ADDRESS = "10.201.5.11"
PORT = 16509
MIGRATION_URI = f"qemu+tcp://{ADDRESS}/system"


PACKAGES = ("libvirt-daemon-system", "qemu-system-x86", "qemu-utils", "ovmf", "python3-libvirt", "sasl2-bin")
UNITS = ("libvirtd.service", "libvirtd.socket", "libvirtd-ro.socket", "libvirtd-admin.socket", "libvirtd-tcp.socket")


def test_packages_installed(host):
    status = host.check_output("dpkg-query -W -f '${Package} ${db:Status-Status}\\n' " + " ".join(PACKAGES))
    assert sorted(status.splitlines()) == sorted(f"{package} installed" for package in PACKAGES)


def test_libvirtd_and_sockets_enabled_and_running(host):
    units = " ".join(UNITS)
    assert host.run(f"systemctl is-enabled {units}").stdout.split() == ["enabled"] * len(UNITS)
    assert host.run(f"systemctl is-active {units}").stdout.split() == ["active"] * len(UNITS)


def test_migration_listener_on_management_address_only(host):
    assert host.socket(f"tcp://{ADDRESS}:{PORT}").is_listening
    listeners = host.check_output(f"ss -Hltn 'sport = :{PORT}'").splitlines()
    assert [line.split()[3] for line in listeners] == [f"{ADDRESS}:{PORT}"]
    # Nothing on the TLS port yet, and QEMU's incoming migrations use the management address.
    assert host.check_output("ss -Hltn 'sport = :16514'") == ""
    assert f'migration_address = "{ADDRESS}"' in host.file("/etc/libvirt/qemu.conf").content_string


def test_migration_socket_requires_sasl(host):
    # root's client reads /etc/libvirt/auth.conf, as libvirtd does for peer-to-peer migration.
    good = host.run(f"virsh -c {MIGRATION_URI} hostname")
    assert good.rc == 0, good.stderr
    host.run_expect(
        [0],
        "printf '[credentials-x]\\nauthname=migration\\npassword=wrong\\n"
        "[auth-libvirt-default]\\ncredentials=x\\n' > /tmp/tenrec-wrong-auth.conf",
    )
    wrong = host.run(f"LIBVIRT_AUTH_FILE=/tmp/tenrec-wrong-auth.conf virsh -c {MIGRATION_URI} hostname </dev/null")
    host.run("rm -f /tmp/tenrec-wrong-auth.conf")
    assert wrong.rc != 0
    assert "authentication failed" in wrong.stderr.lower()
    secrets = host.file("/etc/libvirt/auth.conf")
    assert (secrets.user, secrets.group, secrets.mode) == ("root", "libvirt", 0o640)
    assert host.file("/etc/libvirt/passwd.db").mode == 0o600


def test_default_network_inactive_and_not_autostarted(host):
    info = host.check_output("virsh net-info default")
    assert re.search(r"^Active:\s+no$", info, re.MULTILINE), info
    assert re.search(r"^Autostart:\s+no$", info, re.MULTILINE), info
    assert not host.interface("virbr0").exists


def test_libvirt_group_uses_the_system_socket(host):
    socket = host.file("/run/libvirt/libvirt-sock")
    assert socket.is_socket and socket.group == "libvirt" and socket.mode == 0o660
    assert "libvirt" in host.user("tenrec-mol").groups
    assert not host.user("tenrec-no-such-user").exists
    member = host.run("su -s /bin/sh tenrec-mol -c 'virsh -c qemu:///system list --all'")
    assert member.rc == 0, member.stderr
    # A member can also reach the migration socket with the shared credentials (as nova will).
    member_tcp = host.run(f"su -s /bin/sh tenrec-mol -c 'virsh -c {MIGRATION_URI} hostname'")
    assert member_tcp.rc == 0, member_tcp.stderr
    outsider = host.run("su -s /bin/sh nobody -c 'virsh -c qemu:///system list --all'")
    assert outsider.rc != 0
    assert "permission denied" in outsider.stderr.lower()


WRAPPER = "/usr/local/bin/qemu-system-x86_64"


def test_qemu_wrapper_follows_the_datapath(host):
    # On the userspace datapath libvirtd's emulator is the wrapper that turns virtio-net's
    # checksum offload off; with the kernel datapath it is Debian's QEMU.
    datapath = host.file("/run/tenrec-molecule-ovs-datapath").content_string.strip()
    emulators = re.findall(r"<emulator>(\S+)</emulator>", host.check_output("virsh capabilities"))
    if datapath == "netdev":
        wrapper = host.file(WRAPPER)
        assert (wrapper.mode, wrapper.user) == (0o755, "root")
        assert "exec /usr/bin/qemu-system-x86_64 -global virtio-net-pci.csum=off" in wrapper.content_string
        assert WRAPPER in emulators, emulators
    else:
        assert not host.file(WRAPPER).exists
        assert WRAPPER not in emulators, emulators


DOMAIN = "tenrec-mol-guest"
GUEST_DIR = f"/var/lib/libvirt/images/{DOMAIN}"
CONSOLE_LOG = f"/var/log/libvirt/qemu/{DOMAIN}-console.log"
MARKER = "TENREC-GUEST-MARKER-7f3a"
# As Nova does it: a pty serial console that virtlogd copies into a file.
DOMAIN_XML = """<domain type='{virt_type}'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{dir}/vmlinuz</kernel>
    <initrd>{dir}/initramfs.gz</initrd>
    <cmdline>console=ttyS0 panic=-1</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='pty'>
      <log file='{log}' append='off'/>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <memballoon model='none'/>
  </devices>
</domain>
"""


@pytest.fixture
def guest(host):
    image = guest_image.build_guest(guest_image.marker_script(MARKER))
    host.run_expect([0], f"mkdir -p {GUEST_DIR}")
    for source, name in ((image.kernel, "vmlinuz"), (image.initramfs, "initramfs.gz")):
        copied = host.ansible("copy", f"src={source} dest={GUEST_DIR}/{name} mode=0644", check=False)
        assert not copied.get("failed"), copied
    virt_type = host.file("/run/tenrec-molecule-virt-type").content_string.strip()
    xml = DOMAIN_XML.format(virt_type=virt_type, name=DOMAIN, dir=GUEST_DIR, log=CONSOLE_LOG)
    host.run_expect([0], f"cat > {GUEST_DIR}/domain.xml <<'EOF'\n{xml}EOF")
    defined = host.run(f"virsh define {GUEST_DIR}/domain.xml")
    assert defined.rc == 0, defined.stderr
    yield virt_type
    host.run(f"virsh destroy {DOMAIN}")
    host.run(f"virsh undefine {DOMAIN}")
    host.run(f"rm -rf {GUEST_DIR} {CONSOLE_LOG}")


def test_emulated_guest_boots_and_prints_marker(host, guest):
    started = host.run(f"virsh start {DOMAIN}")
    assert started.rc == 0, started.stderr
    console = ""
    deadline = time.monotonic() + 180
    while MARKER not in console and time.monotonic() < deadline:
        time.sleep(2)
        console = host.run(f"cat {CONSOLE_LOG}").stdout
    assert MARKER in console, console[-3000:]
    # The kernel's own NIC modules loaded (issue 5's guests need them).
    assert "tenrec-guest: kernel" in console and "virtio_net" in console
    assert "tenrec-guest: insmod" not in console, console[-3000:]  # printed when a module fails
    assert host.check_output(f"virsh domstate {DOMAIN}") == "running"
    assert f"type='{guest}'" in host.check_output(f"virsh dumpxml {DOMAIN}")
    if host.file(WRAPPER).exists:
        # libvirt started the guest through the wrapper (its QEMU runs with the option).
        pid = host.check_output(f"cat /run/libvirt/qemu/{DOMAIN}.pid")
        argv = host.file(f"/proc/{pid}/cmdline").content.split(b"\0")
        assert b"virtio-net-pci.csum=off" in argv, argv[:12]
