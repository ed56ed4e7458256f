"""The README's coverage table, made from the service model and the registered handlers."""

from __future__ import annotations

from . import model, ops

BEGIN = "<!-- coverage:begin -->"
END = "<!-- coverage:end -->"


# Why an operation is not implemented yet: the capability it belongs to, still to come.
_PENDING = {
    **dict.fromkeys(("CreateGrant", "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant"),
                    "not yet: grants"),
    **dict.fromkeys(("CreateCustomKeyStore", "ConnectCustomKeyStore", "DeleteCustomKeyStore",
                     "DescribeCustomKeyStores", "DisconnectCustomKeyStore", "UpdateCustomKeyStore"),
                    "not yet: custom key stores"),
}


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
        status = "implemented" if name in implemented else _PENDING.get(name, "not yet")
        lines.append(f"| {name} | {status} |")
    return "\n".join(lines)
