"""Per-call cost of the KMS pipeline itself: medians of calls through ``FakeKMS.handle`` (no
HTTP, no boto3), on this tree and, with ``--against REV``, on another revision of fakekms
checked out beside it, in one run.

Each tree runs in a process of its own; the two take turns, a chunk of 100 calls of one row at
a time, so that a slow moment of a shared machine falls on both alike.

Usage: ``python benchmarks/per_call.py [--calls N] [--against REV] [--db file]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs inside a child process whose sys.path starts at the fakekms tree under test.
_CHILD = r'''
import base64, json, statistics, sys, tempfile, time, os
from fakekms.app import create_app

calls, db = int(sys.argv[1]), sys.argv[2]
path = ":memory:" if db == "memory" else os.path.join(tempfile.mkdtemp(), "kms.db")
app = create_app(path)
auth = "AWS4-HMAC-SHA256 Credential=111122223333/20240101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0"

def call(op, body):
    status, payload, _ = app.handle("TrentService." + op, json.dumps(body).encode(), authorization=auth)
    assert status == 200, (op, payload)
    return json.loads(payload) if payload else None

key = call("CreateKey", {})["KeyMetadata"]["KeyId"]
call("CreateAlias", {"AliasName": "alias/bench", "TargetKeyId": key})
blob = call("Encrypt", {"KeyId": key, "Plaintext": base64.b64encode(bytes(1024)).decode()})["CiphertextBlob"]
ec = call("CreateKey", {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})["KeyMetadata"]["KeyId"]
rows = {
    "DescribeKey by alias": ("DescribeKey", {"KeyId": "alias/bench"}),
    "Encrypt 1 KiB": ("Encrypt", {"KeyId": key, "Plaintext": base64.b64encode(bytes(1024)).decode()}),
    "Decrypt 1 KiB": ("Decrypt", {"CiphertextBlob": blob}),
    "GenerateDataKey AES_256": ("GenerateDataKey", {"KeyId": key, "KeySpec": "AES_256"}),
    "Sign ECDSA_SHA_256": ("Sign", {"KeyId": ec, "Message": "bQ==", "SigningAlgorithm": "ECDSA_SHA_256"}),
    "TagResource": ("TagResource", {"KeyId": key, "Tags": [{"TagKey": "k", "TagValue": "v"}]}),
    "CreateKey symmetric": ("CreateKey", {}),
    "ListKeys Limit 10": ("ListKeys", {"Limit": 10}),
}
for op, body in rows.values():
    for _ in range(20):
        call(op, body)
print(json.dumps(list(rows)), flush=True)
for line in sys.stdin:  # a row's label: run one chunk of it, answer the samples
    op, body = rows[line.strip()]
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        call(op, body)
        samples.append(time.perf_counter() - t0)
    print(json.dumps(samples), flush=True)
'''


CHUNK = 100


def start_tree(tree: Path, db: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(CHUNK), db], env=env, cwd=tree, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def chunk(proc: subprocess.Popen, label: str) -> list[float]:
    proc.stdin.write(label + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--against", metavar="REV", help="a git revision to compare with")
    parser.add_argument("--db", choices=["memory", "file"], default="memory")
    args = parser.parse_args()
    trees = {"this tree": ROOT}
    workdir = None
    if args.against:
        workdir = tempfile.mkdtemp()
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", workdir, args.against],
                       check=True, capture_output=True)
        trees = {args.against: Path(workdir), "this tree": ROOT}
    procs = {}
    try:
        procs = {name: start_tree(tree, args.db) for name, tree in trees.items()}
        labels = [json.loads(proc.stdout.readline()) for proc in procs.values()][-1]
        samples: dict[str, dict[str, list[float]]] = {name: {label: [] for label in labels} for name in trees}
        for _ in range(max(1, args.calls // CHUNK)):
            for label in labels:
                for name, proc in procs.items():
                    samples[name][label] += chunk(proc, label)
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
        if workdir:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", workdir],
                           capture_output=True)
    names = list(trees)
    print(f"{'median per call (' + args.db + ')':32}" + "".join(f"{n[:14]:>16}" for n in names)
          + ("   this/" + names[0][:10] if len(names) > 1 else ""))
    for label in samples["this tree"]:
        values = [statistics.median(samples[n][label]) for n in names]
        line = f"{label:32}" + "".join(f"{v * 1e6:14.1f}us" for v in values)
        if len(values) > 1:
            line += f"   {values[-1] / values[0]:8.3f}"
        print(line)
    print(f"({args.calls} calls per row and tree, in turns of {CHUNK}; "
          f"Python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d')})")


if __name__ == "__main__":
    main()
