"""The policy language module on its own: statements, elements, every condition operator family,
quantifiers, IfExists, missing keys and policy variables, as the IAM documentation states them."""

from __future__ import annotations

import pytest

from fakekms.policy import PolicyError, Principal, Request, describe, evaluate, parse

ACCOUNT = "111122223333"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = Principal(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT)
SESSION = Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/app/worker", ACCOUNT, role=f"arn:aws:iam::{ACCOUNT}:role/app")
ROOT = Principal(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
STRANGER = Principal("arn:aws:iam::444455556666:user/mallory", "444455556666")
S3 = Principal("s3.amazonaws.com", ACCOUNT, service="s3.amazonaws.com")


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(**extra):
    return {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", **extra}


def effect(document, action="kms:Decrypt", principal=ALICE, resource=KEY, context=None, resource_policy=True):
    request = Request(action, resource, principal, context or {})
    return evaluate(document, request, resource_policy=resource_policy).effect


# --- statements and elements ------------------------------------------------------------------

def test_a_deny_wins_over_any_allow():
    policy = doc(allow(Principal={"AWS": "*"}), {**allow(Principal={"AWS": "*"}), "Effect": "Deny", "Sid": "no"})
    assert effect(policy) == "Deny"
    verdict = evaluate(policy, Request("kms:Decrypt", KEY, ALICE), resource_policy=True)
    assert [m.sid for m in verdict.denies] == ["no"] and "statement 'no' (Deny)" == describe(verdict.denies[0])


def test_nothing_applies_without_a_matching_statement():
    assert effect(doc(allow(Principal={"AWS": "*"})), action="kms:Encrypt") is None


@pytest.mark.parametrize("action, pattern, matches", [
    ("kms:Decrypt", "kms:*", True), ("kms:Decrypt", "KMS:decrypt", True), ("kms:DescribeKey", "kms:Describe*", True),
    ("kms:Decrypt", "kms:Describe*", False), ("kms:GenerateDataKey", "kms:GenerateDataKey?", False),
    ("kms:ReEncryptFrom", "kms:ReEncrypt*", True), ("kms:Decrypt", "s3:*", False), ("kms:Sign", "*", True),
])
def test_action_wildcards(action, pattern, matches):
    policy = doc({"Effect": "Allow", "Action": pattern, "Resource": "*", "Principal": "*"})
    assert (effect(policy, action=action) == "Allow") is matches


def test_not_action_and_not_resource():
    policy = doc({"Effect": "Allow", "NotAction": ["kms:ScheduleKeyDeletion", "kms:Put*"], "Resource": "*",
                  "Principal": "*"})
    assert effect(policy, action="kms:Decrypt") == "Allow"
    assert effect(policy, action="kms:PutKeyPolicy") is None
    other = KEY.replace("1234abcd", "99999999")
    policy = doc({"Effect": "Allow", "Action": "kms:*", "NotResource": KEY, "Principal": "*"})
    assert effect(policy) is None and effect(policy, resource=other) == "Allow"


def test_resource_patterns_are_case_sensitive_wildcards():
    for pattern, matches in ((KEY, True), ("arn:aws:kms:us-east-1:111122223333:key/*", True),
                             ("arn:aws:kms:*:111122223333:*", True), (KEY.upper(), False),
                             ("arn:aws:kms:us-west-2:111122223333:key/*", False)):
        policy = doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": pattern, "Principal": "*"})
        assert (effect(policy) == "Allow") is matches, pattern


@pytest.mark.parametrize("aws, principal, matches", [
    ("*", STRANGER, True),
    (ACCOUNT, ALICE, True), (f"arn:aws:iam::{ACCOUNT}:root", ALICE, True), (f"arn:aws:iam::{ACCOUNT}:root", STRANGER, False),
    (ALICE.arn, ALICE, True), (ALICE.arn, ROOT, False),
    (f"arn:aws:iam::{ACCOUNT}:role/app", SESSION, True), (SESSION.arn, SESSION, True),
    (f"arn:aws:iam::{ACCOUNT}:role/other", SESSION, False), (["444455556666", ALICE.arn], ALICE, True),
])
def test_principals(aws, principal, matches):
    assert (effect(doc(allow(Principal={"AWS": aws})), principal=principal) == "Allow") is matches


def test_service_principals_and_not_principal():
    assert effect(doc(allow(Principal={"Service": "s3.amazonaws.com"})), principal=S3) == "Allow"
    assert effect(doc(allow(Principal={"Service": "s3.amazonaws.com"})), principal=ALICE) is None
    assert effect(doc(allow(Principal={"AWS": "*"})), principal=S3) is None
    deny_others = doc(allow(Principal="*"), {"Effect": "Deny", "Action": "kms:*", "Resource": "*",
                                             "NotPrincipal": {"AWS": ALICE.arn}})
    assert effect(deny_others, principal=ALICE) == "Allow"
    assert effect(deny_others, principal=STRANGER) == "Deny"


def test_identity_policies_name_no_principal():
    identity = doc(allow())
    assert effect(identity, resource_policy=False) == "Allow"
    verdict = evaluate(identity, Request("kms:Decrypt", KEY, ALICE), resource_policy=True)
    assert verdict.effect is None and "must name a Principal" in verdict.near[0].missed


def test_near_misses_say_what_did_not_match():
    policy = doc(allow(Sid="ctx", Principal={"AWS": "*"},
                       Condition={"StringEquals": {"kms:EncryptionContext:tenant": "a"}}))
    verdict = evaluate(policy, Request("kms:Decrypt", KEY, ALICE, {"kms:EncryptionContext:tenant": "b"}),
                       resource_policy=True)
    assert verdict.effect is None
    assert "kms:EncryptionContext:tenant" in describe(verdict.near[0]) and verdict.near[0].sid == "ctx"


@pytest.mark.parametrize("bad", ["{", "[]", '{"Version": "2012-10-17"}', '{"Statement": [{"Effect": "Maybe", "Action": "*"}]}',
                                 '{"Statement": [{"Effect": "Allow"}]}', '{"Statement": 5}'])
def test_documents_that_are_not_policies(bad):
    with pytest.raises(PolicyError):
        parse(bad)


def test_a_single_statement_object_is_a_list_of_one():
    assert parse({"Statement": {"Effect": "Allow", "Action": "*"}})["Statement"][0]["Effect"] == "Allow"


# --- conditions -------------------------------------------------------------------------------------

def holds(condition, context) -> bool:
    return effect(doc(allow(Principal="*", Condition=condition)), context=context) == "Allow"


@pytest.mark.parametrize("condition, context, expected", [
    ({"StringEquals": {"kms:EncryptionContext:tenant": "a"}}, {"kms:EncryptionContext:tenant": "a"}, True),
    ({"StringEquals": {"kms:EncryptionContext:tenant": "a"}}, {"kms:EncryptionContext:tenant": "A"}, False),
    ({"StringEquals": {"kms:EncryptionContext:tenant": ["x", "a"]}}, {"kms:EncryptionContext:tenant": "a"}, True),
    ({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "alice"}, True),
    ({"StringNotEquals": {"kms:CallerAccount": ACCOUNT}}, {"kms:CallerAccount": ACCOUNT}, False),
    ({"StringNotEquals": {"kms:CallerAccount": ACCOUNT}}, {"kms:CallerAccount": "444455556666"}, True),
    ({"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "bob"}, True),
    ({"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}, {"kms:ViaService": "s3.us-east-1.amazonaws.com"}, True),
    ({"StringLike": {"kms:ViaService": "s3.?.amazonaws.com"}}, {"kms:ViaService": "s3.us-east-1.amazonaws.com"}, False),
    ({"StringNotLike": {"kms:ViaService": "ec2.*"}}, {"kms:ViaService": "s3.us-east-1.amazonaws.com"}, True),
    ({"NumericLessThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": "10"}},
     {"kms:ScheduleKeyDeletionPendingWindowInDays": 7}, True),
    ({"NumericGreaterThan": {"kms:RotationPeriodInDays": "365"}}, {"kms:RotationPeriodInDays": 90}, False),
    ({"NumericEquals": {"kms:RotationPeriodInDays": "90"}}, {"kms:RotationPeriodInDays": 90}, True),
    ({"NumericNotEquals": {"kms:RotationPeriodInDays": "90"}}, {"kms:RotationPeriodInDays": 91}, True),
    ({"NumericLessThan": {"kms:RotationPeriodInDays": "abc"}}, {"kms:RotationPeriodInDays": 1}, False),
    ({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2029-12-31T23:59:59Z"}, True),
    ({"DateGreaterThanEquals": {"aws:EpochTime": "1893456000"}}, {"aws:EpochTime": 1893456000}, True),
    ({"DateNotEquals": {"kms:ValidTo": "2030-01-01T00:00:00Z"}}, {"kms:ValidTo": 1893456000}, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, True),
    ({"Bool": {"kms:MultiRegion": "false"}}, {"kms:MultiRegion": True}, False),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"}, True),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, True),
    ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "2001:db8::1"}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app*"}}, {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/app-1"}, True),
    ({"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/app"}}, {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/apps"}, False),
    ({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}}, {"aws:PrincipalArn": ALICE.arn}, True),
    ({"BinaryEquals": {"kms:RecipientAttestation:ImageSha384": "QUJD"}}, {"kms:RecipientAttestation:ImageSha384": "QUJD"}, True),
])
def test_operators(condition, context, expected):
    assert holds(condition, context) is expected


def test_missing_keys_ifexists_and_null():
    # A missing key fails a positive operator, passes a negated one and every IfExists form.
    assert holds({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}, {}) is False
    assert holds({"StringNotEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}, {}) is True
    assert holds({"StringEqualsIfExists": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}, {}) is True
    assert holds({"StringEqualsIfExists": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
                 {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}) is False
    assert holds({"Null": {"kms:EncryptionContextKeys": "true"}}, {}) is True
    assert holds({"Null": {"kms:EncryptionContextKeys": "false"}}, {"kms:EncryptionContextKeys": ["a"]}) is True
    assert holds({"Null": {"kms:EncryptionContextKeys": "true"}}, {"kms:EncryptionContextKeys": ["a"]}) is False


def test_multiple_keys_and_operators_are_anded():
    condition = {"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "s3.us-east-1.amazonaws.com"},
                 "Bool": {"aws:SecureTransport": "true"}}
    context = {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "s3.us-east-1.amazonaws.com", "aws:SecureTransport": True}
    assert holds(condition, context) is True
    assert holds(condition, {**context, "aws:SecureTransport": False}) is False
    assert holds(condition, {**context, "kms:CallerAccount": "444455556666"}) is False


@pytest.mark.parametrize("operator, wanted, keys, expected", [
    ("ForAllValues:StringEquals", ["tenant", "purpose"], ["tenant"], True),
    ("ForAllValues:StringEquals", ["tenant", "purpose"], ["tenant", "other"], False),
    ("ForAllValues:StringEquals", ["tenant"], None, True),  # vacuously true
    ("ForAnyValue:StringEquals", ["tenant"], ["other", "tenant"], True),
    ("ForAnyValue:StringEquals", ["tenant"], ["other"], False),
    ("ForAnyValue:StringEquals", ["tenant"], None, False),
    ("ForAnyValue:StringLike", ["ten*"], ["tenant"], True),
    ("ForAllValues:StringNotEquals", ["secret"], ["tenant", "purpose"], True),
    ("ForAnyValue:StringNotEquals", ["tenant"], ["tenant"], False),
])
def test_quantifiers(operator, wanted, keys, expected):
    context = {} if keys is None else {"kms:EncryptionContextKeys": keys}
    assert holds({operator: {"kms:EncryptionContextKeys": wanted}}, context) is expected


def test_condition_key_names_are_case_insensitive():
    assert holds({"StringEquals": {"KMS:CALLERACCOUNT": ACCOUNT}}, {"kms:CallerAccount": ACCOUNT}) is True


def test_policy_variables():
    by_name = {"StringEquals": {"kms:EncryptionContext:owner": "${aws:username}"}}
    assert holds(by_name, {"aws:username": "alice", "kms:EncryptionContext:owner": "alice"}) is True
    assert holds(by_name, {"aws:username": "alice", "kms:EncryptionContext:owner": "bob"}) is False
    assert holds(by_name, {"kms:EncryptionContext:owner": "${aws:username}"}) is False  # unresolved: no match
    by_tag = {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
    assert holds(by_tag, {"aws:PrincipalTag/team": "red", "aws:ResourceTag/team": "red"}) is True
    literal = {"StringEquals": {"kms:EncryptionContext:note": "a${*}b${?}${$}"}}
    assert holds(literal, {"kms:EncryptionContext:note": "a*b?$"}) is True
    resource = doc({"Effect": "Allow", "Action": "kms:*", "Principal": "*",
                    "Resource": "arn:aws:kms:us-east-1:111122223333:key/${aws:username}-*"})
    assert effect(resource, resource="arn:aws:kms:us-east-1:111122223333:key/alice-1",
                  context={"aws:username": "alice"}) == "Allow"
    assert effect(resource, resource="arn:aws:kms:us-east-1:111122223333:key/bob-1",
                  context={"aws:username": "alice"}) is None


def test_an_unknown_operator_never_matches():
    assert holds({"StringSortOf": {"aws:username": "alice"}}, {"aws:username": "alice"}) is False
