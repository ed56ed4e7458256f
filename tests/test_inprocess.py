"""``fakekms.mock_kms``: in-process KMS as a context manager and a decorator, without a socket.
The boto3-level suites run in this mode too (their ``in-process`` parameter); these tests cover
what is particular to it."""

from __future__ import annotations

import os
import socket

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

import fakekms


def aws_client(region: str = "eu-central-1"):
    return boto3.client("kms", region_name=region, config=Config(retries={"max_attempts": 1}))


def test_context_manager_serves_without_a_socket(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("mock_kms opened a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with fakekms.mock_kms() as app:
        kms = aws_client()
        key = kms.create_key(Description="in-process")["KeyMetadata"]
        assert key["Arn"].startswith("arn:aws:kms:eu-central-1:")
        blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"hi")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hi"
        assert app.views.key_count() == 1


def test_decorator_gives_each_call_a_fresh_kms():
    @fakekms.mock_kms()
    def count_after_creating_one():
        kms = aws_client()
        kms.create_key()
        return len(kms.list_keys()["Keys"])

    assert count_after_creating_one() == 1
    assert count_after_creating_one() == 1


def test_errors_arrive_as_botocore_errors():
    with fakekms.mock_kms():
        kms = aws_client()
        with pytest.raises(kms.exceptions.NotFoundException):
            kms.describe_key(KeyId="alias/missing")


def test_clients_with_their_own_endpoint_are_left_alone():
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    closed = f"http://127.0.0.1:{port.getsockname()[1]}"
    port.close()
    with fakekms.mock_kms():
        kms = boto3.client("kms", region_name="us-east-1", endpoint_url=closed,
                           config=Config(retries={"max_attempts": 1}, connect_timeout=1))
        with pytest.raises(EndpointConnectionError):
            kms.list_keys()


def test_seeded_mocks_reproduce_ids():
    def first_key_id():
        with fakekms.mock_kms(seed="in-process"):
            return aws_client().create_key()["KeyMetadata"]["KeyId"]

    assert first_key_id() == first_key_id()


def test_nested_mock_wins_then_hands_back():
    with fakekms.mock_kms() as outer:
        aws_client().create_key()
        with fakekms.mock_kms() as inner:
            aws_client().create_key()
            aws_client().create_key()
            assert inner.views.key_count() == 2
        assert outer.views.key_count() == 1
        assert len(aws_client().list_keys()["Keys"]) == 1


def test_dummy_credentials_only_for_the_mock(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with fakekms.mock_kms():
        assert aws_client().list_keys()["Keys"] == []
    assert "AWS_ACCESS_KEY_ID" not in os.environ
