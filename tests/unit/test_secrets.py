"""Secrets: generated once, mode 0600, never overwritten, rotated one at a time, never printed."""

from __future__ import annotations

import stat

import pytest
import yaml

from tenrec.cli import main
from tenrec.secrets import SECRET_NAMES, SecretsError, ensure_secrets, read_secrets, rotate_secret


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_with_mode_0600_and_all_names(tmp_path):
    path = tmp_path / "secrets.yml"
    added = ensure_secrets(path)
    assert sorted(added) == sorted(SECRET_NAMES)
    assert mode(path) == 0o600
    values = read_secrets(path)
    assert set(values) == set(SECRET_NAMES)
    assert len(set(values.values())) == len(values), "every secret is different"
    assert all(len(v) >= 32 for v in values.values())


def test_values_are_safe_on_command_lines_and_in_urls(tmp_path):
    # Generate many: a leading '-' once made rabbitmqctl take a password for an option.
    for round_ in range(20):
        path = tmp_path / f"secrets-{round_}.yml"
        ensure_secrets(path)
        for name, value in read_secrets(path).items():
            assert value.isalnum(), name


def test_special_formats(tmp_path):
    path = tmp_path / "secrets.yml"
    ensure_secrets(path)
    values = read_secrets(path)
    assert values["rabbitmq_erlang_cookie"].isalpha() and values["rabbitmq_erlang_cookie"].isupper()
    assert len(values["heat_auth_encryption_key"]) == 32


def test_never_overwritten(tmp_path):
    path = tmp_path / "secrets.yml"
    ensure_secrets(path)
    before = path.read_bytes()
    assert ensure_secrets(path) == []
    assert path.read_bytes() == before


def test_only_missing_names_are_added(tmp_path):
    path = tmp_path / "secrets.yml"
    ensure_secrets(path)
    data = yaml.safe_load(path.read_text())
    kept = data["tenrec_secrets"]["keystone_admin_password"]
    del data["tenrec_secrets"]["memcache_secret_key"]
    path.write_text(yaml.safe_dump(data))
    path.chmod(0o600)
    assert ensure_secrets(path) == ["memcache_secret_key"]
    values = read_secrets(path)
    assert values["keystone_admin_password"] == kept
    assert mode(path) == 0o600


def test_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "secrets.yml"
    ensure_secrets(path)
    path.chmod(0o644)
    with pytest.raises(SecretsError, match="chmod 600"):
        read_secrets(path)


def test_rotate_changes_one_value(tmp_path):
    path = tmp_path / "secrets.yml"
    ensure_secrets(path)
    before = read_secrets(path)
    rotate_secret(path, "database_nova_password")
    after = read_secrets(path)
    assert after["database_nova_password"] != before["database_nova_password"]
    assert {k: v for k, v in after.items() if k != "database_nova_password"} == {
        k: v for k, v in before.items() if k != "database_nova_password"
    }
    assert mode(path) == 0o600


def test_rotate_unknown_name(tmp_path):
    path = tmp_path / "secrets.yml"
    ensure_secrets(path)
    with pytest.raises(SecretsError, match="unknown secret"):
        rotate_secret(path, "no_such_secret")


@pytest.mark.parametrize("name", ["heat_auth_encryption_key", "swift_hash_path_prefix", "swift_hash_path_suffix"])
def test_secrets_that_stored_data_depends_on_are_not_rotated(tmp_path, name):
    path = tmp_path / "secrets.yml"
    ensure_secrets(path)
    before = read_secrets(path)
    with pytest.raises(SecretsError, match=f"{name} cannot be rotated: .*stays as it is"):
        rotate_secret(path, name)
    assert read_secrets(path) == before


def test_heat_auth_encryption_key_has_the_32_characters_heat_requires(tmp_path):
    path = tmp_path / "secrets.yml"
    ensure_secrets(path)
    assert len(read_secrets(path)["heat_auth_encryption_key"]) == 32


def test_cli_never_prints_values(tmp_path, capsys):
    config = tmp_path / "tenrec.yml"
    config.write_text((__import__("pathlib").Path(__file__).parents[2] / "inventory/aio/tenrec.yml").read_text())
    assert main(["inventory", "-c", str(config)]) == 0
    secrets_file = tmp_path / ".tenrec" / "secrets.yml"
    values = read_secrets(secrets_file)
    assert main(["secrets", "list", "-c", str(config)]) == 0
    assert main(["secrets", "rotate", "keystone_admin_password", "-c", str(config)]) == 0
    rotated = read_secrets(secrets_file)["keystone_admin_password"]
    out = capsys.readouterr()
    text = out.out + out.err
    assert "keystone_admin_password" in text
    for value in [*values.values(), rotated]:
        assert value not in text
