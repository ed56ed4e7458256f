"""Refreshes the KMS service model fakekms carries (fakekms/data/kms.json) from a botocore release,
and prints what changed: operations, shapes, members and enum values added or removed.

Usage: ``python scripts/refresh_model.py [--botocore VERSION] [--check]``. Without a version it
takes the newest botocore on PyPI; ``--check`` only prints the differences and exits 1 if there
are any. After a refresh, update constraints.txt to the same version and regenerate the README's
coverage table with ``fakekms coverage``.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "fakekms" / "data"
MODEL_PATH = "botocore/data/kms/2014-11-01/service-2.json"


def fetch(version: str | None) -> tuple[str, dict]:
    """(botocore version, KMS model) of a botocore wheel downloaded from the package index."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = f"botocore=={version}" if version else "botocore"
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "-d", tmp, spec], check=True)
        (wheel,) = glob.glob(f"{tmp}/botocore-*.whl")
        got = Path(wheel).name.split("-")[1]
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
            if MODEL_PATH + ".gz" in names:
                return got, json.loads(gzip.decompress(archive.read(MODEL_PATH + ".gz")))
            return got, json.loads(archive.read(MODEL_PATH))


def differences(old: dict, new: dict) -> list[str]:
    lines = []

    def compare(kind: str, before: set, after: set) -> None:
        lines.extend(f"+ {kind} {name}" for name in sorted(after - before))
        lines.extend(f"- {kind} {name}" for name in sorted(before - after))

    compare("operation", set(old["operations"]), set(new["operations"]))
    compare("shape", set(old["shapes"]), set(new["shapes"]))
    for name in sorted(set(old["shapes"]) & set(new["shapes"])):
        before, after = old["shapes"][name], new["shapes"][name]
        compare(f"{name} member", set(before.get("members", {})), set(after.get("members", {})))
        compare(f"{name} value", set(before.get("enum", [])), set(after.get("enum", [])))
        for key in ("min", "max", "pattern"):
            if before.get(key) != after.get(key):
                lines.append(f"~ {name} {key}: {before.get(key)!r} -> {after.get(key)!r}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--botocore", metavar="VERSION", help="the botocore release to take (default: newest)")
    parser.add_argument("--check", action="store_true", help="print the differences only; exit 1 if any")
    args = parser.parse_args()
    version, model = fetch(args.botocore)
    current = json.loads((DATA / "kms.json").read_text())
    carried = (DATA / "kms.version").read_text().strip()
    changes = differences(current, model)
    print(f"{carried} -> botocore {version}: {len(changes)} change(s)")
    for line in changes:
        print(line)
    if args.check:
        return 1 if changes else 0
    (DATA / "kms.json").write_text(json.dumps(model, indent=2) + "\n")
    (DATA / "kms.version").write_text(f"botocore {version}\n")
    print(f"wrote {DATA / 'kms.json'}; now set botocore=={version} in constraints.txt and run `fakekms coverage`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
