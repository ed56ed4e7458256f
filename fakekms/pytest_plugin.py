"""The fakekms pytest plugin: KMS for every test, isolated per test, with its clock and its audit
log at hand. Installed means active (the ``pytest11`` entry point); disable with ``-p no:fakekms``.

Fixtures:
    kms_server   session: one fakekms per session (and per xdist worker), with reset(), clock,
                 audit and load_seed_file()
    kms_client   a KMS client for it, on state reset before the test
    kms_env      AWS_ENDPOINT_URL_KMS, Region and dummy credentials set for the test, so code
                 calling boto3.client("kms") reaches fakekms
    kms_clock    the clock: kms_clock.advance(days=30)
    kms_audit    the audit log: kms_audit.assert_called("Decrypt", key=..., encryption_context=...)

Every function-scoped fixture starts its test from a reset fakekms: no keys but the seed files'.
``@pytest.mark.kms_seed_file("keys.yaml")`` adds a seed file's keys for one test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .context import DEFAULT_REGION
from .control import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, Admin, KMSHandle, start_server

_MODES = ("server", "in-process")
# Variables that would send boto3 elsewhere or make it use real credentials.
_CLEARED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakekms", "fakekms: a local AWS KMS for tests")
    group.addoption("--fakekms-mode", choices=_MODES, default=None,
                    help="server: a fakekms process per session (default); in-process: boto3 "
                         "KMS clients bound for AWS are answered inside the test process")
    group.addoption("--fakekms-seed", default=None, metavar="S",
                    help="deterministic mode: key ids, key material and ciphertexts from seed S")
    group.addoption("--fakekms-seed-file", action="append", default=None, metavar="PATH",
                    help="a seed file whose keys every test starts with (repeatable)")
    group.addoption("--fakekms-clock", default=None, metavar="WHEN",
                    help="start fakekms's clock at WHEN (ISO 8601 or epoch seconds); every reset "
                         "goes back to it")
    group.addoption("--fakekms-frozen", action="store_true", default=None,
                    help="stop the clock where it starts (move it with the kms_clock fixture)")
    group.addoption("--fakekms-identities", action="append", default=None, metavar="PATH",
                    help="an identities file: the callers signed requests can be made by (repeatable)")
    group.addoption("--fakekms-enforce-policies", action="store_true", default=None,
                    help="decide calls by key policies, IAM policies and grants, as AWS does")
    group.addoption("--fakekms-verify-signatures", action="store_true", default=None,
                    help="check SigV4 signatures against the identities' secrets")
    group.addoption("--fakekms-db", default=None, metavar="PATH",
                    help="keep state in this SQLite file (default: in memory); under xdist each "
                         "worker gets its own file, PATH with the worker id added")
    group.addoption("--fakekms-region", default=None, metavar="REGION",
                    help=f"Region of the fixtures' clients and environment (default {DEFAULT_REGION})")
    parser.addini("fakekms_mode", "server or in-process", default="server")
    parser.addini("fakekms_seed", "seed for deterministic mode", default=None)
    parser.addini("fakekms_seed_files", "seed files every test starts with", type="paths", default=[])
    parser.addini("fakekms_clock", "where fakekms's clock starts", default=None)
    parser.addini("fakekms_frozen", "stop the clock where it starts", type="bool", default=False)
    parser.addini("fakekms_identities", "identities files", type="paths", default=[])
    parser.addini("fakekms_enforce_policies", "enforce key policies, IAM policies and grants",
                  type="bool", default=False)
    parser.addini("fakekms_verify_signatures", "check SigV4 signatures", type="bool", default=False)
    parser.addini("fakekms_db", "SQLite file for fakekms's state", default=None)
    parser.addini("fakekms_region", "Region of the fixtures' clients", default=DEFAULT_REGION)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kms_seed_file(*paths): load these seed files into fakekms for this test "
                   "(paths relative to the test file)")
    config.addinivalue_line(
        "markers", "kms_enforce_policies: decide this test's calls by key policies, IAM policies "
                   "and grants")


def _setting(config: pytest.Config, name: str):
    value = config.getoption(f"--fakekms-{name.replace('_', '-')}")
    return value if value is not None else config.getini(f"fakekms_{name}")


def _options(config: pytest.Config) -> dict:
    mode = _setting(config, "mode")
    if mode not in _MODES:
        raise pytest.UsageError(f"fakekms_mode must be one of {', '.join(_MODES)}, not {mode!r}")
    cli_files = config.getoption("--fakekms-seed-file")
    seed_files = [str(Path(p).resolve()) for p in cli_files] if cli_files else \
        [str(p) for p in config.getini("fakekms_seed_files")]
    cli_identities = config.getoption("--fakekms-identities")
    identity_files = [str(Path(p).resolve()) for p in cli_identities] if cli_identities else \
        [str(p) for p in config.getini("fakekms_identities")]
    db = _setting(config, "db")
    # xdist's own record of the worker, not PYTEST_XDIST_WORKER: a pytest run inside a worker
    # inherits that variable without being a worker.
    worker = getattr(config, "workerinput", {}).get("workerid")
    if db and worker:  # one store per worker: workers never share state
        base, ext = os.path.splitext(db)
        db = f"{base}-{worker}{ext}"
    return {"mode": mode, "seed": _setting(config, "seed") or None, "seed_files": seed_files,
            "db": db or ":memory:", "region": _setting(config, "region") or DEFAULT_REGION,
            "clock": _setting(config, "clock") or None, "frozen": bool(_setting(config, "frozen")),
            "identity_files": identity_files,
            "enforce_policies": bool(_setting(config, "enforce_policies")),
            "verify_signatures": bool(_setting(config, "verify_signatures"))}


@pytest.fixture(scope="session")
def kms_server(request: pytest.FixtureRequest):
    """The session's fakekms: ``endpoint``, ``reset()``, ``clock``, ``audit``, ``client()``,
    ``load_seed_file(path)``. One per session, and one per xdist worker."""
    options = _options(request.config)
    if options["mode"] == "in-process":
        from .inprocess import mock_kms

        with mock_kms(db=options["db"], region=options["region"], seed=options["seed"],
                      seed_files=options["seed_files"], clock=options["clock"],
                      frozen=options["frozen"], identity_files=options["identity_files"],
                      enforce_policies=options["enforce_policies"],
                      verify_signatures=options["verify_signatures"]) as app:
            yield KMSHandle(Admin(app=app), region=options["region"], mode="in-process")
        return
    args = ["--db", options["db"]]
    if options["seed"] is not None:
        args += ["--seed", options["seed"]]
    for path in options["seed_files"]:
        args += ["--seed-file", path]
    if options["clock"] is not None:
        args += ["--clock", options["clock"]]
    if options["frozen"]:
        args += ["--frozen"]
    for path in options["identity_files"]:
        args += ["--identities", path]
    if options["enforce_policies"]:
        args += ["--enforce-policies"]
    if options["verify_signatures"]:
        args += ["--verify-signatures"]
    try:
        server = start_server(*args, region=options["region"])
    except RuntimeError as exc:
        raise pytest.UsageError(str(exc)) from None
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def _kms_fresh(kms_server: KMSHandle, request: pytest.FixtureRequest) -> KMSHandle:
    """A reset fakekms with the seed files this test's kms_seed_file marks name."""
    kms_server.reset()
    here = Path(request.node.path).parent
    for mark in request.node.iter_markers("kms_seed_file"):
        for path in mark.args:
            kms_server.load_seed_file(str(here / path))
    if request.node.get_closest_marker("kms_enforce_policies") is not None:
        kms_server.admin.call("POST", "authorization", {"enforce_policies": True})
    return kms_server


@pytest.fixture
def kms_client(_kms_fresh: KMSHandle):
    """A boto3 KMS client on fakekms, reset for this test."""
    return _kms_fresh.client()


@pytest.fixture
def kms_env(_kms_fresh: KMSHandle, monkeypatch: pytest.MonkeyPatch) -> KMSHandle:
    """Environment that sends ``boto3.client("kms")`` to fakekms for this test: the endpoint
    (server mode), the Region and dummy credentials. Answers the fakekms handle."""
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    if _kms_fresh.endpoint is not None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", _kms_fresh.endpoint)
    else:
        monkeypatch.delenv("AWS_ENDPOINT_URL_KMS", raising=False)
    monkeypatch.setenv("AWS_REGION", _kms_fresh.region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", _kms_fresh.region)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_KEY)
    try:  # boto3's default session caches credentials and Region from before: drop it
        import boto3

        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    except ImportError:
        pass
    return _kms_fresh


@pytest.fixture
def kms_identity(_kms_fresh: KMSHandle):
    """A factory: ``kms_identity(arn, policies=(), via_service=None, tags=None)`` answers a
    boto3 KMS client whose calls are made by a new identity with that principal ARN, for this test."""
    return _kms_fresh.identity


@pytest.fixture
def kms_clock(_kms_fresh: KMSHandle):
    """fakekms's clock for this test: ``advance(days=...)``, ``set()``, ``freeze()``, ``now()``."""
    return _kms_fresh.clock


@pytest.fixture
def kms_audit(_kms_fresh: KMSHandle):
    """This test's audit events: ``events()``, ``calls()``, ``assert_called()``,
    ``assert_not_called()``, ``last()``."""
    return _kms_fresh.audit
