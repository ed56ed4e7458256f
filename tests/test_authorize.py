"""The authorize step: every key a call touches passes through it, however the call names the key
(key id, alias, a ciphertext, the other Region of a multi-Region key), and so does every alias a
call acts on. An authorizer that refuses one resource proves it for each operation: the call
answers AWS's AccessDeniedException and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, make_client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from test_imports import wrap

from fakekms import ops
from fakekms.app import create_app
from fakekms.authorize import AccessRequest, DefaultAuthorizer, denied
from fakekms.inprocess import mock_kms
from fakekms.ops.lookup import accepts_alias


@dataclass
class Refusing(DefaultAuthorizer):
    """Refuses the resources in ``refused`` and records every request it is asked."""

    refused: set[str] = field(default_factory=set)
    seen: list[AccessRequest] = field(default_factory=list)

    def authorize(self, request: AccessRequest) -> None:
        self.seen.append(request)
        if request.resource in self.refused:
            raise denied(request, "refused by the test")
        super().authorize(request)


@pytest.fixture(scope="module")
def served():
    app = create_app()
    app.authorizer = Refusing()
    with mock_kms(app=app):
        yield app


@pytest.fixture
def env(served):
    served.reset()
    served.authorizer = Refusing()
    return Env(served, make_client(None))


@dataclass
class Env:
    app: object
    kms: object
    operation: str = ""

    @property
    def authorizer(self) -> Refusing:
        return self.app.authorizer

    def key(self, **create) -> dict:
        return self.kms.create_key(**create)["KeyMetadata"]

    def alias_arn(self, name: str) -> str:
        return f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"


def _peer_public_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# Each case prepares what the call needs (nothing refused yet) and answers the resource to refuse
# and the call to make. Keys are named by alias where the operation takes one, to show that the
# key behind an alias is what is authorized.
Case = Callable[[Env], tuple[str, Callable[[], object]]]


def _by_alias(env: Env, meta: dict, member: str = "KeyId") -> str:
    """An alias of the key where the operation takes one, else the key's ARN."""
    if not accepts_alias(env.operation, member):
        return meta["Arn"]
    env.kms.create_alias(AliasName="alias/named", TargetKeyId=meta["KeyId"])
    return "alias/named"


def _symmetric(call: Callable[[Env, str], object]) -> Case:
    def case(env: Env):
        meta = env.key()
        name = _by_alias(env, meta)
        return meta["Arn"], lambda: call(env, name)
    return case


def _of(create: dict, call: Callable[[Env, str], object], *, alias: bool = True) -> Case:
    def case(env: Env):
        meta = env.key(**create)
        name = _by_alias(env, meta) if alias else meta["KeyId"]
        return meta["Arn"], lambda: call(env, name)
    return case


SIGNING = {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}
MAC = {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}
AGREEMENT = {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}
KEM = {"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"}


def _scheduled(env: Env, key_id: str) -> object:
    env.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    return key_id


def _cancel(env: Env):
    meta = env.key()
    env.kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
    return meta["Arn"], lambda: env.kms.cancel_key_deletion(KeyId=meta["KeyId"])


def _decrypt_by_ciphertext(env: Env):
    meta = env.key()
    blob = env.kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    return meta["Arn"], lambda: env.kms.decrypt(CiphertextBlob=blob)


def _re_encrypt_source(env: Env):
    """ReEncrypt's source key is named only inside the ciphertext."""
    source, destination = env.key(), env.key()
    blob = env.kms.encrypt(KeyId=source["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    return source["Arn"], lambda: env.kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])


def _re_encrypt_destination(env: Env):
    source, destination = env.key(), env.key()
    blob = env.kms.encrypt(KeyId=source["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    name = _by_alias(env, destination, "DestinationKeyId")
    return destination["Arn"], lambda: env.kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=name)


def _verify(env: Env):
    meta = env.key(**SIGNING)
    signature = env.kms.sign(KeyId=meta["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    return meta["Arn"], lambda: env.kms.verify(KeyId=meta["KeyId"], Message=b"m", Signature=signature,
                                               SigningAlgorithm="ECDSA_SHA_256")


def _verify_mac(env: Env):
    meta = env.key(**MAC)
    mac = env.kms.generate_mac(KeyId=meta["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    name = _by_alias(env, meta)
    return meta["Arn"], lambda: env.kms.verify_mac(KeyId=name, Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256")


def _import(env: Env):
    meta = env.key(Origin="EXTERNAL")
    params = env.kms.get_parameters_for_import(KeyId=meta["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                               WrappingKeySpec="RSA_2048")
    wrapped = wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", bytes(32))
    return meta["Arn"], lambda: env.kms.import_key_material(
        KeyId=meta["KeyId"], ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")


def _delete_imported(env: Env):
    arn, do_import = _import(env)
    do_import()
    return arn, lambda: env.kms.delete_imported_key_material(KeyId=arn)


def _alias_case(target: str, call: Callable[[Env, dict, dict], object]) -> Case:
    """Alias calls: ``target`` says what is refused: the alias, the key it points to now, or
    the key it is to point to."""
    def case(env: Env):
        current, new = env.key(), env.key()
        env.kms.create_alias(AliasName="alias/moving", TargetKeyId=current["KeyId"])
        refused = {"alias": env.alias_arn("alias/moving"), "current": current["Arn"], "new": new["Arn"]}[target]
        return refused, lambda: call(env, current, new)
    return case


def _create_alias(env: Env):
    target = env.key()
    return env.alias_arn("alias/fresh"), lambda: env.kms.create_alias(AliasName="alias/fresh",
                                                                      TargetKeyId=target["KeyId"])


def _replica_region(env: Env):
    meta = env.key(MultiRegion=True)
    replica_arn = meta["Arn"].replace(REGION, "eu-west-1")
    return replica_arn, lambda: env.kms.replicate_key(KeyId=meta["KeyId"], ReplicaRegion="eu-west-1")


def _update_primary(refuse_replica: bool) -> Case:
    def case(env: Env):
        meta = env.key(MultiRegion=True)
        replica = env.kms.replicate_key(KeyId=meta["KeyId"], ReplicaRegion="eu-west-1")["ReplicaKeyMetadata"]
        refused = replica["Arn"] if refuse_replica else meta["Arn"]
        return refused, lambda: env.kms.update_primary_region(KeyId=meta["KeyId"], PrimaryRegion="eu-west-1")
    return case


def _account(call: Callable[[Env], object]) -> Case:
    """Calls on no key are authorized on the account (``*``)."""
    return lambda env: ("*", lambda: call(env))


GRANTEE = "arn:aws:iam::111122223333:role/grantee"


def _granted(call: Callable[[Env, str, str], object]) -> Case:
    """A call on a grant of a fresh symmetric key."""
    def case(env: Env):
        meta = env.key()
        grant_id = env.kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=GRANTEE,
                                        Operations=["Decrypt"])["GrantId"]
        return meta["Arn"], lambda: call(env, meta["KeyId"], grant_id)
    return case


CASES: dict[str, list[Case]] = {
    "CreateGrant": [_of({}, lambda env, k: env.kms.create_grant(KeyId=k, GranteePrincipal=GRANTEE,
                                                               Operations=["Encrypt"]), alias=False)],
    "ListGrants": [_of({}, lambda env, k: env.kms.list_grants(KeyId=k), alias=False)],
    "ListRetirableGrants": [_account(lambda env: env.kms.list_retirable_grants(RetiringPrincipal=GRANTEE))],
    "RetireGrant": [_granted(lambda env, k, g: env.kms.retire_grant(KeyId=k, GrantId=g))],
    "RevokeGrant": [_granted(lambda env, k, g: env.kms.revoke_grant(KeyId=k, GrantId=g))],
    "CreateKey": [_account(lambda env: env.kms.create_key())],
    "ListKeys": [_account(lambda env: env.kms.list_keys())],
    "GenerateRandom": [_account(lambda env: env.kms.generate_random(NumberOfBytes=8))],
    "DescribeKey": [_symmetric(lambda env, k: env.kms.describe_key(KeyId=k))],
    "EnableKey": [_symmetric(lambda env, k: env.kms.enable_key(KeyId=k))],
    "DisableKey": [_symmetric(lambda env, k: env.kms.disable_key(KeyId=k))],
    "UpdateKeyDescription": [_symmetric(lambda env, k: env.kms.update_key_description(KeyId=k, Description="d"))],
    "ScheduleKeyDeletion": [_symmetric(lambda env, k: _scheduled(env, k))],
    "CancelKeyDeletion": [_cancel],
    "GetKeyLastUsage": [_symmetric(lambda env, k: env.kms.get_key_last_usage(KeyId=k))],
    "TagResource": [_symmetric(lambda env, k: env.kms.tag_resource(KeyId=k, Tags=[{"TagKey": "a", "TagValue": "b"}]))],
    "UntagResource": [_symmetric(lambda env, k: env.kms.untag_resource(KeyId=k, TagKeys=["a"]))],
    "ListResourceTags": [_symmetric(lambda env, k: env.kms.list_resource_tags(KeyId=k))],
    "GetKeyPolicy": [_symmetric(lambda env, k: env.kms.get_key_policy(KeyId=k, PolicyName="default"))],
    "PutKeyPolicy": [_symmetric(lambda env, k: env.kms.put_key_policy(
        KeyId=k, PolicyName="default", Policy='{"Version": "2012-10-17", "Statement": []}'))],
    "ListKeyPolicies": [_symmetric(lambda env, k: env.kms.list_key_policies(KeyId=k))],
    "ListAliases": [_symmetric(lambda env, k: env.kms.list_aliases(KeyId=k)),
                    _account(lambda env: env.kms.list_aliases())],
    "CreateAlias": [_create_alias, _alias_case("new", lambda env, cur, new: env.kms.create_alias(
        AliasName="alias/fresh", TargetKeyId=new["KeyId"]))],
    "UpdateAlias": [_alias_case(target, lambda env, cur, new: env.kms.update_alias(
        AliasName="alias/moving", TargetKeyId=new["KeyId"])) for target in ("alias", "current", "new")],
    "DeleteAlias": [_alias_case(target, lambda env, cur, new: env.kms.delete_alias(AliasName="alias/moving"))
                    for target in ("alias", "current")],
    "Encrypt": [_symmetric(lambda env, k: env.kms.encrypt(KeyId=k, Plaintext=b"p"))],
    "Decrypt": [_decrypt_by_ciphertext],
    "ReEncrypt": [_re_encrypt_source, _re_encrypt_destination],
    "GenerateDataKey": [_symmetric(lambda env, k: env.kms.generate_data_key(KeyId=k, KeySpec="AES_256"))],
    "GenerateDataKeyWithoutPlaintext": [_symmetric(
        lambda env, k: env.kms.generate_data_key_without_plaintext(KeyId=k, KeySpec="AES_256"))],
    "GenerateDataKeyPair": [_symmetric(
        lambda env, k: env.kms.generate_data_key_pair(KeyId=k, KeyPairSpec="ECC_NIST_P256"))],
    "GenerateDataKeyPairWithoutPlaintext": [_symmetric(
        lambda env, k: env.kms.generate_data_key_pair_without_plaintext(KeyId=k, KeyPairSpec="ECC_NIST_P256"))],
    "Sign": [_of(SIGNING, lambda env, k: env.kms.sign(KeyId=k, Message=b"m", SigningAlgorithm="ECDSA_SHA_256"))],
    "Verify": [_verify],
    "GetPublicKey": [_of(SIGNING, lambda env, k: env.kms.get_public_key(KeyId=k))],
    "DeriveSharedSecret": [_of(AGREEMENT, lambda env, k: env.kms.derive_shared_secret(
        KeyId=k, KeyAgreementAlgorithm="ECDH", PublicKey=_peer_public_key()))],
    "Encapsulate": [_of(KEM, lambda env, k: env.kms.encapsulate(KeyId=k, EncapsulationAlgorithm="ML_KEM"))],
    "Decapsulate": [_of(KEM, lambda env, k: env.kms.decapsulate(
        KeyId=k, SharedSecretCiphertextBlob=bytes(1088), EncapsulationAlgorithm="ML_KEM"))],
    "GenerateMac": [_of(MAC, lambda env, k: env.kms.generate_mac(KeyId=k, Message=b"m", MacAlgorithm="HMAC_SHA_256"))],
    "VerifyMac": [_verify_mac],
    "EnableKeyRotation": [_of({}, lambda env, k: env.kms.enable_key_rotation(KeyId=k), alias=False)],
    "DisableKeyRotation": [_of({}, lambda env, k: env.kms.disable_key_rotation(KeyId=k), alias=False)],
    "GetKeyRotationStatus": [_of({}, lambda env, k: env.kms.get_key_rotation_status(KeyId=k), alias=False)],
    "RotateKeyOnDemand": [_of({}, lambda env, k: env.kms.rotate_key_on_demand(KeyId=k), alias=False)],
    "ListKeyRotations": [_of({}, lambda env, k: env.kms.list_key_rotations(KeyId=k), alias=False)],
    "GetParametersForImport": [_of({"Origin": "EXTERNAL"}, lambda env, k: env.kms.get_parameters_for_import(
        KeyId=k, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"), alias=False)],
    "ImportKeyMaterial": [_import],
    "DeleteImportedKeyMaterial": [_delete_imported],
    "ReplicateKey": [_of({"MultiRegion": True}, lambda env, k: env.kms.replicate_key(
        KeyId=k, ReplicaRegion="eu-west-1"), alias=False), _replica_region],
    "UpdatePrimaryRegion": [_update_primary(False), _update_primary(True)],
}


def test_every_operation_has_a_case():
    assert sorted(CASES) == sorted(ops.handlers())


@pytest.mark.parametrize("operation,case", [(op, case) for op, cases in CASES.items() for case in cases],
                         ids=[f"{op}-{n}" for op, cases in CASES.items() for n in range(len(cases))])
def test_a_refused_resource_refuses_the_call(env, operation, case):
    env.operation = operation
    refused, call = case(env)
    before = env.app.views.keys(), env.app.views.aliases()
    env.authorizer.refused.add(refused)
    env.authorizer.seen.clear()
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response["Error"]
    assert error["Code"] == "AccessDeniedException", error
    refusal = next(r for r in env.authorizer.seen if r.resource == refused)
    assert error["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: {refusal.action} on resource: "
        f"{refused} because no resource-based policy allows the {refusal.action} action")
    assert refusal.caller.account == ACCOUNT and refusal.operation == operation
    assert (env.app.views.keys(), env.app.views.aliases()) == before  # nothing was written
    event = env.app.audit_events(operation)[-1]
    assert event["errorCode"] == "AccessDeniedException"
    assert event["additionalEventData"] == {"fakekmsReason": "refused by the test"}


def test_calls_ask_for_every_key_and_alias_they_touch(env):
    """What the authorizer is asked: the operation's action on each resource, in order."""
    source, destination = env.key(), env.key()
    blob = env.kms.encrypt(KeyId=source["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    env.kms.create_alias(AliasName="alias/d", TargetKeyId=destination["KeyId"])
    env.authorizer.seen.clear()
    env.kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId="alias/d")
    env.kms.update_alias(AliasName="alias/d", TargetKeyId=source["KeyId"])
    asked = [(r.action, r.resource) for r in env.authorizer.seen]
    assert asked == [
        ("kms:ReEncryptTo", destination["Arn"]), ("kms:ReEncryptFrom", source["Arn"]),
        ("kms:UpdateAlias", env.alias_arn("alias/d")), ("kms:UpdateAlias", source["Arn"]),
        ("kms:UpdateAlias", destination["Arn"]),
    ]
    primary = env.key(MultiRegion=True)
    env.authorizer.seen.clear()
    env.kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")
    assert [(r.action, r.resource) for r in env.authorizer.seen] == [
        ("kms:ReplicateKey", primary["Arn"]),
        ("kms:CreateKey", primary["Arn"].replace(REGION, "eu-west-1")),
    ]


def test_the_default_authorizer_applies_an_aws_managed_keys_policy(env):
    env.app.authorizer = DefaultAuthorizer()
    kms = env.kms
    blob = kms.encrypt(KeyId="alias/aws/s3", Plaintext=b"p")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    arn = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as info:
        kms.disable_key(KeyId=arn)
    assert info.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: kms:DisableKey on resource: "
        f"{arn} because no resource-based policy allows the kms:DisableKey action")


def test_a_view_neither_writes_nor_makes_managed_keys(env):
    env.kms.encrypt(KeyId=env.key()["KeyId"], Plaintext=b"p")
    events = len(env.app.audit_events())
    keys = env.app.views.keys()
    assert len(keys) == 1 and keys[0]["KeyMetadata"]["KeyState"] == "Enabled"
    assert env.app.views.aliases() == [] and len(env.app.audit_events()) == events
