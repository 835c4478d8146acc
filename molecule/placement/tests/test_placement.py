"""Placement: the API on the management address, registered, answering the client."""

import json

from tests.node_checks import assert_listens_only_on, assert_running

ADDRESS = "10.201.9.11"
OS = "openstack --os-cloud tenrec"


def test_api_running_on_management_address_only(host):
    assert_running(host, "placement-api")
    assert_listens_only_on(host, ADDRESS, 8778)


def test_registered_in_catalog(host):
    endpoints = json.loads(host.check_output(f"{OS} endpoint list --service placement -f json"))
    assert sorted(e["Interface"] for e in endpoints) == ["admin", "internal", "public"]


def test_versions_document(host):
    versions = json.loads(host.check_output(f"curl -sf http://{ADDRESS}:8778/"))
    assert versions["versions"][0]["id"] == "v1.0"


def test_resource_provider_list_answers(host):
    # No compute node yet: an empty list, and a working round trip through keystone.
    providers = json.loads(host.check_output(f"{OS} resource provider list -f json"))
    assert providers == []


def test_database_schema_present(host):
    tables = host.check_output("mariadb -N -B -e 'SHOW TABLES' placement").split()
    assert "resource_providers" in tables
