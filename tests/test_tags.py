"""Tags through boto3: AWS's limits, reserved prefix, paging, and no half-written state."""

from __future__ import annotations

import pytest
from helpers import kms_error


@pytest.fixture
def key_id(kms):
    return kms.create_key()["KeyMetadata"]["KeyId"]


def tags(n, prefix="k"):
    return [{"TagKey": f"{prefix}{i}", "TagValue": f"v{i}"} for i in range(n)]


def test_tag_overwrite_untag(kms, key_id):
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}])
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "updated"}])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [
        {"TagKey": "a", "TagValue": "updated"}, {"TagKey": "b", "TagValue": "2"}]
    kms.untag_resource(KeyId=key_id, TagKeys=["a", "not-there"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "b", "TagValue": "2"}]
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    assert kms.list_resource_tags(KeyId=arn)["Tags"] == [{"TagKey": "b", "TagValue": "2"}]


def test_fifty_tags_and_no_more(kms, key_id):
    kms.tag_resource(KeyId=key_id, Tags=tags(50))
    assert len(kms.list_resource_tags(KeyId=key_id)["Tags"]) == 50
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k0", "TagValue": "same key, new value"}])
    kms_error("TagException", kms.tag_resource, KeyId=key_id, Tags=[{"TagKey": "one-more", "TagValue": ""}])
    kms_error("TagException", kms.create_key, Tags=tags(51))
    assert len(kms.list_keys()["Keys"]) == 1


def test_reserved_prefix(kms, key_id):
    for key in ("aws:owner", "AWS:owner"):
        kms_error("TagException", kms.tag_resource, KeyId=key_id, Tags=[{"TagKey": key, "TagValue": "x"}])
    kms_error("TagException", kms.untag_resource, KeyId=key_id, TagKeys=["aws:owner"])
    # A key with reserved tags is not created at all.
    kms_error("TagException", kms.create_key, Tags=[{"TagKey": "ok", "TagValue": "1"},
                                                    {"TagKey": "aws:x", "TagValue": "2"}])
    assert len(kms.list_keys()["Keys"]) == 1
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == []


def test_a_refused_request_writes_nothing(kms, key_id):
    kms_error("TagException", kms.tag_resource, KeyId=key_id,
              Tags=[{"TagKey": "fine", "TagValue": "1"}, {"TagKey": "fine", "TagValue": "2"}])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == []


def test_lengths_are_model_constraints(kms, key_id):
    message = kms_error("ValidationException", kms.tag_resource, KeyId=key_id,
                        Tags=[{"TagKey": "k" * 129, "TagValue": "v"}])
    assert "at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128" in message
    message = kms_error("ValidationException", kms.tag_resource, KeyId=key_id,
                        Tags=[{"TagKey": "ok", "TagValue": "v"}, {"TagKey": "k", "TagValue": "v" * 257}])
    assert "at 'tags.2.member.tagValue'" in message
    kms_error("ValidationException", kms.tag_resource, KeyId=key_id, Tags=[{"TagKey": "", "TagValue": "v"}])
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k" * 128, "TagValue": "v" * 256}])


def test_list_resource_tags_pages(kms, key_id):
    kms.tag_resource(KeyId=key_id, Tags=tags(7))
    seen, marker = [], None
    while True:
        page = kms.list_resource_tags(KeyId=key_id, Limit=3, **({"Marker": marker} if marker else {}))
        seen += [t["TagKey"] for t in page["Tags"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert seen == [f"k{i}" for i in range(7)]
    kms_error("InvalidMarkerException", kms.list_resource_tags, KeyId=key_id, Marker="zzz")
    kms_error("ValidationException", kms.list_resource_tags, KeyId=key_id, Limit=51)


def test_tags_need_an_existing_key(kms):
    missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
    kms_error("NotFoundException", kms.tag_resource, KeyId=missing, Tags=tags(1))
    kms_error("NotFoundException", kms.untag_resource, KeyId=missing, TagKeys=["k0"])
    kms_error("NotFoundException", kms.list_resource_tags, KeyId=missing)
