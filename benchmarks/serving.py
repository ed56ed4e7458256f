"""The serving figures of fakekms beside moto's server and local-kms (the Go emulator), in one run:
requests per second at 1 and 8 connections (wrk, the same pre-signed requests for every server),
start-up to the first answer, 1,000 RSA_2048 CreateKey over 4 connections, peak memory after
10,000 symmetric and 1,000 RSA_2048 keys, and the cost of a boto3 call in fakekms's in-process
mode over botocore alone.

local-kms is a binary: ``--local-kms PATH`` or ``FAKEKMS_LOCAL_KMS``, else ``../shared/peers/
local-kms`` beside this tree; a peer that is absent (or wrk, for the throughput rows) is shown
as "-" with the reason. Everything runs on loopback, bounded in count and time.

Usage: ``python benchmarks/serving.py [--seconds S] [--keys N] [--rsa-keys N] [--only fakekms,...]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from compare_moto import free_port, stop, timed, wait_for_answer

ROOT = Path(__file__).resolve().parent.parent
AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kms/aws4_request, "
        "SignedHeaders=host, Signature=0")
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "Authorization": AUTH}
OPERATIONS = ("Encrypt", "Decrypt", "GenerateDataKey", "Sign ECC")


def local_kms_path(option: str | None) -> Path | None:
    for candidate in (option, os.environ.get("FAKEKMS_LOCAL_KMS"), ROOT.parent / "shared" / "peers" / "local-kms"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def commands(local_kms: Path | None) -> dict:
    """Each server's (argv, environment) on a port; None where it cannot run here."""
    def fakekms(port):
        return [sys.executable, "-m", "fakekms", "serve", "--port", str(port), "--log-level", "ERROR"], \
            dict(os.environ, PYTHONPATH=str(ROOT))

    def moto(port):
        return [sys.executable, "-m", "moto.server", "-p", str(port)], None

    def local(port):
        return [str(local_kms)], dict(os.environ, PORT=str(port), KMS_REGION="us-east-1",
                                      KMS_ACCOUNT_ID="111122223333", KMS_DATA_PATH=tempfile.mkdtemp())

    out = {"fakekms": fakekms, "moto": moto}
    out["local-kms"] = local if local_kms else None
    return out


class Server:
    def __init__(self, command) -> None:
        self.port = free_port()
        argv, env = command(self.port)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_answer(self.port)
        self.startup = time.perf_counter() - self.started

    def call(self, operation: str, body: dict, conn: http.client.HTTPConnection | None = None) -> dict:
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        conn.request("POST", "/", json.dumps(body).encode(), {**HEADERS, "X-Amz-Target": f"TrentService.{operation}"})
        resp = conn.getresponse()
        payload = resp.read()
        if own:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"{operation}: {resp.status} {payload[:200]!r}")
        return json.loads(payload) if payload else {}

    def memory_mib(self) -> tuple[float, float]:
        """(peak resident set, proportional set size now) of the server and its worker
        processes, summed: the first counts pages a worker shares with its parent twice, the
        second splits them between the two."""
        peak = pss = 0
        pending = [self.proc.pid]
        while pending:
            pid = pending.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                peak += int(re.search(r"VmHWM:\s+(\d+) kB", status)[1])
                pss += int(re.search(r"^Pss:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)[1])
                for task in os.listdir(f"/proc/{pid}/task"):
                    pending += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
            except (OSError, TypeError):
                continue
        return peak / 1024, pss / 1024

    def close(self) -> None:
        stop(self.proc)


def requests_for(server: Server) -> dict[str, dict]:
    """The body of each measured operation, with keys made on this server."""
    key = server.call("CreateKey", {})["KeyMetadata"]["KeyId"]
    blob = server.call("Encrypt", {"KeyId": key, "Plaintext": "aGVsbG8gd29ybGQ="})["CiphertextBlob"]
    signer = server.call("CreateKey", {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})["KeyMetadata"]["KeyId"]
    return {
        "Encrypt": ("Encrypt", {"KeyId": key, "Plaintext": "aGVsbG8gd29ybGQ="}),
        "Decrypt": ("Decrypt", {"CiphertextBlob": blob}),
        "GenerateDataKey": ("GenerateDataKey", {"KeyId": key, "KeySpec": "AES_256"}),
        "Sign ECC": ("Sign", {"KeyId": signer, "Message": "bWVzc2FnZQ==", "SigningAlgorithm": "ECDSA_SHA_256"}),
    }


def wrk(port: int, operation: str, body: dict, connections: int, seconds: float) -> float | str:
    """Requests per second, or why there is no figure."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    with script:
        script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n')
        for name, value in {**HEADERS, "X-Amz-Target": f"TrentService.{operation}"}.items():
            script.write(f'wrk.headers["{name}"] = {json.dumps(value)}\n')
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", script.name,
                              f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    if "Non-2xx" in out.stdout:
        return "errors"
    found = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    return float(found[1]) if found else "no figure"


def throughput(server: Server, seconds: float) -> dict[str, float | str]:
    rows = {}
    try:
        bodies = requests_for(server)
    except RuntimeError as exc:
        return {f"{op} c{c}": f"({exc})"[:20] for op in OPERATIONS for c in (1, 8)}
    for op in OPERATIONS:
        target, body = bodies[op]
        for connections in (1, 8):
            rows[f"{op} c{connections} req/s"] = wrk(server.port, target, body, connections, seconds)
    return rows


def many_keys(server: Server, symmetric: int, rsa: int) -> dict[str, float]:
    def create(count: int, body: dict) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        for _ in range(count):
            server.call("CreateKey", body, conn)
        conn.close()

    def over_four(total: int, body: dict) -> float:
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: create(n, body), [total // 4 + (1 if i < total % 4 else 0) for i in range(4)]))
        return time.perf_counter() - start

    rsa_seconds = over_four(rsa, {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"})
    over_four(symmetric, {})
    peak, pss = server.memory_mib()
    return {f"{rsa} RSA_2048 CreateKey, 4 conns (s)": rsa_seconds,
            f"peak RSS, {symmetric} sym + {rsa} RSA keys (MiB)": peak,
            "  the same, PSS now (MiB)": pss}


def in_process_ratio(calls: int) -> dict[str, float]:
    """A boto3 Encrypt through mock_kms over the same call answered by botocore alone (a canned
    response in its before-send hook): what in-process fakekms adds to the client's own cost."""
    import boto3
    from botocore.awsrequest import AWSResponse

    from fakekms.inprocess import mock_kms

    def median(fn) -> float:
        for _ in range(50):  # warm up
            fn()
        return timed(fn, calls)

    with mock_kms():
        kms = boto3.client("kms", region_name="us-east-1")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        answer = kms.encrypt(KeyId=key, Plaintext=b"hello")
        mocked = median(lambda: kms.encrypt(KeyId=key, Plaintext=b"hello"))
    canned = json.dumps({"KeyId": answer["KeyId"], "CiphertextBlob": __import__("base64").b64encode(
        answer["CiphertextBlob"]).decode(), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}).encode()

    class Raw:
        def stream(self, **kwargs):
            yield canned

    alone = boto3.client("kms", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                         aws_access_key_id="a", aws_secret_access_key="b")
    alone.meta.events.register("before-send.kms", lambda request, **kwargs: AWSResponse(
        request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, Raw()))
    bare = median(lambda: alone.encrypt(KeyId=key, Plaintext=b"hello"))
    return {"in-process boto3 Encrypt (us)": mocked * 1e6, "botocore alone, canned answer (us)": bare * 1e6,
            "in-process / botocore alone": mocked / bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk's duration per row")
    parser.add_argument("--keys", type=int, default=10_000, help="symmetric keys made for the memory row")
    parser.add_argument("--rsa-keys", type=int, default=1_000, help="RSA_2048 keys made over 4 connections")
    parser.add_argument("--startups", type=int, default=5)
    parser.add_argument("--local-kms", metavar="PATH", help="the local-kms binary")
    parser.add_argument("--only", help="comma-separated servers to measure")
    args = parser.parse_args()
    servers = commands(local_kms_path(args.local_kms))
    if args.only:
        servers = {k: v for k, v in servers.items() if k in args.only.split(",")}
    notes = []
    if shutil.which("wrk") is None:
        notes.append("wrk is not installed (apt-get install wrk): no requests-per-second rows")
    results: dict[str, dict] = {}
    for name, command in servers.items():
        if command is None:
            notes.append(f"{name}: no binary (give --local-kms PATH or FAKEKMS_LOCAL_KMS)")
            continue
        try:
            startups = []
            for _ in range(args.startups):
                server = Server(command)
                startups.append(server.startup)
                server.close()
            row = {"start-up to first answer (ms)": statistics.median(startups) * 1e3}
            server = Server(command)
            try:
                if shutil.which("wrk"):
                    row.update(throughput(server, args.seconds))
                row.update(many_keys(server, args.keys, args.rsa_keys))
            finally:
                server.close()
            results[name] = row
        except (RuntimeError, OSError) as exc:
            notes.append(f"{name} unavailable: {exc}")
    names = [n for n in servers if n in results]
    labels = list(dict.fromkeys(label for row in results.values() for label in row))
    print(f"{'':44}" + "".join(f"{n:>14}" for n in names) + "   fakekms vs peers")
    for label in labels:
        cells, ours = [], results.get("fakekms", {}).get(label)
        for name in names:
            value = results[name].get(label, "-")
            cells.append(f"{value:14.1f}" if isinstance(value, float) else f"{str(value):>14}")
        ratios = []
        for name in names:
            theirs = results[name].get(label)
            if name != "fakekms" and isinstance(ours, float) and isinstance(theirs, float) and theirs:
                ratios.append(f"{name} {ours / theirs:.2f}x")
        print(f"{label:44}" + "".join(cells) + "   " + ", ".join(ratios))
    if "fakekms" in servers:
        for label, value in in_process_ratio(2000).items():
            print(f"{label:44}{value:14.2f}")
    for note in notes:
        print(f"({note})")
    print(f"(ratios are fakekms's figure over the peer's; for req/s above 1x fakekms is faster, for time and "
          f"memory below 1x. 2 cores here; Python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d')})")


if __name__ == "__main__":
    main()
