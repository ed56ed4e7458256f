"""The cost of --enforce-policies per call: Decrypt by an IAM user with a 5-statement key policy,
one identity policy and 10 grants on the key, with enforcement on beside the same calls with it
off, in one process and in turns of 100 calls so that a slow moment falls on both alike. Calls
go through ``FakeKMS.handle`` (no HTTP, no boto3): the pipeline's own cost.

Usage: ``python benchmarks/enforcement.py [--calls N]``. The goal is under 15% added at the median.
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakekms.app import create_app  # noqa: E402

ACCOUNT = "111122223333"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def _auth(access_key: str) -> str:
    return (f"AWS4-HMAC-SHA256 Credential={access_key}/20240101/us-east-1/kms/aws4_request, "
            "SignedHeaders=host, Signature=0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    calls = parser.parse_args().calls
    app = create_app()
    app.identities.add(__import__("fakekms.identities", fromlist=["parse"]).parse([{
        "access_key_id": "AKIAALICE0000EXAMPLE", "secret_access_key": "s", "arn": ALICE,
        "policies": [{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "a"}}}]}],
    }], "benchmark"))

    def call(op, body, access_key=ACCOUNT):
        status, payload, _ = app.handle("TrentService." + op, json.dumps(body).encode(),
                                        authorization=_auth(access_key))
        assert status == 200, (op, payload)
        return json.loads(payload) if payload else None

    statements = [{"Sid": "root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                   "Action": "kms:*", "Resource": "*"}]
    statements += [{"Sid": f"s{i}", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/r{i}"},
                    "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
                    "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}
                   for i in range(3)]
    statements.append({"Sid": "deny", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt",
                       "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "z"}}})
    key = call("CreateKey", {"Policy": json.dumps({"Version": "2012-10-17", "Statement": statements})})
    key_id = key["KeyMetadata"]["KeyId"]
    for i in range(10):
        call("CreateGrant", {"KeyId": key_id, "GranteePrincipal": f"arn:aws:iam::{ACCOUNT}:role/g{i}",
                             "Operations": ["Decrypt"]})
    blob = call("Encrypt", {"KeyId": key_id, "Plaintext": base64.b64encode(bytes(1024)).decode(),
                            "EncryptionContext": {"tenant": "a"}})["CiphertextBlob"]
    body = {"CiphertextBlob": blob, "EncryptionContext": {"tenant": "a"}}
    samples: dict[bool, list[float]] = {False: [], True: []}
    for enforce in (False, True):  # warm both
        app.enforce_policies = enforce
        for _ in range(50):
            call("Decrypt", body, "AKIAALICE0000EXAMPLE")
    done = 0
    while done < calls:
        for enforce in (False, True):
            app.enforce_policies = enforce
            for _ in range(100):
                started = time.perf_counter()
                call("Decrypt", body, "AKIAALICE0000EXAMPLE")
                samples[enforce].append(time.perf_counter() - started)
        done += 100
    off, on = statistics.median(samples[False]) * 1e6, statistics.median(samples[True]) * 1e6
    print("median per call (memory)                          off          on     on/off")
    print(f"{'Decrypt 1 KiB, 5-statement policy, 10 grants':44} {off:9.1f}us {on:9.1f}us {on / off:9.3f}")
    print(f"({calls} calls per row, in turns of 100; Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d')})")


if __name__ == "__main__":
    main()
