"""The compatibility gate: is a JSON Schema of contract v1 a widening of the released one?

A producer that validated against the released schema must still be accepted: so removing
a field or an event type, narrowing a type or a bound, removing an enum value or requiring
a new field is breaking (that is a new ``schema_version``, DESIGN §3). Adding an event type
or an optional field is additive. Alternatives are matched by their ``event_type`` const,
not by definition name, so restructuring ``$defs`` is not a change.

Only what can be proven a widening passes: a changed ``pattern``, ``format`` or any other
constraint keyword is reported, since no general check can show it accepts a superset.
"""

from __future__ import annotations

from typing import Any, Final

ANNOTATIONS: Final = frozenset(
    {"title", "description", "default", "examples", "$comment", "deprecated", "readOnly"}
)
_LOWER_BOUNDS: Final = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS: Final = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_HANDLED: Final = frozenset(
    {"type", "properties", "required", "enum", "const", "$ref", *_LOWER_BOUNDS, *_UPPER_BOUNDS}
)


def breaking_changes(released: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Every way ``current`` refuses an event ``released`` accepted (empty: compatible)."""
    before, after = _alternatives(released), _alternatives(current)
    problems = [f"event type {name!r} removed" for name in before if name not in after]
    for name in before.keys() & after.keys():
        problems += _Compare(released, current).schema(before[name], after[name], name)
    return sorted(problems)


def _alternatives(root: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each ``oneOf`` alternative keyed by its ``event_type`` const."""
    found = {}
    for alternative in root.get("oneOf", []):
        schema = _resolve(root, alternative)
        event_type = schema.get("properties", {}).get("event_type", {}).get("const")
        found[str(event_type)] = alternative
    return found


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


class _Compare:
    def __init__(self, released: dict[str, Any], current: dict[str, Any]) -> None:
        self._released = released
        self._current = current

    def schema(self, old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
        old, new = _resolve(self._released, old), _resolve(self._current, new)
        problems = _types(old, new, path) + _values(old, new, path) + _bounds(old, new, path)
        problems += _other_keywords(old, new, path)
        added = set(new.get("required", [])) - set(old.get("required", []))
        problems += [f"{path}: new required field {field!r}" for field in sorted(added)]
        for field, schema in old.get("properties", {}).items():
            if field not in new.get("properties", {}):
                problems.append(f"{path}: field {field!r} removed")
            else:
                problems += self.schema(schema, new["properties"][field], f"{path}.{field}")
        return problems


def _types(old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
    if "type" not in new:
        return []
    widened = _type_set(new["type"]) | (
        {"integer"} if "number" in _type_set(new["type"]) else set()
    )
    lost = _type_set(old.get("type", sorted(_ALL_TYPES))) - widened
    return [f"{path}: type narrowed (no longer {', '.join(sorted(lost))})"] if lost else []


_ALL_TYPES: Final = frozenset({"null", "boolean", "object", "array", "number", "string", "integer"})


def _type_set(value: str | list[str]) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def _values(old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
    problems = []
    if "enum" in new:
        allowed = old.get("enum", [old["const"]] if "const" in old else None)
        lost = [v for v in allowed or [] if v not in new["enum"]]
        if allowed is None or lost:
            problems.append(f"{path}: enum value(s) removed {lost or '(was unrestricted)'}")
    if "const" in new and ("const" not in old or old["const"] != new["const"]):
        problems.append(f"{path}: const changed to {new['const']!r}")
    return problems


def _bounds(old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
    problems = []
    for keyword in _LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            problems.append(f"{path}: {keyword} raised to {new[keyword]}")
    for keyword in _UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            problems.append(f"{path}: {keyword} lowered to {new[keyword]}")
    return problems


def _other_keywords(old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
    """Any other constraint that appeared or changed; dropping one only widens."""
    return [
        f"{path}: {keyword} changed (cannot prove it only widens)"
        for keyword, value in new.items()
        if keyword not in _HANDLED | ANNOTATIONS and old.get(keyword) != value
    ]
