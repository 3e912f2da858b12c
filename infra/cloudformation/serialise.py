"""The template as JSON or as YAML."""

from __future__ import annotations

import json
import re
from typing import Any

from infra.cloudformation.names import Json


def to_json(template: Json) -> str:
    return json.dumps(template, indent=2) + "\n"


def to_yaml(template: Json) -> str:
    """Block-style YAML without a YAML dependency: every string is JSON-quoted, which YAML
    reads identically, so intrinsics stay in their long ``Fn::`` form and nothing is coerced.
    """
    return "\n".join(_yaml_lines(template, 0)) + "\n"


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines = []
        for key, item in value.items():
            label = f"{pad}{_yaml_key(key)}:"
            if _is_scalar(item):
                lines.append(f"{label} {_yaml_scalar(item)}")
            else:
                lines.append(label)
                lines.extend(_yaml_lines(item, indent + 2))
        return lines
    if isinstance(value, list) and value:
        lines = []
        for item in value:
            if _is_scalar(item):
                lines.append(f"{pad}- {_yaml_scalar(item)}")
            else:
                nested = _yaml_lines(item, indent + 2)
                lines.append(f"{pad}- {nested[0].lstrip()}")
                lines.extend(nested[1:])
        return lines
    return [f"{pad}{_yaml_scalar(value)}"]


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list)) or not value


def _yaml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_]+", key) else json.dumps(key)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(value)
