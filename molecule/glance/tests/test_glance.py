"""Glance: the API on the management address, the file store, uploads and imports that
come back byte for byte."""

import json
import time

from tests.node_checks import assert_listens_only_on, assert_running

ADDRESS = "10.201.8.11"
OS = "openstack --os-cloud tenrec"


def wait_active(host, image_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = host.check_output(f"{OS} image show {image_id} -f value -c status")
        if status == "active":
            return
        time.sleep(1)
    raise AssertionError(f"image {image_id} is still {status} after {timeout}s")


def test_api_running_on_management_address_only(host):
    assert_running(host, "glance-api")
    assert_listens_only_on(host, ADDRESS, 9292)


def test_registered_in_catalog(host):
    endpoints = json.loads(host.check_output(f"{OS} endpoint list --service image -f json"))
    assert sorted(e["Interface"] for e in endpoints) == ["admin", "internal", "public"]


def test_config_readable_by_glance_only(host):
    for name in ("glance-api.conf", "glance-api-paste.ini"):
        conf = host.file(f"/etc/glance/{name}")
        assert (conf.user, conf.group, conf.mode) == ("root", "glance", 0o640)


def upload_and_compare(host, how):
    host.check_output("head -c 1048576 /dev/urandom > /tmp/image.raw")
    image_id = host.check_output(
        f"{OS} image create {how} --disk-format raw --container-format bare --file /tmp/image.raw "
        f"mol-{how.strip('-') or 'upload'} -f value -c id"
    )
    try:
        wait_active(host, image_id)
        assert host.file(f"/var/lib/glance/images/{image_id}").size == 1048576
        host.check_output(f"{OS} image save --file /tmp/image.back {image_id}")
        sums = host.check_output("sha256sum /tmp/image.raw /tmp/image.back").split()
        assert sums[0] == sums[2]
    finally:
        host.run(f"{OS} image delete {image_id}")
        host.run("rm -f /tmp/image.raw /tmp/image.back")


def test_upload_download_same_bytes(host):
    upload_and_compare(host, "")


def test_import_glance_direct(host):
    upload_and_compare(host, "--import")
