"""Read a deployment config and report every problem in it at once."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tenrec.config.model import Deployment
from tenrec.config.problems import FILE_PATH, ConfigError, Problem, format_path, unique_sorted
from tenrec.config.rules import check_rules

# What a well-formed value looks like, for fields whose rule is a regular expression.
PATTERN_HINTS = {
    "name": "lower-case letters, digits and '-', starting with a letter, at most 31 characters",
    "user": "a Unix user name, e.g. root or debian",
    "physical_network": "letters, digits, '_' and '-', e.g. physnet1",
}


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; an operator wants to know."""

    duplicate_keys: list[Problem]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                line = key_node.start_mark.line + 1
                self.duplicate_keys.append(
                    Problem(
                        FILE_PATH,
                        f"line {line}: key '{key}' appears twice in one mapping",
                        "keep one of them",
                    )
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> tuple[Any, list[Problem]]:
    loader = _UniqueKeyLoader(text)
    loader.duplicate_keys = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(FILE_PATH, f"{where}not valid YAML ({reason})", "correct the YAML syntax")]
    finally:
        loader.dispose()
    return data, loader.duplicate_keys


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that owns the field at `loc`, to list its known fields."""
    current: Any = Deployment
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


def _problem_from_error(error: Any) -> Problem:
    loc = tuple(error["loc"])
    path = format_path(loc)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    last = str(loc[-1]) if loc else ""
    if kind == "tenrec_invalid":
        return Problem(path, error["msg"], ctx["fix"])
    if kind == "missing":
        return Problem(path, "missing (required)", f"add `{last}:`")
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1])
        known = ", ".join(owner.model_fields) if owner else ""
        return Problem(
            path,
            f"unknown field '{last}'",
            f"remove it or correct its spelling; known here: {known}",
        )
    if kind == "literal_error":
        return Problem(path, f"'{given}' is not allowed here", f"use one of {ctx['expected']}")
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(last, f"text matching {ctx.get('pattern')}")
        return Problem(path, f"'{given}' is not of the allowed form", f"use {hint}")
    if kind == "too_short":
        return Problem(path, "must not be empty", "list at least one entry")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return Problem(path, "must be a mapping of fields", "write `key: value` lines under it")
    if kind == "list_type":
        return Problem(path, "must be a list", "write a YAML list, e.g. `[a, b]` or `- a` lines")
    return Problem(path, error["msg"], "correct the value as the message says")


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    # YAML reads `release: 2026.2` as a number; accept it as the text it looks like.
    if isinstance(data.get("release"), int | float):
        data = {**data, "release": str(data["release"])}
    return data


def validate(data: Any) -> tuple[Deployment | None, list[Problem]]:
    """Validate parsed data; the model only when there is no problem at all."""
    if not isinstance(data, dict):
        return None, [Problem(FILE_PATH, "the config must be a mapping of fields", "start from a sample config")]
    data = _normalize(data)
    problems: list[Problem] = []
    model: Deployment | None = None
    try:
        model = Deployment.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problem_from_error(e) for e in exc.errors(include_url=False))
    problems.extend(check_rules(data))
    return (model if not problems else None), unique_sorted(problems)


def load_text(text: str, source: str = "<text>") -> Deployment:
    data, problems = parse_yaml(text)
    model: Deployment | None = None
    if data is not None or not problems:
        model, more = validate(data)
        problems = unique_sorted([*problems, *more])
    if problems or model is None:
        raise ConfigError(source, problems)
    return model


def load_config(path: Path) -> Deployment:
    """Load and validate; raises ConfigError carrying every problem found."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path), [Problem(FILE_PATH, f"{path} does not exist", "pass the right --config path")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            str(path),
            [Problem(FILE_PATH, f"cannot read {path}: {reason}", "make it a readable UTF-8 file")],
        ) from None
    return load_text(text, str(path))
