"""The HTTP server under abuse and faults, on loopback and bounded: what the HTTP layer refuses is
answered in AWS's JSON shape, half-sent and idle connections hold no thread, a burst of clients
connecting at once is queued, SIGTERM lets the calls in flight finish, worker processes share a
port and a --db file, and a killed server leaves no worker behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import make_client

from fakekms.control import start_server

TARGET = "TrentService."


def raw_exchange(port: int, data: bytes, timeout: float = 20) -> bytes:
    """Sends ``data`` on a new connection and reads the answer until the server closes it or a
    whole response has come."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
            head, _, body = out.partition(b"\r\n\r\n")
            length = [line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
            if length and len(body) >= int(length[0]):
                break
        return out


def status_and_json(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/x-amz-json-1.1" in head.lower(), answer[:300]
    return int(head.split(b" ", 2)[1]), json.loads(body)


@pytest.fixture(scope="module")
def srv():
    with start_server() as server:
        yield server


@pytest.mark.parametrize("request_bytes, status, code", [
    (b"PATCH / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404, "UnknownOperationException"),
    (b"OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n", 404, "UnknownOperationException"),
    (b"DELETE /keys HTTP/1.1\r\nHost: x\r\n\r\n", 404, "UnknownOperationException"),
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 404, "UnknownOperationException"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 60000 + b"\r\nContent-Length: 2\r\n\r\n{}", 400,
     "UnknownOperationException"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Length: 5000000\r\n\r\n"
     + b" " * 5_000_000, 413, "RequestEntityTooLargeException"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"2\r\n{}\r\n0\r\n\r\n", 200, None),
])
def test_what_the_http_layer_refuses_is_aws_json(srv, request_bytes, status, code):
    answer_status, answer = status_and_json(raw_exchange(srv.port, request_bytes))
    assert answer_status == status
    assert answer.get("__type") == code
    assert srv.call(TARGET + "ListKeys", {})[0] == 200  # still serving


def test_malformed_framing_is_refused_and_the_server_keeps_serving(srv):
    """A bad request line or Content-Length is refused by the HTTP parser itself (hyper's 400,
    with no body: the request never reaches fakekms)."""
    for garbage in (b"GARBAGE\r\n\r\n", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"):
        answer = raw_exchange(srv.port, garbage)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert b"<html" not in answer.lower()
    assert srv.call(TARGET + "ListKeys", {})[0] == 200


def test_a_body_that_never_comes_holds_no_thread_and_times_out(srv):
    stalled = []
    for _ in range(32):  # eight times the app's threads
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        stalled.append(sock)
    try:
        client = make_client(srv.endpoint)
        for _ in range(5):
            assert "Keys" in client.list_keys()
        # The first stalled request is answered once its body is overdue, then closed.
        status, answer = status_and_json(_read_all(stalled[0]))
        assert (status, answer) == (408, {"__type": "RequestTimeoutException",
                                          "message": "The request body did not arrive within 10 seconds."})
    finally:
        for sock in stalled:
            sock.close()


def _read_all(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def test_a_burst_of_clients_connecting_at_once_is_queued_not_reset(srv):
    body = b'{}'
    request = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"
               b"Content-Type: application/x-amz-json-1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n" + body)
    barrier = threading.Barrier(64)

    def one() -> bytes:
        barrier.wait()
        return raw_exchange(srv.port, request)

    for _ in range(20):
        with ThreadPoolExecutor(64) as pool:
            answers = list(pool.map(lambda _: one(), range(64)))
        assert all(a.startswith(b"HTTP/1.1 200 ") for a in answers)


def test_idle_connections_cost_no_thread(srv):
    idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(400)]
    try:
        assert "Keys" in make_client(srv.endpoint).list_keys()
        worker = _worker_of(srv.pid)
        threads = len(os.listdir(f"/proc/{worker}/task"))
        assert threads < 40, f"{threads} threads in the worker with 400 idle connections"
    finally:
        for sock in idle:
            sock.close()


def _worker_of(pid: int) -> int:
    children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    assert len(children) == 1
    return int(children[0])


def test_sigterm_lets_the_calls_in_flight_finish_and_persist(tmp_path):
    db = str(tmp_path / "kms.db")
    with start_server("--db", db) as server:
        client = make_client(server.endpoint)
        with ThreadPoolExecutor(8) as pool:
            calls = [pool.submit(client.create_key, KeySpec="RSA_3072", KeyUsage="SIGN_VERIFY") for _ in range(8)]
            time.sleep(0.2)
            assert server.stop(signal.SIGTERM, timeout=60) == 0
            made = {c.result()["KeyMetadata"]["KeyId"] for c in calls}
    assert len(made) == 8
    with start_server("--db", db) as again:
        assert {k["KeyId"] for k in make_client(again.endpoint).list_keys()["Keys"]} == made


def test_workers_share_the_port_and_the_file(tmp_path):
    db = str(tmp_path / "kms.db")
    with start_server("--db", db, "--workers", "2") as server:
        assert len(open(f"/proc/{server.pid}/task/{server.pid}/children").read().split()) == 2
        client = make_client(server.endpoint)
        with ThreadPoolExecutor(4) as pool:
            made = set(pool.map(lambda _: make_client(server.endpoint).create_key()["KeyMetadata"]["KeyId"],
                                range(40)))
        for _ in range(6):  # whichever worker answers, it sees every key
            assert {k["KeyId"] for k in client.list_keys(Limit=1000)["Keys"]} == made
        assert server.health()["workers"] == 2
        status, _, answer = server.post("/_fakekms/clock", json.dumps({"advance": 60}).encode())
        assert status == 409 and "would change one worker's state" in json.loads(answer)["error"]


def test_workers_need_a_db_file():
    out = subprocess.run([sys.executable, "-m", "fakekms", "serve", "--port", "0", "--workers", "2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr == "fakekms: --workers above 1 needs --db PATH: in-memory state lives in one process\n"


def test_a_killed_server_leaves_no_worker_serving():
    server = start_server()
    worker = _worker_of(server.pid)
    server.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{worker}"):
        if open(f"/proc/{worker}/stat").read().split()[2] == "Z":
            break
        time.sleep(0.05)
    alive = os.path.exists(f"/proc/{worker}") and open(f"/proc/{worker}/stat").read().split()[2] != "Z"
    assert not alive  # (its port is free again, and may already serve another test's server)
