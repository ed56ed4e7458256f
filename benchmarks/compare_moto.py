"""fakekms beside moto's server, in one run: start-up to the first answer, and per-call latency of
key-management and cryptographic calls over one keep-alive connection, through boto3 and as raw
HTTP. A call a server does not implement shows as "-".

Prints medians and the moto/fakekms ratio (above 1: fakekms is faster). Everything runs on
loopback, bounded in count. Usage: ``python benchmarks/compare_moto.py [--calls N]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import time

import boto3
from botocore.config import Config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVERS = {
    "fakekms": lambda port: [sys.executable, "-m", "fakekms", "serve", "--port", str(port), "--log-level", "ERROR"],
    "moto": lambda port: [sys.executable, "-m", "moto.server", "-p", str(port)],
}


def wait_for_answer(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("POST", "/", body=b"{}", headers={
                "X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1",
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kms/aws4_request, "
                                 "SignedHeaders=host, Signature=0"})
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError(f"no answer on port {port}")


def start(name: str) -> tuple[subprocess.Popen, int, float]:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(SERVERS[name](port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_answer(port)
    return proc, port, time.perf_counter() - t0


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def client(port: int):
    return boto3.client("kms", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 1}))


def timed(fn, n: int) -> float:
    """Median seconds of ``n`` calls."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def measure_crypto(kms, key_id: str, calls: int) -> dict[str, float]:
    """Per-call medians of the cryptographic operations; a row is left out where the server
    refuses the call (moto implements only some of them)."""
    rows = {}

    def row(label, fn):
        try:
            fn()
        except Exception:  # not implemented by this server: no figure
            return
        rows[label] = timed(fn, calls)

    plaintext = bytes(1024)
    blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
    row("boto3 Encrypt 1 KiB (symmetric)", lambda: kms.encrypt(KeyId=key_id, Plaintext=plaintext))
    row("boto3 Decrypt 1 KiB (symmetric)", lambda: kms.decrypt(CiphertextBlob=blob))
    row("boto3 GenerateDataKey AES_256", lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"))
    for spec, algorithm in (("ECC_NIST_P256", "ECDSA_SHA_256"), ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256")):
        try:
            signer = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
            signature = kms.sign(KeyId=signer, Message=b"m", SigningAlgorithm=algorithm)["Signature"]
        except Exception:
            continue
        row(f"boto3 Sign {algorithm}", lambda: kms.sign(KeyId=signer, Message=b"m", SigningAlgorithm=algorithm))
        row(f"boto3 Verify {algorithm}", lambda: kms.verify(
            KeyId=signer, Message=b"m", Signature=signature, SigningAlgorithm=algorithm))
    try:
        mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
        row("boto3 GenerateMac HMAC_SHA_256", lambda: kms.generate_mac(
            KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256"))
    except Exception:
        pass
    return rows


def measure(name: str, calls: int, startups: int) -> dict[str, float]:
    results = {"start-up to first answer": statistics.median(
        [stop(p) or t for p, _, t in (start(name) for _ in range(startups))])}
    proc, port, _ = start(name)
    try:
        kms = client(port)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/bench", TargetKeyId=key_id)
        results["boto3 CreateKey (symmetric)"] = timed(lambda: kms.create_key(), calls)
        results["boto3 DescribeKey by alias"] = timed(lambda: kms.describe_key(KeyId="alias/bench"), calls)
        results["boto3 ListKeys (Limit 10)"] = timed(lambda: kms.list_keys(Limit=10), calls)
        results["boto3 TagResource"] = timed(
            lambda: kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k", "TagValue": "v"}]), calls)
        results.update(measure_crypto(kms, key_id, calls))

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = json.dumps({"KeyId": key_id}).encode()
        headers = {"X-Amz-Target": "TrentService.DescribeKey", "Content-Type": "application/x-amz-json-1.1",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kms/aws4_request, "
                                    "SignedHeaders=host, Signature=0"}

        def raw_describe():
            conn.request("POST", "/", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200

        results["raw HTTP DescribeKey, keep-alive"] = timed(raw_describe, calls)
        conn.close()
    finally:
        stop(proc)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--startups", type=int, default=5)
    args = parser.parse_args()
    ours = measure("fakekms", args.calls, args.startups)
    try:
        theirs = measure("moto", args.calls, args.startups)
    except (RuntimeError, FileNotFoundError) as exc:
        theirs = {}
        print(f"moto server unavailable ({exc}); install moto[server] to compare", file=sys.stderr)
    print(f"{'median':40} {'fakekms':>12} {'moto':>12} {'moto/fakekms':>13}")
    for label, value in ours.items():  # fakekms implements every row
        other = theirs.get(label)
        cols = f"{value * 1e3:10.2f}ms "
        cols += f"{other * 1e3:10.2f}ms {other / value:12.1f}x" if other else f"{'-':>12} {'-':>13}"
        print(f"{label:40} {cols}")
    print(f"({args.calls} calls per row, {args.startups} start-ups; Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
