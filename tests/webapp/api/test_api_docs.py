"""docs/api.md against the OpenAPI description: every operation, and every answer's fields.

- every operation of `/openapi.json` is named in docs/api.md (`METHOD /path`, path
  parameters by any name), and every operation named there exists;
- every model an operation answers (and the models inside it) has a section in docs/api.md
  (a heading naming it in backticks) whose table lists exactly the model's fields;
- the body of every operation that takes one is described in its table row with exactly
  the fields the operation accepts; every query parameter is named;
- the status lines (`data: …`) shown for the event stream are valid statuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webapp.app import create_app
from webapp.card_signing.status import CardSessionStatus
from webapp.settings import load_settings

DOCS = Path(__file__).resolve().parents[3] / "docs" / "api.md"
OPERATION = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")
MODEL_HEADING = re.compile(r"^#{2,6} .*?`([A-Z][A-Za-z0-9]+)`")
EXTENDS = re.compile(r"^Extends `([A-Z][A-Za-z0-9]+)`")
TICKED = re.compile(r"`([^`\s]+)`")
PARAMETER = re.compile(r"\{[^}]*\}")
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("api-docs") / "var"
    description: dict[str, Any] = create_app(
        load_settings(environment="development", data_dir=data_dir)
    ).openapi()
    return description


@pytest.fixture(scope="module")
def docs() -> str:
    return DOCS.read_text(encoding="utf-8")


def _operation(method: str, path: str) -> str:
    """`POST /api/v1/documents/{}/send`: path parameters by any name are the same."""
    return f"{method.upper()} {PARAMETER.sub('{}', path)}"


def _operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table_rows(docs: str) -> Iterator[list[str]]:
    for line in docs.splitlines():
        if line.lstrip().startswith("|") and not set(line.strip()) <= set("|-: "):
            yield _cells(line)


def _schema_name(reference: str) -> str:
    return reference.rsplit("/", 1)[-1]


def _references(node: Any) -> Iterator[str]:
    """Every `$ref` inside a piece of the description."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield _schema_name(value)
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def _answer_models(openapi: dict[str, Any]) -> set[str]:
    """The object models of every answer (errors included) and the models inside them."""
    schemas = openapi["components"]["schemas"]
    pending = [
        name for _, _, operation in _operations(openapi)
        for name in _references(operation["responses"])
    ]  # fmt: skip
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        pending.extend(_references(schemas[name]))
    return {name for name in found if "properties" in schemas[name]}


def _documented_fields(docs: str) -> dict[str, set[str]]:
    """Model -> the fields its section's table names (with those of a model it extends)."""
    own: dict[str, set[str]] = {}
    extends: dict[str, list[str]] = {}
    current: str | None = None
    for line in docs.splitlines():
        if line.startswith("#"):
            heading = MODEL_HEADING.match(line)
            current = heading.group(1) if heading else None
            if current is not None:
                assert current not in own, f"two sections for {current}"
                own[current], extends[current] = set(), []
            continue
        if current is None:
            continue
        if parent := EXTENDS.match(line.strip()):
            extends[current].append(parent.group(1))
        elif line.lstrip().startswith("|") and not set(line.strip()) <= set("|-: "):
            own[current].update(TICKED.findall(_cells(line)[0]))

    def fields(name: str) -> set[str]:
        inherited = [fields(parent) for parent in extends.get(name, [])]
        return own.get(name, set()).union(*inherited)

    return {name: fields(name) for name in own}


def _body_schema(openapi: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    for media in ("application/json", "multipart/form-data"):
        if media in content:
            schema: dict[str, Any] = content[media]["schema"]
            if "$ref" in schema:
                schema = openapi["components"]["schemas"][_schema_name(schema["$ref"])]
            return schema
    return None


def test_every_operation_is_documented_and_every_documented_one_exists(
    openapi: dict[str, Any], docs: str
) -> None:
    described = {_operation(method, path) for method, path, _ in _operations(openapi)}
    documented = {_operation(method, path) for method, path in OPERATION.findall(docs)}
    assert described - documented == set(), "in /openapi.json but not in docs/api.md"
    assert documented - described == set(), "in docs/api.md but not in /openapi.json"


def test_every_answer_model_is_documented_with_exactly_its_fields(
    openapi: dict[str, Any], docs: str
) -> None:
    schemas = openapi["components"]["schemas"]
    documented = _documented_fields(docs)
    models = _answer_models(openapi)
    assert {"ErrorAnswer", "CardSessionStatus", "DocumentDetail"} <= models  # the walk works
    for name in sorted(models):
        assert name in documented, f"docs/api.md has no section for {name}"
        assert documented[name] == set(schemas[name]["properties"]), name
    assert set(documented) - models == set(), "sections for models no operation answers"


def test_every_body_field_and_query_parameter_is_documented(
    openapi: dict[str, Any], docs: str
) -> None:
    rows = {
        _operation(*found.groups()): row
        for row in _table_rows(docs)
        if (found := OPERATION.fullmatch(row[0]))
    }
    named = {name for row in _table_rows(docs) for name in TICKED.findall(row[0])}
    for method, path, operation in _operations(openapi):
        key = _operation(method, path)
        assert key in rows, f"{key} has no row of its own in a table of docs/api.md"
        schema = _body_schema(openapi, operation)
        if schema is not None:
            body = set(TICKED.findall(rows[key][1]))
            assert body == set(schema["properties"]), key
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                assert parameter["name"] in named, f"{key}: query {parameter['name']}"


def test_the_event_stream_shown_is_made_of_valid_statuses(docs: str) -> None:
    lines = [line for line in docs.splitlines() if line.startswith("data: ")]
    assert len(lines) >= 2
    for line in lines:
        status = CardSessionStatus.model_validate_json(line.removeprefix("data: "))
        assert status.json_text == line.removeprefix("data: ")  # as the feed writes it
