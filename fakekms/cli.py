"""The ``fakekms`` command: ``serve`` runs the server, ``state`` prints what a running server
holds, ``doctor`` checks a client set-up against it, ``coverage`` prints the operation table.

Every option of ``serve`` may also come from a ``FAKEKMS_<OPTION>`` environment variable
(``FAKEKMS_PORT=0``, ``FAKEKMS_DB=/tmp/kms.db``); a flag on the command line wins. A mistake is
answered with one sentence that names the value and what would be accepted, and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from . import __version__
from .state import DEFAULT_AUDIT_RETENTION

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_EXAMPLES = """\
examples:
  fakekms serve                          serve on http://127.0.0.1:4599, state in memory
  fakekms serve -p 0                     serve on a free port (printed on the first line)
  fakekms serve --db /tmp/kms.db         keep state in a file across restarts
  fakekms serve --seed-file keys.yaml    start with the keys of a seed file
  FAKEKMS_PORT=4600 fakekms serve        any option from a FAKEKMS_<OPTION> variable
  fakekms state                          the keys and aliases a running server holds
  fakekms doctor                         check this shell's AWS set-up against a server

then point a client at it:
  export AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4599
"""


class CLIError(Exception):
    """A mistake of the user's, said in one sentence."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own sentence, then where to read more
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: {message}; see `{self.prog} --help`.\n")


def _env(name: str, default=None):
    return os.environ.get(f"FAKEKMS_{name}", default)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number; give 0 to 65535") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number; give 0 to 65535 (0 picks a free port)")
    return port


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a log level; give one of {', '.join(LOG_LEVELS)}")
    return level


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers; give 1 to 64")
    return count


def _retention(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of events; give 0 or more")
    return count


def _path_list(value: str | None) -> list[str]:
    return [path for path in (value or "").split(os.pathsep) if path]


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fakekms",
        description="A local test double for AWS Key Management Service (KMS).",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fakekms {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    serve = sub.add_parser(
        "serve",
        help="run the KMS server",
        description="Serve the AWS KMS API (JSON 1.1, X-Amz-Target: TrentService.*) over HTTP. "
        "Point any AWS SDK or the AWS CLI at it with --endpoint-url or AWS_ENDPOINT_URL_KMS. "
        "Every option also reads a FAKEKMS_<OPTION> variable (FAKEKMS_PORT, FAKEKMS_DB, ...); "
        "the command line wins.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default=_env("HOST", DEFAULT_HOST),
                       help=f"address to bind (default {DEFAULT_HOST}; FAKEKMS_HOST)")
    serve.add_argument("-p", "--port", type=_port, default=None,
                       help=f"port to listen on; 0 picks a free one (default {DEFAULT_PORT}; FAKEKMS_PORT)")
    serve.add_argument("--db", default=_env("DB", ":memory:"), metavar="PATH",
                       help="SQLite file that keeps state across restarts (default: in memory; FAKEKMS_DB)")
    serve.add_argument("--region", default=_env("REGION", "us-east-1"),
                       help="Region for unsigned requests, e.g. curl (default us-east-1; FAKEKMS_REGION); "
                            "signed requests use the Region of their credential scope")
    serve.add_argument("--seed", default=_env("SEED"), metavar="S",
                       help="deterministic mode: key ids, key material, data keys and IVs come "
                            "from a generator seeded with S, so the same calls on a fresh server "
                            "give the same bytes (default: operating-system randomness; FAKEKMS_SEED)")
    serve.add_argument("--clock", default=_env("CLOCK"), metavar="WHEN",
                       help="start the clock at WHEN (ISO 8601 such as 2030-01-01T00:00:00Z, or "
                            "epoch seconds) instead of now; a reset goes back to it (FAKEKMS_CLOCK)")
    serve.add_argument("--frozen", action="store_true", default=_env("FROZEN", "") not in ("", "0"),
                       help="stop the clock where it starts, so timestamps repeat exactly; it moves "
                            "only through /_fakekms/clock (FAKEKMS_FROZEN)")
    serve.add_argument("--seed-file", action="append", default=None, metavar="PATH",
                       help="create the keys and aliases of this YAML or JSON seed file at start "
                            "and after every reset (repeatable; FAKEKMS_SEED_FILE, several joined "
                            f"with {os.pathsep!r}); a bad file stops the server with exit code 2")
    serve.add_argument("--identities", action="append", default=None, metavar="PATH",
                       help="the callers a signed request can be made by: a YAML or JSON file of "
                            "access keys and their IAM principals (repeatable; FAKEKMS_IDENTITIES, "
                            f"several joined with {os.pathsep!r}); a bad file stops the server with "
                            "exit code 2")
    serve.add_argument("--enforce-policies", action="store_true",
                       default=_env("ENFORCE_POLICIES", "") not in ("", "0"),
                       help="decide every call by key policies, IAM policies and grants, as AWS does "
                            "(default: everything is allowed; FAKEKMS_ENFORCE_POLICIES)")
    serve.add_argument("--verify-signatures", action="store_true",
                       default=_env("VERIFY_SIGNATURES", "") not in ("", "0"),
                       help="check every request's SigV4 signature against the identities' secrets "
                            "(default: not checked; FAKEKMS_VERIFY_SIGNATURES)")
    serve.add_argument("--audit-log", default=_env("AUDIT_LOG"), metavar="PATH",
                       help="append every call's CloudTrail-format audit event to PATH as JSON "
                            "lines (the events are also served at GET /_fakekms/audit; FAKEKMS_AUDIT_LOG)")
    serve.add_argument("--audit-retention", type=_retention, default=None, metavar="N",
                       help="how many of the newest audit events GET /_fakekms/audit keeps "
                            f"(default {DEFAULT_AUDIT_RETENTION}; the --audit-log file keeps all; "
                            "FAKEKMS_AUDIT_RETENTION)")
    serve.add_argument("--workers", type=_workers, default=None, metavar="N",
                       help="worker processes sharing the port (default 1; more than 1 needs --db, "
                            "whose file they share; FAKEKMS_WORKERS)")
    serve.add_argument("--watch-stdin", action="store_true",
                       help="stop when standard input closes: a harness that starts fakekms as "
                            "its child with a pipe on stdin can never leave it running")
    serve.add_argument("--log-level", type=_log_level, default=None,
                       help="server log level, any case (default INFO: a line per call, and why "
                            "each failed call failed; FAKEKMS_LOG_LEVEL)")
    serve.add_argument("-q", "--quiet", action="store_true", default=_env("QUIET", "") not in ("", "0"),
                       help="no line per successful call; failures are still logged (FAKEKMS_QUIET=1)")

    for name, text in (("state", "print the keys and aliases a running fakekms holds"),
                       ("doctor", "check this shell's AWS client set-up against a running fakekms")):
        command = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        command.add_argument("--endpoint", metavar="URL",
                             help="the server (default: AWS_ENDPOINT_URL_KMS, else "
                                  f"http://{DEFAULT_HOST}:{DEFAULT_PORT})")
    sub.choices["state"].add_argument("--json", action="store_true", help="print the JSON of GET /_fakekms/state")

    sub.add_parser("coverage", help="print the table of KMS operations fakekms implements")
    parser.commands = sub.choices
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with the environment's FAKEKMS_* values checked as strictly as flags;
    an unknown flag is reported by the command it was given to."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "serve":
        serve = parser.commands["serve"]
        defaults = {"port": (_port, DEFAULT_PORT), "log_level": (_log_level, "INFO"), "workers": (_workers, 1),
                    "audit_retention": (_retention, DEFAULT_AUDIT_RETENTION)}
        for name, (check, default) in defaults.items():
            if getattr(args, name) is None:  # not on the command line: the environment's, or ours
                value = _env(name.upper())
                try:
                    setattr(args, name, default if value is None else check(value))
                except argparse.ArgumentTypeError as exc:
                    serve.error(f"FAKEKMS_{name.upper()}: {exc}")
        if args.seed_file is None:
            args.seed_file = _path_list(_env("SEED_FILE"))
        if args.identities is None:
            args.identities = _path_list(_env("IDENTITIES"))
    return args


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.quiet:
        logging.getLogger("fakekms.access").setLevel(logging.WARNING)
    from . import server
    from .app import create_app
    from .identities import IdentityError
    from .seedfile import SeedFileError
    from .state import StoreError

    if args.workers > 1 and args.db == ":memory:":
        print("fakekms: --workers above 1 needs --db PATH: in-memory state lives in one process",
              file=sys.stderr)
        return 2
    try:
        port = server.probe(args.host, args.port)
    except OSError as exc:
        print(f"fakekms: cannot listen on {args.host}:{args.port}: {exc.strerror}; "
              "choose another port with --port (or `make serve PORT=...`), or --port 0 for a free one",
              file=sys.stderr)
        return 1

    def make_app():
        app = create_app(args.db, region=args.region, seed=args.seed, seed_files=args.seed_file,
                         audit_log=args.audit_log, audit_retention=args.audit_retention,
                         clock=args.clock, frozen=args.frozen, identity_files=args.identities,
                         enforce_policies=args.enforce_policies, verify_signatures=args.verify_signatures)
        app.workers = args.workers
        return app

    try:
        app = make_app()  # every mistake in the set-up is found here, before any worker starts
    except SeedFileError as exc:
        print(f"fakekms: bad seed file {exc}", file=sys.stderr)
        return 2
    except IdentityError as exc:
        print(f"fakekms: bad identities file {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a --clock that is no time
        print(f"fakekms: --clock: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"fakekms: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fakekms: cannot open {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    persistent = app.store.persistent
    if persistent:
        app.close()  # each worker opens the file itself: a connection must not cross a fork

    endpoint = f"http://{args.host}:{port}"

    def ready() -> None:
        print(f"fakekms {__version__} listening on {endpoint} "
              f"(state: {args.db if persistent else 'in memory'}"
              f"{', seeded' if args.seed is not None else ''}"
              f"{', clock frozen' if args.frozen else ''}"
              f"{f', {args.workers} workers' if args.workers > 1 else ''})", flush=True)
        print(f"point a client at it: export AWS_ENDPOINT_URL_KMS={endpoint} AWS_DEFAULT_REGION={args.region}"
              " (and any AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, e.g. 111122223333 / fakekms)", flush=True)

    stopped_by = server.serve(make_app if persistent else (lambda: app), args.host, port,
                              workers=args.workers, in_memory=not persistent, on_ready=ready,
                              watch_stdin=args.watch_stdin)
    logging.getLogger("fakekms").info(
        "fakekms stopped%s", f" ({signal.Signals(stopped_by).name})" if stopped_by else "")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.command == "serve":
        return serve(args)
    if args.command in ("state", "doctor"):
        from . import clitools

        try:
            return getattr(clitools, args.command)(args)
        except CLIError as exc:
            print(f"fakekms {args.command}: {exc}", file=sys.stderr)
            return 1
    from .coverage import coverage_table

    print(coverage_table())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
