"""`to_python_settings`: a mapping of settings rendered as a Python module (Django's settings).

Its documentation is in to_python_settings.yml beside this file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

SETTINGS_HEADER = "# Managed by tenrec: edits here are replaced by the next deploy."
SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _plain(value: object, where: str) -> object:
    """The value as plain Python data (Ansible's tagged strings and mappings become str and dict)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError(
            f"to_python_settings: {where} must be text, a number, a boolean, null, "
            f"or lists and mappings of those ({error})"
        ) from None


def to_python_settings(settings: object, header: str = SETTINGS_HEADER) -> str:
    """`NAME = literal` per setting, in the mapping's order; Python literals (True, None, '...')."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"to_python_settings: expected a mapping of settings, got {type(settings).__name__}")
    lines = [header, ""]
    for name, value in settings.items():
        if not isinstance(name, str) or not SETTING_NAME.match(name):
            raise AnsibleFilterError(
                f"to_python_settings: setting {name!r} is not a setting name (upper-case letters, digits and _)"
            )
        lines.append(f"{name} = {_plain(value, name)!r}")
    return "\n".join(lines) + "\n"


class FilterModule:
    """tenrec.cloud.to_python_settings."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"to_python_settings": to_python_settings}
