"""The AWS KMS service model fakekms implements, carried in the package (``data/kms.json``, taken
from the botocore release named in ``data/kms.version``; ``scripts/refresh_model.py`` updates both
and prints what changed).

The model is the spec: operation names, members, constraints and enums come from it. fakekms
carries its own copy rather than reading the installed botocore's, so it serves the same, newest
API whatever botocore a user's project pins: a project on an old boto3 still gets every operation
fakekms implements, and its clients keep working for the operations they know. The JSON is read
directly rather than through ``botocore.model`` to keep server start-up light.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
from functools import cache

_DATA = os.path.join(os.path.dirname(__file__), "data")


@cache
def service_model() -> dict:
    with open(os.path.join(_DATA, "kms.json"), "rb") as fh:
        return json.loads(fh.read())


@cache
def model_version() -> str:
    """The botocore release the carried model comes from."""
    with open(os.path.join(_DATA, "kms.version"), encoding="ascii") as fh:
        return fh.read().strip()


@cache
def shapes() -> dict:
    return service_model()["shapes"]


def operations() -> dict:
    return service_model()["operations"]


def operation_names() -> list[str]:
    return sorted(operations())


def target_prefix() -> str:
    return service_model()["metadata"]["targetPrefix"]


def enum_values(shape_name: str) -> list[str]:
    return list(shapes()[shape_name].get("enum", ()))


def input_shape_name(operation: str) -> str | None:
    return operations()[operation].get("input", {}).get("shape")


def output_shape_name(operation: str) -> str | None:
    return operations()[operation].get("output", {}).get("shape")


def operation_doc(operation: str) -> str:
    return operations()[operation].get("documentation", "")


def member_doc(operation: str, member: str) -> str:
    shape = shapes()[input_shape_name(operation)]
    return shape["members"][member].get("documentation", "")


def error_shapes() -> dict[str, dict]:
    return {name: s for name, s in shapes().items() if s.get("exception")}


# ---------------------------------------------------------------------------------------------
# Input: type checks (SerializationException) and constraints (ValidationException)
# ---------------------------------------------------------------------------------------------

_TYPE_NAMES = {
    "string": "String",
    "integer": "Integer",
    "long": "Long",
    "boolean": "Boolean",
    "blob": "Blob",
    "timestamp": "Timestamp",
    "list": "List",
    "map": "Map",
    "structure": "Structure",
}


def _camel(name: str) -> str:
    """Coral names members lowerCamelCase in its messages ('KeyId' -> 'keyId')."""
    return name[:1].lower() + name[1:]


def _java_len(value: str) -> int:
    """Length as Java counts it (UTF-16 code units), which is what AWS's limits measure."""
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


def _render(value, shape_type: str) -> str:
    if value is None:
        return "null"
    if shape_type == "blob":
        n = len(value)
        return f"java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v, "") for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_render(v, '')}" for k, v in value.items()) + "}"
    return str(value)


@cache
def _pattern(regex: str) -> re.Pattern:
    return re.compile(regex)


class _Checker:
    """Walks one request against its input shape, decoding blobs as it goes."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def violation(self, value, shape_type: str, path: str, constraint: str, shape: dict | None = None) -> None:
        """One violation, in AWS's words. The value of a member the model marks sensitive
        (Plaintext, KeyStorePassword, ...) is left out, as AWS leaves it out: it must not reach
        the body, the log or the audit record."""
        if value is None:
            value_part = "Value null"
        elif shape is not None and shape.get("sensitive"):
            value_part = "Value"
        else:
            value_part = f"Value '{_render(value, shape_type)}'"
        self.violations.append(f"{value_part} at '{path}' failed to satisfy constraint: {constraint}")

    def check(self, shape_name: str, value, path: str, bounds: tuple[int, int] | None = None):
        """``bounds``: an integer member's documented range, used in place of its shape's."""
        shape = shapes()[shape_name]
        kind = shape["type"]
        if kind == "structure":
            return self._structure(shape_name, shape, value, path)
        if bounds is not None:
            return self._integer(shape, value, path, bounds)
        handler = getattr(self, "_" + kind)
        return handler(shape, value, path)

    @staticmethod
    def _wrong_type(shape: dict, value, path: str):
        expected = _TYPE_NAMES.get(shape["type"], shape["type"])
        got = {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
            type(value), "number" if isinstance(value, (int, float)) else "null"
        )
        article = "an" if expected[0] in "AEIOU" else "a"
        raise errors.SerializationException(
            f"Value at '{path or 'request'}' must be {article} {expected}, not a JSON {got}"
        )

    def _structure(self, shape_name: str, shape: dict, value, path: str):
        if not isinstance(value, dict):
            self._wrong_type(shape, value, path)
        members = shape.get("members", {})
        out = {}
        for name in shape.get("required", ()):
            if value.get(name) is None:
                self.violation(None, "", self._join(path, name), "Member must not be null")
        for name, member in members.items():
            item = value.get(name)
            if item is None:
                continue
            bounds = documented_range(shape_name, name)
            out[name] = self.check(member["shape"], item, self._join(path, name), bounds)
        return out

    def _range(self, bounds: tuple[int, int], value: int, path: str) -> None:
        low, high = bounds
        if value < low:
            self.violation(value, "integer", path, f"Member must have value greater than or equal to {low}")
        elif value > high:
            self.violation(value, "integer", path, f"Member must have value less than or equal to {high}")

    @staticmethod
    def _join(path: str, name: str) -> str:
        return f"{path}.{_camel(name)}" if path else _camel(name)

    def _list(self, shape: dict, value, path: str):
        if not isinstance(value, list):
            self._wrong_type(shape, value, path)
        self._length(shape, value, len(value), "list", path)
        member = shape["member"]["shape"]
        return [self.check(member, v, f"{path}.{i}.member") for i, v in enumerate(value, 1)]

    def _map(self, shape: dict, value, path: str):
        if not isinstance(value, dict):
            self._wrong_type(shape, value, path)
        self._length(shape, value, len(value), "map", path)
        key_shape, value_shape = shape["key"]["shape"], shape["value"]["shape"]
        out = {}
        for k, v in value.items():
            if v is None:
                self._wrong_type(shapes()[value_shape], v, f"{path}.{k}")
            out[self.check(key_shape, k, f"{path}.key")] = self.check(value_shape, v, f"{path}.{k}")
        return out

    def _string(self, shape: dict, value, path: str):
        if not isinstance(value, str):
            self._wrong_type(shape, value, path)
        self._length(shape, value, _java_len(value), "string", path)
        if "enum" in shape and value not in shape["enum"]:
            allowed = ", ".join(shape["enum"])
            self.violation(value, "string", path, f"Member must satisfy enum value set: [{allowed}]", shape)
        pattern = shape.get("pattern")
        if pattern and not _pattern(pattern).fullmatch(value):
            self.violation(
                value, "string", path, f"Member must satisfy regular expression pattern: {pattern}", shape
            )
        return value

    def _integer(self, shape: dict, value, path: str, bounds: tuple[int, int] | None = None):
        if not isinstance(value, int) or isinstance(value, bool):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                self._wrong_type(shape, value, path)
        self._range(bounds or (shape.get("min", -math.inf), shape.get("max", math.inf)), value, path)
        return value

    _long = _integer

    def _boolean(self, shape: dict, value, path: str):
        if not isinstance(value, bool):
            self._wrong_type(shape, value, path)
        return value

    def _blob(self, shape: dict, value, path: str):
        if not isinstance(value, str):
            self._wrong_type(shape, value, path)
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise errors.SerializationException(
                f"Value at '{path}' is not valid base64-encoded binary data"
            ) from None
        self._length(shape, decoded, len(decoded), "blob", path)
        return decoded

    def _timestamp(self, shape: dict, value, path: str):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            self._wrong_type(shape, value, path)
        return float(value)

    def _length(self, shape: dict, value, length: int, kind: str, path: str) -> None:
        if "min" in shape and length < shape["min"]:
            self.violation(value, kind, path, f"Member must have length greater than or equal to {shape['min']}",
                           shape)
        if "max" in shape and length > shape["max"]:
            self.violation(value, kind, path, f"Member must have length less than or equal to {shape['max']}",
                           shape)


_DOCUMENTED_RANGE = re.compile(r"between (\d+) and (\d+)")


@cache
def documented_range(structure: str, member: str) -> tuple[int, int] | None:
    """The range an integer member's documentation states, where it is narrower than its shape's.

    Several members share a wide shape (LimitType is 1-1000) while their text and KMS itself
    allow less: ListAliases' Limit is 1-100, ListResourceTags' 1-50, PendingWindowInDays 7-30.
    """
    spec = shapes()[structure]["members"][member]
    if shapes()[spec["shape"]]["type"] not in ("integer", "long"):
        return None
    match = _DOCUMENTED_RANGE.search(spec.get("documentation", ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def validation_message(violations: list[str]) -> str:
    n = len(violations)
    noun = "error" if n == 1 else "errors"
    return f"{n} validation {noun} detected: " + "; ".join(violations)


def missing_member(member: str) -> "errors.KMSError":
    """The ValidationException AWS gives for a member its model leaves optional but the call
    needs (Decrypt's CiphertextBlob, which only a dry run may omit; GenerateRandom's NumberOfBytes)."""
    return errors.ValidationException(validation_message(
        [f"Value null at '{_camel(member)}' failed to satisfy constraint: Member must not be null"]
    ))


def parse_input(operation: str, body) -> dict:
    """Checks a decoded JSON body against the operation's input shape.

    Returns the request with blobs decoded to bytes and unknown members dropped. Raises
    SerializationException for a value of the wrong JSON type and ValidationException, listing
    every violated constraint in AWS's wording, for the rest.
    """
    shape_name = input_shape_name(operation)
    if shape_name is None:
        return {}
    checker = _Checker()
    params = checker.check(shape_name, body, "")
    if checker.violations:
        raise errors.ValidationException(validation_message(checker.violations))
    return params


# ---------------------------------------------------------------------------------------------
# Output: the model decides how each value goes on the wire
# ---------------------------------------------------------------------------------------------


def serialize_output(operation: str, result: dict | None) -> dict:
    shape_name = output_shape_name(operation)
    if shape_name is None or not result:
        return {}
    return _serialize(shape_name, result)


# Shapes whose values go on the wire as they are.
_AS_IS = frozenset({"string", "boolean", "integer", "long", "double", "float"})


@cache
def _plan(shape_name: str) -> tuple[str, dict[str, tuple[bool, str]], str | None]:
    """(type, {member: (as is, shape)}, element shape of a list or map value) of a shape: read
    from the model once, since every response walks it."""
    shape = shapes()[shape_name]
    members = {name: (shapes()[m["shape"]]["type"] in _AS_IS, m["shape"])
               for name, m in shape.get("members", {}).items()}
    element = (shape.get("member") or shape.get("value") or {}).get("shape")
    return shape["type"], members, element


def _serialize(shape_name: str, value):
    kind, members, element = _plan(shape_name)
    if kind == "structure":
        out = {}
        for name, item in value.items():
            member = members.get(name)
            if item is None or member is None:
                continue
            as_is, member_shape = member
            out[name] = item if as_is else _serialize(member_shape, item)
        return out
    if kind == "list":
        return [_serialize(element, v) for v in value]
    if kind == "map":
        return {k: _serialize(element, v) for k, v in value.items()}
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    if kind == "timestamp":
        return round(float(value), 3)
    return value


# Imported last: errors builds its classes from this module's model, and the checker above only
# needs the module at call time.
from . import errors  # noqa: E402
