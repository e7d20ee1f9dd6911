"""Every WebSocket frame, both ways and per route, as JSON Schema: frames.schema.json.

`validate(route, "client" | "server", frame)` raises jsonschema.ValidationError for a frame the
route does not document, naming the field. Routes are the consumers' `route` names. jsonschema is
imported only when validating: serving sockets never needs it.
"""

import functools
import json
from pathlib import Path

SCHEMA_PATH = Path(__file__).with_name("frames.schema.json")
DIRECTIONS = ("client", "server")


@functools.cache
def document():
    return json.loads(SCHEMA_PATH.read_text())


def routes():
    """{route: its schema}: x-path, x-auth, x-close-codes, client, server."""
    return document()["$defs"]["routes"]


def _frame_schemas(route, direction):
    """{type: where the route's schema for frames of that type is} (a $ref, or an allOf that adds
    to one), as a reference into the document."""
    schemas = {}
    for index, option in enumerate(routes()[route][direction]["oneOf"]):
        ref = option["$ref"] if "$ref" in option else option["allOf"][0]["$ref"]
        schemas[ref.rsplit("/", 1)[-1]] = f"{document()['$id']}#/$defs/routes/{route}/{direction}/oneOf/{index}"
    return schemas


def frame_types(route, direction):
    return set(_frame_schemas(route, direction))


def frame_schema(direction, frame_type):
    return document()["$defs"][direction][frame_type]


@functools.cache
def _registry():
    from referencing import Registry, Resource

    return Registry().with_resource(document()["$id"], Resource.from_contents(document()))


@functools.cache
def _validator(reference):
    from jsonschema import Draft202012Validator

    return Draft202012Validator({"$ref": reference}, registry=_registry())


def validate(route, direction, frame):
    from jsonschema import ValidationError

    if not isinstance(frame, dict):
        raise ValidationError(f"a frame is a JSON object, not {frame!r}")
    frame_type = frame.get("type", frame.get("action"))
    schemas = _frame_schemas(route, direction)
    if frame_type not in schemas:
        raise ValidationError(f"{frame_type!r} is not a {direction} frame of route {route!r} "
                              f"(documented: {', '.join(sorted(schemas))})")
    _validator(schemas[frame_type]).validate(frame)


def check_document():
    """The document is itself valid JSON Schema, and every $ref in it resolves."""
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(document())
    for route in routes():
        for direction in DIRECTIONS:
            for reference in _frame_schemas(route, direction).values():
                _validator(reference).is_valid({})  # resolves the refs on the way
