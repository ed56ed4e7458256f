"""Cryptography on key material. The submodules load on first use (``crypto.asymmetric``), not at
start-up: importing ``cryptography``'s primitives costs about 20 ms the server need not wait for."""

import importlib

_SUBMODULES = frozenset({"asymmetric", "ciphertext", "software"})


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
