"""``fakekms state`` and ``fakekms doctor``: what a running server holds, and whether this shell's
AWS client settings reach it. Both talk to the server over HTTP, as a user's client would."""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request

from .cli import DEFAULT_HOST, DEFAULT_PORT, CLIError
from .pipeline import account_for

# botocore learnt AWS_ENDPOINT_URL_<SERVICE> (service-specific endpoints) in 1.31.0.
ENDPOINT_VARIABLE_SINCE = (1, 31, 0)


def endpoint_of(args: argparse.Namespace) -> tuple[str, str]:
    """(URL, where it came from)."""
    if args.endpoint:
        return args.endpoint.rstrip("/"), "--endpoint"
    for name in ("AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"):
        if os.environ.get(name):
            return os.environ[name].rstrip("/"), name
    return f"http://{DEFAULT_HOST}:{DEFAULT_PORT}", "the default"


def admin_get(endpoint: str, route: str) -> dict:
    """GET /_fakekms/<route>; CLIError saying what to do if no fakekms answers there."""
    url = f"{endpoint}/_fakekms/{route}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the user's own URL
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise CLIError(f"{endpoint} answered HTTP {exc.code} to GET /_fakekms/{route}: it is not a "
                       "fakekms of this version; give --endpoint the URL `fakekms serve` printed") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CLIError(f"nothing answers at {endpoint} ({reason}); start one with `fakekms serve` or "
                       "`make serve`, or give --endpoint the URL it printed") from None


# --- state -------------------------------------------------------------------------------------

def state(args: argparse.Namespace) -> int:
    endpoint, _ = endpoint_of(args)
    answer = admin_get(endpoint, "state")
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    print(format_state(answer, endpoint))
    return 0


def format_state(answer: dict, endpoint: str) -> str:
    """The state as a table per account and Region."""
    groups = answer["accounts"]
    if not groups:
        return f"{endpoint} holds no keys and no aliases."
    lines = []
    for group in groups:
        lines.append(f"account {group['Account']}, {group['Region']}: {len(group['Keys'])} key(s), "
                     f"{len(group['Aliases'])} alias(es)")
        rows = [("KEY ID", "STATE", "KEY SPEC", "KEY USAGE", "ALIASES")]
        rows += [(k["KeyId"], k["KeyState"], k["KeySpec"], k["KeyUsage"], ", ".join(k["Aliases"]) or "-")
                 for k in group["Keys"]]
        widths = [max(len(row[n]) for row in rows) for n in range(4)]
        for row in rows:
            lines.append("  " + "  ".join(cell.ljust(widths[n]) for n, cell in enumerate(row[:4])) + "  " + row[4])
        orphans = [a["AliasName"] for a in group["Aliases"] if a["TargetKeyId"] not in
                   {k["KeyId"] for k in group["Keys"]}]
        if orphans:
            lines.append(f"  aliases without a key here: {', '.join(orphans)}")
    return "\n".join(lines)


# --- doctor ------------------------------------------------------------------------------------

def doctor(args: argparse.Namespace) -> int:
    """Checks, in the order a client meets them, and a sentence for each problem."""
    import botocore
    import botocore.session

    endpoint, source = endpoint_of(args)
    problems: list[str] = []

    def ok(text: str) -> None:
        print(f"ok    {text}")

    def fix(text: str) -> None:
        problems.append(text)
        print(f"FIX   {text}")

    try:
        health = admin_get(endpoint, "health")
        ok(f"fakekms {health['version']} answers at {endpoint} (from {source}); its state is "
           f"{health['backend']}, {health['keys']} key(s)")
    except CLIError as exc:
        fix(str(exc))
        health = None

    version = tuple(int(part) for part in botocore.__version__.split(".")[:3])
    if version >= ENDPOINT_VARIABLE_SINCE:
        ok(f"botocore {botocore.__version__} reads AWS_ENDPOINT_URL_KMS")
    else:
        fix(f"botocore {botocore.__version__} ignores AWS_ENDPOINT_URL_KMS (it needs 1.31.0 or newer): "
            "upgrade boto3/botocore, or give every client endpoint_url=" + endpoint)

    variable = os.environ.get("AWS_ENDPOINT_URL_KMS") or os.environ.get("AWS_ENDPOINT_URL")
    if not variable:
        fix(f"AWS_ENDPOINT_URL_KMS is not set, so SDKs and the AWS CLI in this shell call AWS itself: "
            f"export AWS_ENDPOINT_URL_KMS={endpoint}")
    elif variable.rstrip("/") != endpoint:
        fix(f"AWS_ENDPOINT_URL_KMS is {variable}, not {endpoint}: clients here go to the former")
    else:
        ok(f"AWS_ENDPOINT_URL_KMS sends this shell's clients to {endpoint}")

    session = botocore.session.get_session()
    region = session.get_config_variable("region")
    if region:
        ok(f"Region {region}")
    else:
        fix("no Region is configured, so clients stop with 'You must specify a region': "
            "export AWS_DEFAULT_REGION=us-east-1 (any Region; fakekms keeps each apart)")
    credentials = session.get_credentials()
    if credentials is None:
        fix("no credentials are configured, so clients stop with 'Unable to locate credentials': "
            "export AWS_ACCESS_KEY_ID=111122223333 AWS_SECRET_ACCESS_KEY=fakekms (any values; a "
            "12-digit key id is taken as your account)")
    else:
        access_key = credentials.get_frozen_credentials().access_key
        ok(f"credentials found; fakekms takes access key {access_key!r} as account {account_for(access_key)}")

    if health is not None and region and credentials is not None:
        client = session.create_client("kms", region_name=region, endpoint_url=endpoint)
        try:
            keys = client.list_keys()["Keys"]
            ok(f"ListKeys through botocore answered: {len(keys)} key(s) in account "
               f"{account_for(credentials.get_frozen_credentials().access_key)}, {region}")
        except Exception as exc:  # whatever the client says is the diagnosis
            fix(f"ListKeys through botocore failed: {exc}")
    if problems:
        print(f"{len(problems)} thing(s) to fix.")
        return 1
    print("all set: clients in this shell reach fakekms.")
    return 0
