"""Every module's documentation parses: ansible-doc and ansible-lint only warn on a broken one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

MODULES = sorted((Path(__file__).parents[2] / "plugins" / "modules").glob("*.py"))
DOC_NAMES = ("DOCUMENTATION", "EXAMPLES", "RETURN")


def doc_strings(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in DOC_NAMES and isinstance(node.value, ast.Constant):
                found[name] = str(node.value.value)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_documentation_is_yaml(path: Path) -> None:
    docs = doc_strings(path)
    assert "DOCUMENTATION" in docs, f"{path.name} has no DOCUMENTATION"
    for name, text in docs.items():
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError as error:
            pytest.fail(f"{path.name} {name} is not YAML: {error}")
        assert parsed, f"{path.name} {name} is empty"
    documentation = yaml.safe_load(docs["DOCUMENTATION"])
    assert documentation["module"] == path.stem
