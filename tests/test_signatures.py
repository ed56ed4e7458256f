"""--verify-signatures: SigV4 checked against the identities' secrets with botocore's signer,
refusals in AWS's words, in both modes."""

from __future__ import annotations

import datetime
import json

import pytest
import yaml
from botocore.exceptions import ClientError
from conftest import make_client

from fakekms.control import start_server
from fakekms.inprocess import mock_kms

ALICE = {"access_key_id": "AKIAALICE0000EXAMPLE", "secret_access_key": "alice-secret",
         "arn": "arn:aws:iam::111122223333:user/alice"}
TEMPORARY = {"access_key_id": "ASIATEMP00000EXAMPLE", "secret_access_key": "temp-secret",
             "session_token": "the-token", "arn": "arn:aws:sts::111122223333:assumed-role/app/s"}
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.")


@pytest.fixture(scope="module", params=["server", "in-process"])
def verified(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("sig") / "identities.yaml"
    path.write_text(yaml.safe_dump({"identities": [ALICE, TEMPORARY]}))
    if request.param == "server":
        with start_server("--verify-signatures", "--identities", str(path)) as srv:
            yield srv.endpoint, srv
    else:
        with mock_kms(verify_signatures=True, identity_files=[str(path)]) as app:
            from fakekms.control import Admin, KMSHandle

            yield None, KMSHandle(Admin(app=app), mode="in-process")


def client(verified, access_key, secret, token=None, region="us-east-1"):
    endpoint, _ = verified
    return make_client(endpoint, region=region, access_key=access_key, secret=secret, token=token)


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    return error["Code"], error.get("Message", "")


def test_a_good_signature_is_made_by_its_identity(verified):
    kms = client(verified, ALICE["access_key_id"], ALICE["secret_access_key"])
    assert kms.create_key()["KeyMetadata"]["AWSAccountId"] == "111122223333"
    temporary = client(verified, TEMPORARY["access_key_id"], TEMPORARY["secret_access_key"], TEMPORARY["session_token"])
    temporary.list_keys()
    _, handle = verified
    assert handle.health()["verify_signatures"] is True
    assert handle.client().create_key()["KeyMetadata"]["AWSAccountId"] == "123456789012"  # the default credentials


def test_refusals_in_aws_words(verified):
    wrong = client(verified, ALICE["access_key_id"], "not-the-secret")
    assert error_of(wrong.list_keys) == ("InvalidSignatureException", MISMATCH)
    unknown = client(verified, "AKIANOBODY00EXAMPLE", "x")
    assert error_of(unknown.list_keys) == ("UnrecognizedClientException",
                                           "The security token included in the request is invalid.")
    no_token = client(verified, TEMPORARY["access_key_id"], TEMPORARY["secret_access_key"])
    assert error_of(no_token.list_keys)[0] == "UnrecognizedClientException"
    other_token = client(verified, TEMPORARY["access_key_id"], TEMPORARY["secret_access_key"], "other")
    assert error_of(other_token.list_keys)[0] == "UnrecognizedClientException"


def test_a_request_dated_more_than_five_minutes_away_is_refused(verified):
    _, handle = verified
    kms = client(verified, ALICE["access_key_id"], ALICE["secret_access_key"])
    handle.clock.advance(minutes=6)
    try:
        code, message = error_of(kms.list_keys)
        assert code == "InvalidSignatureException" and message.startswith("Signature expired: ")
        assert message.endswith(" - 5 min.)")
        handle.clock.set(handle.clock.now() - datetime.timedelta(minutes=12))
        code, message = error_of(kms.list_keys)
        assert message.startswith("Signature not yet current: ")
    finally:
        handle.clock.reset()
    kms.list_keys()


def test_unsigned_and_malformed_requests(tmp_path):
    """Raw HTTP: only the server receives requests botocore did not sign."""
    with start_server("--verify-signatures") as handle:
        _unsigned_and_malformed(handle)


def _unsigned_and_malformed(handle):
    status, _, body = handle.post("/", b"{}", {"X-Amz-Target": "TrentService.ListKeys",
                                               "Content-Type": "application/x-amz-json-1.1"})
    assert status == 400 and json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    status, _, body = handle.post("/", b"{}", {"X-Amz-Target": "TrentService.ListKeys",
                                               "Authorization": "Basic abc"})
    assert json.loads(body)["__type"] == "IncompleteSignatureException"
    assert handle.health()["status"] == "ok"  # admin routes are not signed
