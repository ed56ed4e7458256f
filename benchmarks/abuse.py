"""fakekms under abuse, measured: a fresh client's DescribeKey latency (p50, p99) while 2,000
connections sit idle and 200 send their headers a byte at a time (slowloris), the server's thread
count meanwhile, then 20 rounds of 64 clients connecting at once (resets counted), and model-driven
fuzzed requests over HTTP (5xx answers, bodies that are not AWS JSON, and hangs counted).

Everything runs on loopback against a server this script starts, bounded in count and time.
Usage: ``python benchmarks/abuse.py [--idle N] [--slow N] [--fuzz N]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fuzzing import RequestMaker  # noqa: E402
from under_load import describe_latencies  # noqa: E402

from fakekms.control import start_server  # noqa: E402

AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kms/aws4_request, "
        "SignedHeaders=host, Signature=0")


def threads_of(pid: int) -> int:
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        tasks = os.listdir(f"/proc/{current}/task")
        total += len(tasks)
        for task in tasks:
            pending += [int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
    return total


def p99(samples: list[float]) -> float:
    return sorted(samples)[int(0.99 * (len(samples) - 1))]


def under_idle_and_slow(port: int, pid: int, key_id: str, idle: int, slow: int, calls: int) -> None:
    before = describe_latencies(port, key_id, calls)
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(idle)]
    slowloris = [socket.create_connection(("127.0.0.1", port)) for _ in range(slow)]
    header = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"
    stop = threading.Event()

    def drip():
        position = 0
        while not stop.is_set() and position < len(header):
            for sock in slowloris:
                try:
                    sock.send(header[position:position + 1])
                except OSError:
                    pass
            position += 1
            stop.wait(0.2)

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    time.sleep(0.5)
    during = describe_latencies(port, key_id, calls)
    threads = threads_of(pid)
    stop.set()
    dripper.join()
    for sock in sockets + slowloris:
        sock.close()
    print(f"DescribeKey, {calls} calls         p50 {statistics.median(before) * 1e3:6.2f} ms   "
          f"p99 {p99(before) * 1e3:6.2f} ms   (quiet)")
    print(f"  with {idle} idle + {slow} slowloris  p50 {statistics.median(during) * 1e3:6.2f} ms   "
          f"p99 {p99(during) * 1e3:6.2f} ms   threads in the server: {threads}")


def bursts(port: int, rounds: int, clients: int) -> None:
    request = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\nConnection: close\r\n"
               b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}")
    failures = 0
    for _ in range(rounds):
        barrier = threading.Barrier(clients)

        def one(_):
            barrier.wait()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                    sock.sendall(request)
                    return sock.recv(16).startswith(b"HTTP/1.1 200")
            except OSError:
                return False

        with ThreadPoolExecutor(clients) as pool:
            failures += sum(1 for ok in pool.map(one, range(clients)) if not ok)
    print(f"{rounds} rounds of {clients} clients connecting at once: {failures} resets or failures")


def fuzz(port: int, count: int, key_ids: list[str]) -> None:
    maker = RequestMaker(20_000, key_ids)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    server_errors = not_json = hangs = 0
    for _ in range(count):
        operation, body = maker.request()
        try:
            conn.request("POST", "/", body, {"X-Amz-Target": f"TrentService.{operation}",
                                             "Content-Type": "application/x-amz-json-1.1", "Authorization": AUTH})
            resp = conn.getresponse()
            payload = resp.read()
        except (socket.timeout, TimeoutError):
            hangs += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        except (ConnectionError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        server_errors += resp.status >= 500
        if resp.status >= 400:
            try:
                not_json += "__type" not in json.loads(payload)
            except ValueError:
                not_json += 1
    print(f"{count} fuzzed requests: {server_errors} answered 5xx, {not_json} errors not AWS JSON, {hangs} hangs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--fuzz", type=int, default=20_000)
    args = parser.parse_args()
    with start_server(log_level="ERROR") as server:
        kms = server.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        under_idle_and_slow(server.port, server.pid, key_id, args.idle, args.slow, args.calls)
        bursts(server.port, args.rounds, 64)
        keys = [key_id] + [kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"] for spec, usage in
                           (("ECC_NIST_P256", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC"))]
        kms.create_alias(AliasName="alias/fuzz", TargetKeyId=key_id)
        fuzz(server.port, args.fuzz, keys)
        if "Traceback" in server.log():
            print("the server logged a traceback:\n" + server.log()[-2000:])
    print(f"(loopback, 2 cores; Python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d')})")


if __name__ == "__main__":
    main()
