"""The ``fakekms`` command: ``fakekms serve`` runs the server; ``fakekms coverage`` prints the
operation coverage table from the service model and the registered handlers."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from . import __version__
from .state import DEFAULT_AUDIT_RETENTION

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakekms",
        description="A local test double for AWS Key Management Service (KMS).",
    )
    parser.add_argument("--version", action="version", version=f"fakekms {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the KMS server",
        description="Serve the AWS KMS API (JSON 1.1, X-Amz-Target: TrentService.*) over HTTP. "
        "Point any AWS SDK or the AWS CLI at it with --endpoint-url or AWS_ENDPOINT_URL_KMS.",
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"port to listen on; 0 picks a free one (default {DEFAULT_PORT})")
    serve.add_argument("--db", default=":memory:", metavar="PATH",
                       help="SQLite file that keeps state across restarts (default: in memory)")
    serve.add_argument("--region", default="us-east-1",
                       help="Region for unsigned requests, e.g. curl (default us-east-1); signed "
                            "requests use the Region of their credential scope")
    serve.add_argument("--seed", default=None, metavar="S",
                       help="deterministic mode: key ids, key material, data keys and IVs come "
                            "from a generator seeded with S, so the same calls on a fresh server "
                            "give the same bytes (default: operating-system randomness)")
    serve.add_argument("--seed-file", action="append", default=[], metavar="PATH",
                       help="create the keys and aliases of this YAML or JSON seed file at start "
                            "and after every reset (repeatable); a bad file stops the server "
                            "with exit code 2")
    serve.add_argument("--audit-log", default=None, metavar="PATH",
                       help="append every call's CloudTrail-format audit event to PATH as JSON "
                            "lines (the events are also served at GET /_fakekms/audit)")
    serve.add_argument("--audit-retention", type=int, default=DEFAULT_AUDIT_RETENTION, metavar="N",
                       help="how many of the newest audit events GET /_fakekms/audit keeps "
                            f"(default {DEFAULT_AUDIT_RETENTION}; the --audit-log file keeps all)")
    serve.add_argument("--watch-stdin", action="store_true",
                       help="stop when standard input closes: a harness that starts fakekms as "
                            "its child with a pipe on stdin can never leave it running")
    serve.add_argument("--log-level", default="INFO",
                       choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                       help="server log level; INFO logs every failed call and why (default INFO)")

    sub.add_parser("coverage", help="print the table of KMS operations fakekms implements")
    return parser


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from .app import create_app
    from .server import build_server, serve_forever

    from .seedfile import SeedFileError

    if args.audit_retention < 0:
        print("fakekms: --audit-retention must be 0 or more", file=sys.stderr)
        return 2
    try:
        app = create_app(args.db, region=args.region, seed=args.seed, seed_files=args.seed_file,
                         audit_log=args.audit_log, audit_retention=args.audit_retention)
    except SeedFileError as exc:
        print(f"fakekms: bad seed file {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fakekms: cannot open {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        server = build_server(app, args.host, args.port)
    except OSError as exc:
        print(f"fakekms: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    host, port = server.server_address[:2]
    print(f"fakekms {__version__} listening on http://{host}:{port} "
          f"(state: {args.db if app.store.persistent else 'in memory'}"
          f"{', seeded' if args.seed is not None else ''})", flush=True)
    if args.watch_stdin:
        threading.Thread(target=_stop_at_eof, args=(server,), daemon=True).start()
    serve_forever(server)
    app.close()
    return 0


def _stop_at_eof(server) -> None:
    """Waits for standard input to close (the parent exited, however it died), then stops."""
    # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader aborts the
    # interpreter's shutdown.
    while os.read(sys.stdin.fileno(), 4096):
        pass
    server.shutdown()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    from .coverage import coverage_table

    print(coverage_table())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
