"""keystone_catalog: two registrations running at once both end with the shared objects."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import openstack
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "collections"))  # the module imports the collection's module_utils
_spec = importlib.util.spec_from_file_location("keystone_catalog", REPO / "plugins/modules/keystone_catalog.py")
assert _spec and _spec.loader
keystone_catalog = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(keystone_catalog)


def test_an_object_made_meanwhile_by_another_registration_is_found():
    def create():
        raise openstack.exceptions.ConflictException("Conflict occurred attempting to store role - Duplicate entry")

    assert keystone_catalog.created_or_found(create, lambda: "the service role") == "the service role"


def test_a_conflict_over_an_object_that_cannot_be_found_is_reported():
    def create():
        raise openstack.exceptions.ConflictException("Conflict")

    with pytest.raises(openstack.exceptions.ConflictException):
        keystone_catalog.created_or_found(create, lambda: None)


def test_a_new_object_is_returned_as_created():
    assert keystone_catalog.created_or_found(lambda: "created", lambda: pytest.fail("no look-up needed")) == "created"


def test_more_services_get_the_hosts_of_the_main_endpoints_with_their_own_port_and_path():
    assert (
        keystone_catalog.moved("http://192.0.2.10:8004/v1/%(project_id)s", 8000, "/v1") == "http://192.0.2.10:8000/v1"
    )
    assert keystone_catalog.moved("http://cloud.example.org:8004", 8000, "") == "http://cloud.example.org:8000"
