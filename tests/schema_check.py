"""Validate payloads against Pexip's own JSON schemas, the way Pexip's validators do.

The schemas are read from ``../shared/reference/infinity-schemas`` (or ``$PEXBOT_SCHEMAS``);
nothing of them is copied into the project. Pexip's validators were compiled with ajv
``removeAdditional: "failing"``: unknown keys are deleted, not rejected. ``strip_unknown``
reproduces that before a standard Draft 6 validation.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

PREFIX = "/api/client/v2/conferences/{conferenceAlias}"


def schemas_dir() -> Path:
    env = os.environ.get("PEXBOT_SCHEMAS")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "reference" / "infinity-schemas"
        if candidate.is_dir():
            return candidate
        sibling = parent.parent / "shared" / "reference" / "infinity-schemas"
        if sibling.is_dir():
            return sibling
    raise FileNotFoundError(
        "Pexip schemas not found: set PEXBOT_SCHEMAS to the infinity-schemas directory"
    )


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def strip_unknown(data: Any, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """Return a copy of ``data`` with keys the schema does not allow deleted (ajv 'failing')."""
    schema = _resolve(schema, root)
    if "oneOf" in schema or "anyOf" in schema:
        branches: list[dict[str, Any]] = schema.get("oneOf") or schema.get("anyOf") or []
        attempts: list[tuple[int, Any]] = []
        for branch in branches:
            stripped = strip_unknown(data, branch, root)
            validator = jsonschema.Draft6Validator(
                {**_resolve(branch, root), "definitions": root.get("definitions", {})}
            )
            errors = sum(1 for _ in validator.iter_errors(stripped))
            if not errors:
                return stripped
            attempts.append((errors, stripped))
        # Invalid under every branch: keep the closest branch's stripping, so the errors
        # reported are about what is wrong, not about unknown keys ajv would have removed.
        return min(attempts, key=lambda a: a[0])[1] if attempts else data
    if isinstance(data, dict) and schema.get("type") in ("object", None):
        props = schema.get("properties", {})
        additional = schema.get("additionalProperties", True)
        out = {}
        for key, value in data.items():
            if key in props:
                out[key] = strip_unknown(value, props[key], root)
            elif additional is False:
                continue
            elif isinstance(additional, dict):
                sub = strip_unknown(value, additional, root)
                checker = jsonschema.Draft6Validator(
                    {**_resolve(additional, root), "definitions": root.get("definitions", {})}
                )
                if checker.is_valid(sub):
                    out[key] = sub
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(data, list) and "items" in schema and isinstance(schema["items"], dict):
        return [strip_unknown(item, schema["items"], root) for item in data]
    return copy.deepcopy(data)


@dataclass
class Endpoint:
    function: str
    method: str
    template: str
    regex: re.Pattern[str]
    body_validator: str | None
    responses: dict[int, tuple[str, str]]  # status -> (validator, contentType)


@dataclass
class SchemaBook:
    directory: Path = field(default_factory=schemas_dir)

    @cached_property
    def index(self) -> dict[str, Any]:
        index: dict[str, Any] = json.loads((self.directory / "index.json").read_text())
        return index

    @cached_property
    def endpoints(self) -> list[Endpoint]:
        out = []
        for ep in self.index["endpoints"]:
            template = ep["path"].split("?")[0]
            if not template.startswith(PREFIX):
                continue
            rest = template[len(PREFIX) :]
            pattern = re.escape(rest)
            pattern = re.sub(r"\\\{[A-Za-z]+\\\}", "[^/]+", pattern)
            regex = re.compile("^/api/client/v2/conferences/[^/]+" + pattern + "$")
            responses = {
                int(r["status"]): (r["validator"], r["contentType"]) for r in ep["responses"]
            }
            body = ep["requestBody"]["validator"] if ep.get("requestBody") else None
            out.append(Endpoint(ep["function"], ep["method"], rest, regex, body, responses))
        # Literal paths before templated ones, so /breakouts/empty beats /breakouts/{id}/...
        out.sort(key=lambda e: e.template.count("{"))
        return out

    def match(self, method: str, path: str, body: Any = None) -> Endpoint | None:
        candidates = [e for e in self.endpoints if e.method == method and e.regex.match(path)]
        if len(candidates) > 1 and isinstance(body, dict):
            # /calls is shared by the WebRTC and RTMP wrappers: pick by call_type.
            if body.get("call_type") == "RTMP":
                candidates = [c for c in candidates if "Rtmp" in c.function] or candidates
            else:
                candidates = [c for c in candidates if "Rtmp" not in c.function] or candidates
        return candidates[0] if candidates else None

    def schema(self, validator: str) -> dict[str, Any]:
        return self._schemas[validator]

    @cached_property
    def _schemas(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, meta in self.index["validators"].items():
            out[name] = json.loads((self.directory / meta["file"]).read_text())
        return out

    def errors(self, validator: str, data: Any) -> list[str]:
        """Validation errors of ``data`` against ``validator`` after stripping unknown keys."""
        schema = self.schema(validator)
        stripped = strip_unknown(data, schema, schema)
        checker = jsonschema.Draft6Validator(schema)
        # A oneOf/anyOf error only says "not valid under any of the given schemas": name the
        # most relevant error inside it instead.
        leaves = (best_match([e]) or e for e in checker.iter_errors(stripped))
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in leaves]
