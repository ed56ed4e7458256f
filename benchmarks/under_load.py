"""DescribeKey latency while RSA_4096 keys are being created on another connection, for
fakekms (this tree, and with ``--against REV`` another revision), moto's server and local-kms,
in one run.

One client keeps creating RSA_4096 keys; another calls DescribeKey on a symmetric key over a
keep-alive connection and records each call's latency. Prints p50, p99 and the slowest call,
idle and under load, and how many RSA keys were made meanwhile; a server that is absent shows
as "-". Everything runs on loopback, bounded in count.

Usage: ``python benchmarks/under_load.py [--calls N] [--against REV]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from compare_moto import client, free_port, stop, wait_for_answer

ROOT = Path(__file__).resolve().parent.parent
LOCAL_KMS = ROOT.parent / "shared" / "peers" / "local-kms"
AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kms/aws4_request, "
        "SignedHeaders=host, Signature=0")


def fakekms(tree: Path):
    def command(port: int):
        return [sys.executable, "-m", "fakekms", "serve", "--port", str(port), "--log-level", "ERROR"], \
            dict(os.environ, PYTHONPATH=str(tree)), tree
    return command


def moto(port: int):
    return [sys.executable, "-m", "moto.server", "-p", str(port)], None, None


def local_kms(port: int):
    env = dict(os.environ, PORT=str(port), KMS_REGION="us-east-1", KMS_ACCOUNT_ID="111122223333",
               KMS_DATA_PATH=tempfile.mkdtemp())
    return [str(LOCAL_KMS)], env, None


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def describe_latencies(port: int, key_id: str, calls: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = json.dumps({"KeyId": key_id}).encode()
    headers = {"X-Amz-Target": "TrentService.DescribeKey", "Content-Type": "application/x-amz-json-1.1",
               "Authorization": AUTH}
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        conn.request("POST", "/", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        samples.append(time.perf_counter() - t0)
        assert resp.status == 200, resp.status
    conn.close()
    return samples


def measure(command, calls: int) -> dict[str, float]:
    port = free_port()
    argv, env, cwd = command(port)
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_answer(port)
        kms = client(port)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        describe_latencies(port, key_id, 50)  # warm up
        idle = describe_latencies(port, key_id, calls)
        creator = client(port)
        made, done = [], threading.Event()

        def create_rsa():
            while not done.is_set():
                creator.create_key(KeySpec="RSA_4096", KeyUsage="SIGN_VERIFY")
                made.append(1)

        thread = threading.Thread(target=create_rsa, daemon=True)
        thread.start()
        time.sleep(0.2)  # the first key is on its way
        loaded = describe_latencies(port, key_id, calls)
        done.set()
        thread.join(120)
        return {"idle p50": statistics.median(idle), "idle p99": percentile(idle, 0.99),
                "loaded p50": statistics.median(loaded), "loaded p99": percentile(loaded, 0.99),
                "loaded max": max(loaded), "RSA_4096 keys made": float(len(made))}
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--against", metavar="REV", help="also measure fakekms at this git revision")
    args = parser.parse_args()
    servers = {"fakekms": fakekms(ROOT)}
    workdir = None
    if args.against:
        workdir = tempfile.mkdtemp()
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", workdir, args.against],
                       check=True, capture_output=True)
        servers[f"fakekms@{args.against[:7]}"] = fakekms(Path(workdir))
    servers["moto"] = moto
    if LOCAL_KMS.exists():
        servers["local-kms"] = local_kms
    results = {}
    try:
        for name, command in servers.items():
            try:
                results[name] = measure(command, args.calls)
            except (RuntimeError, OSError) as exc:
                print(f"{name} unavailable ({exc})", file=sys.stderr)
    finally:
        if workdir:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", workdir],
                           capture_output=True)
            shutil.rmtree(workdir, ignore_errors=True)
    names = list(servers)
    print(f"{'DescribeKey, ' + str(args.calls) + ' calls':24}" + "".join(f"{n:>20}" for n in names))
    for row in ("idle p50", "idle p99", "loaded p50", "loaded p99", "loaded max", "RSA_4096 keys made"):
        cells = []
        for name in names:
            value = results.get(name, {}).get(row)
            if value is None:
                cells.append(f"{'-':>20}")
            elif row.endswith("made"):
                cells.append(f"{value:20.0f}")
            else:
                ratio = "" if name == "fakekms" or "fakekms" not in results else \
                    f" ({value / results['fakekms'][row]:.1f}x)"
                cells.append(f"{value * 1e3:12.2f}ms{ratio:>6}".rjust(20))
        print(f"{row:24}" + "".join(cells))
    print("(ratios: the peer's figure over this tree's; above 1x this tree is faster. "
          f"Python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d')})")


if __name__ == "__main__":
    main()
