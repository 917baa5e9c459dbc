"""Hypothesis strategies for the JSON Schema keywords Pexip's request schemas use ($ref to
definitions, oneOf, enum, type, properties, required, additionalProperties, items).

hypothesis-jsonschema would be the library for this, but its latest release (0.23.1) fails
against current hypothesis (``'many' object has no attribute 'more'`` on every schema), so the
fuzz tests use this instead; tests/emulator/http/test_emulator_fuzz.py checks that what it
draws validates against the schemas it was drawn from."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=40),
    "integer": st.integers(min_value=-(2**31), max_value=2**31),
    "number": st.integers(min_value=-(2**31), max_value=2**31)
    | st.floats(allow_nan=False, allow_infinity=False, width=32),
    "boolean": st.booleans(),
    "null": st.none(),
}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def strategy_for(
    schema: dict[str, Any], root: dict[str, Any] | None = None
) -> st.SearchStrategy[Any]:
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return st.one_of([strategy_for(s, root) for s in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([strategy_for({**schema, "type": k}, root) for k in kind])
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: strategy_for(v, root) for k, v in props.items() if k in required},
            optional={k: strategy_for(v, root) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        items = schema.get("items", {})
        return st.lists(strategy_for(items, root) if items else st.none(), max_size=5)
    if kind in _SCALARS:
        return _SCALARS[kind]
    return st.none() | st.booleans() | st.integers() | st.text(max_size=20)
