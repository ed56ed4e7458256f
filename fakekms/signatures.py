"""SigV4 signature checking (``--verify-signatures``): the signature a request carries is
recomputed with botocore's own signer from the caller's secret key, and the request refused in
AWS's words when it does not match, names an unknown key, carries the wrong session token, or is
dated more than five minutes from fakekms's clock."""

from __future__ import annotations

import datetime
import hmac
import re
from dataclasses import dataclass

from . import errors
from .identities import DEFAULT_IDENTITY, Identities, Identity

MAX_SKEW_SECONDS = 5 * 60
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]+)\s*"
)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
             "AWS Secret Access Key and signing method. Consult the service documentation for details.")
_BAD_TOKEN = "The security token included in the request is invalid."


@dataclass
class SignedRequest:
    """What a signature covers: method, path, query, headers (names lowercased), body."""

    method: str
    path: str
    query: str
    headers: dict
    body: bytes


def verify(request: SignedRequest, identities: Identities, now: float) -> Identity:
    """The identity that signed ``request``, or the AWS error that refuses it. The default
    credentials of fakekms's clients (``123456789012`` / ``fakekms``) sign as the default
    account's root."""
    authorization = request.headers.get("authorization")
    if not authorization:
        raise errors.MissingAuthenticationTokenException("Missing Authentication Token")
    found = _AUTHORIZATION.fullmatch(authorization.strip())
    if found is None:
        raise errors.IncompleteSignatureException(
            f"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters "
            f"(AWS4-HMAC-SHA256). Authorization={authorization.split(' ', 1)[0]}",
            detail="the Authorization header is not a SigV4 one")
    credential = found["credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise errors.IncompleteSignatureException(
            f"Credential should be scoped to a valid region, service and aws4_request. Credential={found['credential']}")
    access_key_id, day, region, service, _ = credential
    identity = identities.find(access_key_id) or (DEFAULT_IDENTITY if access_key_id == DEFAULT_IDENTITY.access_key_id
                                                  else None)
    if identity is None:
        raise errors.UnrecognizedClientException(_BAD_TOKEN, detail=f"no identity has access key {access_key_id}")
    if request.headers.get("x-amz-security-token") != identity.session_token:
        raise errors.UnrecognizedClientException(_BAD_TOKEN, detail="the session token does not match the identity's")
    amz_date = request.headers.get("x-amz-date", "")
    try:
        signed_at = datetime.datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise errors.IncompleteSignatureException(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.") from None
    _check_time(signed_at, now)
    signed = found["signed"].split(";")
    missing = [name for name in signed if name not in request.headers]
    if day != amz_date[:8] or missing:
        raise errors.InvalidSignatureException(_MISMATCH, detail=f"scope day {day} or headers {missing} do not fit")
    expected = _signature(request, identity, region, service, signed, amz_date)
    if not hmac.compare_digest(expected, found["signature"]):
        raise errors.InvalidSignatureException(_MISMATCH, detail="the signature does not match the identity's secret")
    return identity


def _check_time(signed_at: datetime.datetime, now: float) -> None:
    clock = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    skew = datetime.timedelta(seconds=MAX_SKEW_SECONDS)
    fmt = _AMZ_DATE
    if signed_at < clock - skew:
        raise errors.InvalidSignatureException(
            f"Signature expired: {signed_at:{fmt}} is now earlier than {clock - skew:{fmt}} "
            f"({clock:{fmt}} - 5 min.)")
    if signed_at > clock + skew:
        raise errors.InvalidSignatureException(
            f"Signature not yet current: {signed_at:{fmt}} is still later than {clock + skew:{fmt}} "
            f"({clock:{fmt}} + 5 min.)")


def _signature(request: SignedRequest, identity: Identity, region: str, service: str, signed: list[str],
               amz_date: str) -> str:
    """botocore's SigV4 signature of the request as the client signed it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    host = request.headers.get("host", "localhost")
    url = f"http://{host}{request.path}" + (f"?{request.query}" if request.query else "")
    aws_request = AWSRequest(method=request.method, url=url, data=request.body,
                             headers={name: request.headers[name] for name in signed})
    aws_request.context["timestamp"] = amz_date
    auth = SigV4Auth(Credentials(identity.access_key_id, identity.secret_access_key, identity.session_token),
                     service, region)
    canonical = auth.canonical_request(aws_request)
    return auth.signature(auth.string_to_sign(aws_request, canonical), aws_request)
