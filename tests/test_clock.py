"""The controllable clock through the admin route: set, freeze, advance past deletion windows."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from helpers import kms_error, own_aliases

DAY = 86400


@pytest.fixture
def kms(server):
    """The clock is the server's admin route: these tests run against the server process."""
    from conftest import make_client

    server.reset()
    return make_client(server.endpoint)


def clock(server, body=None):
    """POST ``body`` to /_fakekms/clock, or GET it without one: (status, answer)."""
    if body is None:
        status, _, payload = server.request("GET", "/_fakekms/clock")
    else:
        status, _, payload = server.post("/_fakekms/clock", json.dumps(body).encode())
    return status, json.loads(payload)


def test_frozen_time_shows_in_responses(server, kms):
    status, state = clock(server, {"set": "2030-01-02T03:04:05Z", "frozen": True})
    assert status == 200 and state["frozen"] is True
    assert state["iso"] == "2030-01-02T03:04:05+00:00"
    meta = kms.create_key()["KeyMetadata"]
    assert meta["CreationDate"] == dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert clock(server)[1]["now"] == state["now"]  # frozen: it does not move by itself


def test_advancing_past_the_deletion_date_deletes_the_key(server, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/doomed", TargetKeyId=key)
    deletion = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)["DeletionDate"]
    status, state = clock(server, {"advance": 7 * DAY - 60})
    assert status == 200 and state["now"] < deletion.timestamp()
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    clock(server, {"advance": 120})
    kms_error("NotFoundException", kms.describe_key, KeyId=key)
    assert "alias/doomed" not in [a["AliasName"] for a in own_aliases(kms)]


def test_reset_returns_to_the_wall_clock(server, kms):
    clock(server, {"advance": 365 * DAY})
    server.reset()
    status, state = clock(server)
    assert status == 200 and state["frozen"] is False
    assert abs(state["now"] - dt.datetime.now(dt.timezone.utc).timestamp()) < 60


@pytest.mark.parametrize("body", [{}, {"advance": "soon"}, {"advance": True}, {"set": "yesterday"},
                                  {"set": [1]}, {"advance": 1, "set": 2}, {"reset": False},
                                  {"advance": 1e300}, {"advance": float("nan")}, {"set": -1}, {"set": "NaN"}])
def test_bad_clock_requests_are_400(server, kms, body):
    status, answer = clock(server, body)
    assert status == 400 and "error" in answer
    status, _, payload = server.post("/_fakekms/clock", b"{not json")
    assert status == 400 and b"not JSON" in payload


def test_the_latest_clock_still_renders_every_date_it_derives(server, kms):
    """From the latest time the clock takes, a deletion, a rotation 2,560 days on and an import
    expiry still fall in a year a timestamp can show; a later time is refused, not a 500 later."""
    status, answer = clock(server, {"set": "9999-12-31T00:00:00Z", "frozen": True})
    assert status == 400 and "between 1970-01-01 and 9992-01-01" in json.dumps(answer)
    status, state = clock(server, {"set": "9992-01-01T00:00:00Z", "frozen": True})
    assert status == 200
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=2560)
    assert kms.get_key_rotation_status(KeyId=key)["NextRotationDate"].year == 9999
    assert kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=30)["DeletionDate"].year == 9992
    status, _ = clock(server, {"advance": DAY})
    assert status == 400
