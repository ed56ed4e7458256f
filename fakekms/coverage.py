"""The README's coverage table, made from the service model and the registered handlers."""

from __future__ import annotations

from . import model, ops

BEGIN = "<!-- coverage:begin -->"
END = "<!-- coverage:end -->"


def coverage_table() -> str:
    implemented = ops.handlers()
    names = model.operation_names()
    done = sum(1 for n in names if n in implemented)
    lines = [
        f"{done} of {len(names)} operations in the KMS service model are implemented; "
        "the others answer `UnsupportedOperationException`.",
        "",
        "| Operation | Status |",
        "| --- | --- |",
    ]
    for name in names:
        lines.append(f"| {name} | {'implemented' if name in implemented else 'not yet'} |")
    return "\n".join(lines)
