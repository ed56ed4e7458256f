"""Requests made from the KMS service model, valid and hostile: each member of an operation's
input shape gets a value of its type (sometimes at or past its limits), of the wrong type, or a
string no text can hold. Used by the fuzz tests and by ``benchmarks/fuzz.py``."""

from __future__ import annotations

import base64
import json
import random

from fakekms import model

# Strings that have broken parsers: lone surrogates, NUL, very long, numbers as text, ARNs.
HOSTILE_STRINGS = [
    "\udfff", "\ud800x", "a\x00b", "", " ", "é" * 300, "x" * 10_000, "-1", "1e999", "NaN",
    "alias/", "alias/aws/", "arn:aws:kms:us-east-1:111122223333:key/", "arn:aws:kms:::", "key/../..",
    "%s%n", "${aws:username}", "\u202e", "😀" * 100,
]
HOSTILE_NUMBERS = [-1, 0, 2**31, 2**63, -(2**63) - 1, 1e308, -1e308, 1.5, 10**30]
HOSTILE_TIMESTAMPS = [-1e20, 1e20, 253402300800, -62135596801, 0, 1.5, 1e308]
WRONG_TYPES = [None, True, [], {}, 1, "s", [1, "a"], {"a": {"b": []}}]


class RequestMaker:
    def __init__(self, seed: int, key_ids: list[str] = ()) -> None:
        self.rng = random.Random(seed)
        self.key_ids = list(key_ids)
        self.shapes = model.shapes()

    def request(self) -> tuple[str, bytes]:
        """(operation, body): a body that is JSON (almost always) for a random operation."""
        operation = self.rng.choice(model.operation_names())
        shape = model.input_shape_name(operation)
        body = self.value(shape, 0) if shape else {}
        if self.rng.random() < 0.03:
            return operation, self.rng.choice([b"{", b"[]", b"null", b"\xff\xfe", b'{"a":' * 600, b"1"])
        return operation, json.dumps(body).encode()

    def value(self, shape_name: str, depth: int):
        shape = self.shapes[shape_name]
        rng = self.rng
        if depth > 6 or rng.random() < 0.04:
            return rng.choice(WRONG_TYPES)
        kind = shape["type"]
        if kind == "structure":
            out = {}
            for name, member in shape["members"].items():
                if name in shape.get("required", ()) or rng.random() < 0.5:
                    out[name] = self.value(member["shape"], depth + 1)
            if rng.random() < 0.05:
                out["Unmodelled"] = 1
            return out
        if kind == "list":
            size = rng.choice([0, 1, 2, 3, 60])
            return [self.value(shape["member"]["shape"], depth + 1) for _ in range(size)]
        if kind == "map":
            return {self._string(self.shapes[shape["key"]["shape"]]): self.value(shape["value"]["shape"], depth + 1)
                    for _ in range(rng.choice([0, 1, 2, 70]))}
        if kind == "string":
            return self._string(shape)
        if kind in ("integer", "long"):
            low, high = shape.get("min", 0), shape.get("max", 10_000)
            return rng.choice([low, high, high + 1, low - 1, rng.randint(low, high), rng.choice(HOSTILE_NUMBERS)])
        if kind == "boolean":
            return rng.choice([True, False, "true", 0])
        if kind == "timestamp":
            return rng.choice([*HOSTILE_TIMESTAMPS, rng.uniform(0, 4e9), "2024-01-01T00:00:00Z"])
        if kind == "blob":
            size = rng.choice([0, 1, 16, 32, 64, 300, 4096, 70_000])
            raw = rng.randbytes(size)
            return rng.choice([base64.b64encode(raw).decode(), "not base64!", base64.b64encode(raw).decode()[:-1]])
        return None

    def _string(self, shape: dict) -> str:
        rng = self.rng
        if "enum" in shape and rng.random() < 0.7:
            return rng.choice(shape["enum"])
        roll = rng.random()
        if roll < 0.35 and self.key_ids:
            key = rng.choice(self.key_ids)
            return rng.choice([key, f"arn:aws:kms:us-east-1:111122223333:key/{key}", "alias/fuzz"])
        if roll < 0.7:
            return rng.choice(HOSTILE_STRINGS)
        length = rng.randint(shape.get("min", 1), min(shape.get("max", 64), 300))
        return "".join(rng.choice("abcXYZ019/_-:=.+@") for _ in range(length))
