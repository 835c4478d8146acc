"""Swift on two storage nodes (the first also the controller): the proxy on the management
address, the servers and rsync on the storage address, each object on both nodes' disks,
read back with the plain CLI and through S3, and still read while one node's servers are down."""

import hashlib
import json
import os
import time
from pathlib import Path

import testinfra
import yaml

from tenrec.verify.objects import missing_capabilities, s3_client
from tests.node_checks import assert_listens_only_on

testinfra_hosts = ["mol-swift-1"]

PROXY = "10.201.13.11"
NODES = {"mol-swift-1": "10.201.13.11", "mol-swift-2": "10.201.13.12"}
OS = "openstack --os-cloud tenrec"
SERVERS = ("swift-account-server", "swift-container-server", "swift-object-server")


def node(pytestconfig, name):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=pytestconfig.option.ansible_inventory)


def secrets():
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets.yml"
    return yaml.safe_load(path.read_text())["tenrec_secrets"]


def test_servers_listen_where_they_should(pytestconfig):
    assert_listens_only_on(node(pytestconfig, "mol-swift-1"), PROXY, 8080)
    for name, address in NODES.items():
        host = node(pytestconfig, name)
        for port in (6200, 6201, 6202, 873):
            assert_listens_only_on(host, address, port)
        mount = host.mount_point("/srv/node/file1")
        assert mount.exists and mount.filesystem == "xfs", name
        assert host.file("/srv/node/file1").user == "swift", name
        for ring in ("account", "container", "object"):
            conf = host.file(f"/etc/swift/{ring}.ring.gz")
            assert (conf.user, conf.group, conf.mode) == ("root", "swift", 0o640), (name, ring)


def test_catalog_and_capabilities(host):
    endpoints = json.loads(host.check_output(f"{OS} endpoint list --service object-store -f json"))
    assert sorted(e["Interface"] for e in endpoints) == ["admin", "internal", "public"]
    assert all(e["URL"].endswith(":8080/v1/AUTH_%(project_id)s") for e in endpoints)
    info = json.loads(host.check_output(f"curl -sf http://{PROXY}:8080/info"))
    assert missing_capabilities(info) == []


def put_object(host, container, size_mib=10):
    host.check_output(f"head -c {size_mib}M /dev/urandom > /tmp/mol-object")
    digest = host.check_output("sha256sum /tmp/mol-object").split()[0]
    host.check_output(f"{OS} container create {container}")
    host.check_output(f"cd /tmp && {OS} object create {container} mol-object")
    return digest


def read_digest(host, container):
    host.check_output(f"rm -f /tmp/mol-back && {OS} object save --file /tmp/mol-back {container} mol-object")
    return host.check_output("sha256sum /tmp/mol-back").split()[0]


def test_an_object_is_on_both_disks_and_survives_a_node(host, pytestconfig):
    container = f"mol-{int(time.time())}"
    digest = put_object(host, container)
    try:
        assert read_digest(host, container) == digest
        found = {}
        for name in NODES:
            files = node(pytestconfig, name).check_output(
                "find /srv/node/file1/objects -name '*.data' -size +9M -newer /etc/swift/object.ring.gz"
            )
            found[name] = [line for line in files.splitlines() if line]
        assert all(len(files) >= 1 for files in found.values()), found
        other = node(pytestconfig, "mol-swift-2")
        other.check_output("systemctl stop " + " ".join(SERVERS))
        try:
            assert read_digest(host, container) == digest
        finally:
            other.check_output("systemctl start " + " ".join(SERVERS))
    finally:
        host.run(f"{OS} object delete {container} mol-object; {OS} container delete {container}")


def test_s3_with_the_operators_ec2_credential(host):
    keys = secrets()
    client = s3_client(f"http://{PROXY}:8080", "RegionOne", keys["ec2_access_key"], keys["ec2_secret_key"])
    bucket = f"mol-s3-{int(time.time())}"
    payload = os.urandom(10 * 1024 * 1024)
    client.create_bucket(Bucket=bucket)
    try:
        client.put_object(Bucket=bucket, Key="through-s3", Body=payload)
        back = client.get_object(Bucket=bucket, Key="through-s3")["Body"].read()
        assert hashlib.sha256(back).digest() == hashlib.sha256(payload).digest()
        # The same object through the Swift API.
        listing = json.loads(host.check_output(f"{OS} object list {bucket} -f json"))
        assert [item["Name"] for item in listing] == ["through-s3"]
    finally:
        client.delete_object(Bucket=bucket, Key="through-s3")
        client.delete_bucket(Bucket=bucket)
