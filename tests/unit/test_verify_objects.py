"""The Swift rows' own arithmetic, checked against values Swift and python-swiftclient computed."""

from __future__ import annotations

import pytest

from tenrec.verify.core import CheckFailed
from tenrec.verify.objects import (
    WANTED_CAPABILITIES,
    expected_replicas,
    missing_capabilities,
    object_hash,
    split_storage_url,
    temp_url_signature,
)


def test_the_object_hash_is_swifts():
    # swift.common.utils.hash_path('AUTH_abc', 'cont', 'payload') with prefix 'pre', suffix 'suf'.
    assert object_hash("pre", "suf", "AUTH_abc", "cont", "payload") == "445085cf005c59c4e9a62544c73d0410"


def test_the_temp_url_signature_is_swiftclients():
    # swiftclient.utils.generate_temp_url(path, 1900000000, 'k3y', 'GET', absolute=True, digest='sha256').
    signature = temp_url_signature("k3y", "GET", 1900000000, "/v1/AUTH_abc/cont/payload")
    assert signature == "40060272b04652a368994d43017e755a573c747bbb88ed5b3e367e427f10a851"


def test_the_storage_url_gives_root_and_account():
    proxy = split_storage_url("http://10.0.0.10:8080/v1/AUTH_0123abc/")
    assert (proxy.root, proxy.account, proxy.storage_url) == (
        "http://10.0.0.10:8080",
        "AUTH_0123abc",
        "http://10.0.0.10:8080/v1/AUTH_0123abc",
    )
    with pytest.raises(CheckFailed, match="not of the form"):
        split_storage_url("http://10.0.0.10:8080/")


def test_replicas_follow_the_config_else_the_zones():
    assert expected_replicas(None, [1, 2]) == 2
    assert expected_replicas(None, [1, 2, 3, 4]) == 3
    assert expected_replicas(None, [1, 1]) == 1
    assert expected_replicas(2, [1, 2, 3]) == 2


def test_missing_capabilities_are_named():
    info = {name: {} for name in WANTED_CAPABILITIES if name != "s3api"} | {"swift": {"version": "2.38.3"}}
    assert missing_capabilities(info) == ["s3api"]
    assert missing_capabilities(info | {"s3api": {}}) == []
