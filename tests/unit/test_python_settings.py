"""Tests for plugins/filter/python_settings.py: Django settings rendered as Python."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

_PATH = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "python_settings.py"
_SPEC = importlib.util.spec_from_file_location("python_settings", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
python_settings = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(python_settings)
to_python_settings = python_settings.to_python_settings

SETTINGS = {
    "DEBUG": False,
    "SECRET_KEY": 'it\'s "quoted"\nand\\slashed',
    "ALLOWED_HOSTS": ["10.0.0.1", "ctl1"],
    "CACHES": {"default": {"LOCATION": ["a:11211"], "OPTIONS": {"ignore_exc": True, "timeout": 2}}},
    "LOGIN_URL": None,
    "RATIO": 1.5,
}


def test_the_module_reads_back_as_the_same_settings():
    text = to_python_settings(SETTINGS)
    assert text.startswith("# Managed by tenrec: edits here are replaced by the next deploy.\n")
    assert "DEBUG = False\n" in text and "LOGIN_URL = None\n" in text
    namespace: dict = {}
    exec(compile(text, "local_settings.py", "exec"), namespace)
    assert {name: namespace[name] for name in SETTINGS} == SETTINGS


def test_settings_keep_their_order():
    text = to_python_settings({"B": 1, "A": 2})
    assert text.index("B = 1") < text.index("A = 2")


@pytest.mark.parametrize("name", ["debug", "1DEBUG", "A-B", "A B", ""])
def test_a_name_that_is_no_setting_fails_naming_it(name):
    with pytest.raises(AnsibleFilterError, match="is not a setting name"):
        to_python_settings({name: 1})


def test_a_value_that_is_not_plain_data_fails_naming_it():
    with pytest.raises(AnsibleFilterError, match="OBJ must be text"):
        to_python_settings({"OBJ": object()})


def test_not_a_mapping_fails():
    with pytest.raises(AnsibleFilterError, match="expected a mapping"):
        to_python_settings(["DEBUG"])
