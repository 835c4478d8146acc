"""Filters that build OpenStack service config files in layers and render them as INI.

`layer_config` merges a role's config with the operator's overrides (all services, one
service, then the same two per host); `to_ini` renders one file for oslo.config.
Their documentation is in layer_config.yml and to_ini.yml beside this file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

OVERRIDES_VAR = "tenrec_config_overrides"
HOST_OVERRIDES_VAR = "tenrec_host_config_overrides"
ROLE_LAYER = "role_config"
INI_HEADER = f"# Managed by tenrec: put changes in {OVERRIDES_VAR}, not here."

FILES_SHAPE = "a mapping of file names to sections ({file: {section: {option: value}}})"
SECTIONS_SHAPE = "a mapping of sections to options ({section: {option: value}})"
OPTIONS_SHAPE = "a mapping of options to values ({option: value}), or null to remove the section"
VALUE_SHAPE = "a string, number, boolean, a list of those, or null to remove the option"

Scalar = str | int | float | bool
Value = Scalar | list[Scalar]
Sections = dict[str, dict[str, Value]]
Files = dict[str, Sections]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _join(path: str, key: object) -> str:
    """tenrec_config_overrides + keystone.conf -> tenrec_config_overrides['keystone.conf']."""
    if isinstance(key, str):
        return f"{path}.{key}" if _IDENTIFIER.match(key) else f"{path}['{key}']"
    return f"{path}[{key!r}]"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string '{value}'"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _mapping(value: object, path: str, shape: str, hint: str = "") -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise AnsibleFilterError(f"{path} must be {shape}; got {_kind(value)}{hint}")
    return value


def _name(key: object, path: str, what: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise AnsibleFilterError(f"{path}: {what} must be non-empty text; got {_kind(key)} (quote it in YAML)")
    return key


def _file_name(key: object, path: str) -> str:
    name = _name(key, path, "a file name")
    if "/" in name or name in (".", ".."):
        raise AnsibleFilterError(f"{path}: '{name}' is not a plain file name; give the name only, e.g. keystone.conf")
    return name


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _copy_value(value: object, path: str) -> Value:
    """The option's value, copied so the result shares nothing with the inputs."""
    if _is_scalar(value):
        return value  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if not _is_scalar(item):
                raise AnsibleFilterError(f"{path}[{index}] must be a string, number or boolean; got {_kind(item)}")
        return list(value)
    raise AnsibleFilterError(f"{path} must be {VALUE_SHAPE}; got {_kind(value)}")


def _merge_sections(result: Files, file_name: str, sections: object, path: str, hint: str = "") -> None:
    """Merge {section: {option: value}} into one file; null removes an option or a section."""
    target = result.setdefault(file_name, {})
    for section_key, options in _mapping(sections, path, SECTIONS_SHAPE, hint).items():
        section_path = _join(path, section_key)
        section = _name(section_key, section_path, "a section name")
        if options is None:
            target.pop(section, None)
            continue
        values = target.setdefault(section, {})
        for option_key, value in _mapping(options, section_path, OPTIONS_SHAPE, hint).items():
            option_path = _join(section_path, option_key)
            option = _name(option_key, option_path, "an option name")
            if value is None:
                values.pop(option, None)
            else:
                values[option] = _copy_value(value, option_path)


def _merge_files(result: Files, files: object, path: str, example: str = "") -> None:
    """Merge {file: {section: {option: value}}}; null removes a file."""
    for file_key, sections in _mapping(files, path, FILES_SHAPE).items():
        file_path = _join(path, file_key)
        file_name = _file_name(file_key, file_path)
        if sections is None:
            result.pop(file_name, None)
            continue
        # A "file" without a dot is most likely a section written directly under the service.
        hint = f" (the file comes first: {example})" if example and "." not in file_name else ""
        _merge_sections(result, file_name, sections, file_path, hint)


def layer_config(
    role_config: object,
    service: str,
    main_file: str,
    overrides: object = None,
    host_overrides: object = None,
) -> Files:
    """A service's config files: the role's, then each override layer merged over it.

    Layers, later ones winning per option: role_config; overrides.all (into main_file
    only); overrides[service]; host_overrides.all (main_file); host_overrides[service].
    """
    for label, text in (("service", service), ("main_file", main_file)):
        if not isinstance(text, str) or not text:
            raise AnsibleFilterError(f"layer_config: {label} must be non-empty text; got {_kind(text)}")
    result: Files = {}
    _merge_files(result, role_config, ROLE_LAYER)
    for var, layers in ((OVERRIDES_VAR, overrides), (HOST_OVERRIDES_VAR, host_overrides)):
        if layers is None:
            continue
        shape = f"a mapping whose keys are 'all' and service names such as '{service}'"
        found = _mapping(layers, var, shape)
        if found.get("all") is not None:
            _merge_sections(result, main_file, found["all"], _join(var, "all"))
        if found.get(service) is not None:
            example = f"{service}: {{{main_file}: {{DEFAULT: {{debug: true}}}}}}"
            _merge_files(result, found[service], _join(var, service), example)
    return result


def _ini_value(value: Scalar, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if "\n" in value or "\r" in value:
        raise AnsibleFilterError(f"{where}: the value has a line break, which oslo.config does not read reliably")
    # oslo.config strips the value and one pair of matching quotes around it; quoting keeps both intact.
    if value != value.strip() or (value[:1] in ('"', "'") and value[0] == value[-1]):
        return f'"{value}"'
    return value


def _ini_option_lines(section: str, option: object, value: object) -> list[str]:
    where = f"to_ini: [{section}] {option}"
    if not isinstance(option, str) or not option.strip():
        raise AnsibleFilterError(f"to_ini: [{section}]: an option name must be non-empty text; got {_kind(option)}")
    if option != option.strip() or option[0] in "#;[" or any(c in option for c in "=:\n\r"):
        raise AnsibleFilterError(f"{where}: not a usable option name (no '=', ':', line breaks or edge spaces)")
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    lines = []
    for item in items:
        if not _is_scalar(item):
            raise AnsibleFilterError(f"{where}: a value must be {VALUE_SHAPE}; got {_kind(item)}")
        lines.append(f"{option} = {_ini_value(item, where)}".rstrip())
    return lines


def to_ini(sections: object) -> str:
    """Render {section: {option: value}} as an oslo.config file, [DEFAULT] first."""
    found = _mapping(sections, "to_ini: the input", SECTIONS_SHAPE)
    names = [name for name in found if name == "DEFAULT"] + [name for name in found if name != "DEFAULT"]
    blocks = []
    for name in names:
        if not isinstance(name, str) or not name or name != name.strip() or "\n" in name or "\r" in name:
            raise AnsibleFilterError(f"to_ini: {_kind(name)} is not a usable section name")
        options = found[name]
        if options is None:
            continue
        lines = [f"[{name}]"]
        for option, value in _mapping(options, f"to_ini: [{name}]", OPTIONS_SHAPE).items():
            lines.extend(_ini_option_lines(name, option, value))
        blocks.append("\n".join(lines))
    return "\n\n".join([INI_HEADER, *blocks]) + "\n"


class FilterModule:
    """tenrec.cloud.layer_config and tenrec.cloud.to_ini."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"layer_config": layer_config, "to_ini": to_ini}
