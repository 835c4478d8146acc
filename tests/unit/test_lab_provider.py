"""The lab provider: what keeps a node like a real machine across restarts."""


def test_each_node_interface_keeps_one_locally_administered_mac():
    from tenrec.lab.provider import node_mac  # noqa: PLC0415

    macs = {node_mac("itest", node, net) for node in ("ctl1", "net1") for net in ("management", "tunnel", "external")}
    assert len(macs) == 6, "one per node and network"
    assert node_mac("itest", "net1", "external") == node_mac("itest", "net1", "external")
    assert node_mac("itest", "net1", "external") != node_mac("other", "net1", "external")
    for mac in macs:
        first = int(mac.split(":")[0], 16)
        assert first & 0b10 and not first & 0b1, f"{mac}: locally administered, unicast"
        assert len(mac.split(":")) == 6


def test_a_node_boots_with_the_management_networks_default_route_only(tmp_path):
    """The boot command's script, run with a stand-in `ip` that shows podman's routes and
    records what is deleted; its last step, exec /sbin/init, is the real systemd's."""
    import subprocess  # noqa: PLC0415

    from tenrec.lab.provider import boot_command  # noqa: PLC0415

    routes = [
        "default via 10.89.2.1 dev eth2 proto static metric 100",
        "default via 10.89.0.1 dev eth0 proto static metric 100",
    ]
    fake = tmp_path / "ip"
    fake.write_text(
        "#!/bin/sh\n"
        f"if [ \"$3\" = show ]; then printf '%s\\n' '{routes[0]}' '{routes[1]}'; exit 0; fi\n"
        f'echo "$*" >> {tmp_path}/deleted\n'
    )
    fake.chmod(0o755)
    argv = boot_command("10.89.0.1")
    assert argv[:2] == ["/bin/sh", "-c"] and argv[2].endswith("exec /sbin/init")
    script = argv[2].replace("exec /sbin/init", "echo booted")
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        check=False,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout == "booted\n", result.stderr
    assert (tmp_path / "deleted").read_text() == "route del default via 10.89.2.1 dev eth2\n"
