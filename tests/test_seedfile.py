"""Seed files: the documented examples load as documented, their material is the file's (or
derived the same way every time), loading is idempotent and survives reset, and every kind of
bad file is refused whole, naming the file, the entry and the reason."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import make_client
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from helpers import kms_error, opens_with, own_aliases

from fakekms import seedfile
from fakekms.control import AdminError, start_server
from fakekms.crypto import ciphertext

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KEYS_YAML = str(FIXTURES / "keys.yaml")
ACCOUNT = "111122223333"  # the account keys.yaml puts its keys in
ORDERS = "1234abcd-12ab-34cd-56ef-1234567890ab"
ORDERS_MATERIAL = bytes(range(32))
SIGNING = "11111111-2222-4333-8444-555555555555"
# The example's signing key, given in the file as a PEM private key.
SIGNING_PEM = next(k["KeyMaterial"] for k in yaml.safe_load(Path(KEYS_YAML).read_text())["Keys"]
                   if k["KeyId"] == SIGNING)
KEY = "abababab-abab-4bab-8bab-abababababab"
GRANTEE = "arn:aws:iam::111122223333:role/app"
OTHER = "cdcdcdcd-cdcd-4cdc-8cdc-cdcdcdcdcdcd"
MRK = "mrk-1234abcd12ab34cd56ef1234567890ab"


@pytest.fixture(scope="module")
def seeded():
    with start_server("--seed-file", KEYS_YAML) as srv:
        yield srv


@pytest.fixture
def kms(seeded):
    seeded.reset()
    return make_client(seeded.endpoint, "us-east-1", ACCOUNT)


def test_the_example_file_makes_every_key_it_describes(kms):
    keys = {k["KeyId"]: kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]}
    assert len(keys) == 8
    orders = keys[ORDERS]
    assert orders["Description"] == "orders envelope key"
    assert orders["Arn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{ORDERS}"
    assert (orders["KeySpec"], orders["KeyUsage"], orders["KeyState"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "Enabled")
    assert kms.list_resource_tags(KeyId=ORDERS)["Tags"] == [
        {"TagKey": "team", "TagValue": "payments"}, {"TagKey": "env", "TagValue": "test"}]
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in own_aliases(kms)}
    assert aliases == {"alias/orders": ORDERS, "alias/orders-legacy": ORDERS,
                       "alias/rotated": "0987dcba-09fe-87dc-65ba-ab0987654321", "alias/signing": SIGNING,
                       "alias/mac": "22222222-3333-4444-8555-666666666666"}
    assert (keys[SIGNING]["KeySpec"], keys[SIGNING]["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert keys["22222222-3333-4444-8555-666666666666"]["MacAlgorithms"] == ["HMAC_SHA_256"]
    mrk = keys["mrk-1234abcd12ab34cd56ef1234567890ab"]
    assert mrk["MultiRegion"] is True
    assert json.loads(kms.get_key_policy(KeyId=mrk["KeyId"])["Policy"])["Statement"][0]["Action"] == "kms:*"
    assert keys["33333333-4444-4555-8666-777777777777"]["KeyState"] == "Disabled"
    pending = keys["44444444-5555-4666-8777-888888888888"]
    assert pending["KeyState"] == "PendingDeletion" and pending["PendingDeletionWindowInDays"] == 7
    external = keys["55555555-6666-4777-8888-999999999999"]
    assert (external["Origin"], external["KeyState"]) == ("EXTERNAL", "PendingImport")


def test_fixed_symmetric_material_is_the_files(kms):
    """A ciphertext fakekms makes opens with the file's 32 bytes and plain AES-GCM."""
    blob = kms.encrypt(KeyId="alias/orders", Plaintext=b"hello", EncryptionContext={"a": "b"})["CiphertextBlob"]
    sealed = ciphertext.parse(blob)
    assert sealed.key_id == ORDERS
    assert opens_with(blob, ORDERS_MATERIAL, {"a": "b"}) == b"hello"


def test_fixed_asymmetric_material_is_the_files(kms):
    private = serialization.load_pem_private_key(SIGNING_PEM.encode(), password=None)
    public = kms.get_public_key(KeyId="alias/signing")["PublicKey"]
    assert public == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    signature = kms.sign(KeyId=SIGNING, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


def test_a_seeded_multi_region_key_has_its_replica_and_rotates(seeded, kms):
    replica = make_client(seeded.endpoint, "ap-southeast-2", ACCOUNT)
    there = replica.describe_key(KeyId=MRK)["KeyMetadata"]
    assert there["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert there["MultiRegionConfiguration"]["PrimaryKey"]["Region"] == "us-east-1"
    assert there["Description"] == "" and there["CurrentKeyMaterialId"] == \
        kms.describe_key(KeyId=MRK)["KeyMetadata"]["CurrentKeyMaterialId"]
    blob = kms.encrypt(KeyId=MRK, Plaintext=b"crosses")["CiphertextBlob"]
    assert replica.decrypt(CiphertextBlob=blob)["Plaintext"] == b"crosses"
    status = replica.get_key_rotation_status(KeyId=MRK)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180
    seeded.clock.advance(days=181)
    assert [r["RotationType"] for r in replica.list_key_rotations(KeyId=MRK)["Rotations"]] == ["AUTOMATIC"]
    assert replica.decrypt(CiphertextBlob=blob)["Plaintext"] == b"crosses"


def test_a_rotated_key_has_every_version(seeded, tmp_path):
    """Two given versions: the second is current, and a blob sealed under the first still opens."""
    old, new = b"\x01" * 32, b"\x02" * 32
    path = _write(tmp_path, {"Keys": [{"KeyId": KEY, "KeyMaterial": [
        base64.b64encode(old).decode(), base64.b64encode(new).decode()]}]})
    seeded.reset()
    seeded.load_seed_file(path)
    kms = make_client(seeded.endpoint, "us-east-1", "123456789012")  # the file names no account
    blob = kms.encrypt(KeyId=KEY, Plaintext=b"now")["CiphertextBlob"]
    assert ciphertext.parse(blob).version == 2
    metadata = kms.describe_key(KeyId=KEY)["KeyMetadata"]
    assert len(metadata["CurrentKeyMaterialId"]) == 64
    # The blob layout the README documents, built by hand around material version 1.
    header = ciphertext.PREFIX + bytes([12]) + b"123456789012" + bytes([len(KEY)]) + KEY.encode() + (1).to_bytes(4, "big")
    iv = b"\x07" * 12
    sealed_v1 = header + iv + AESGCM(old).encrypt(iv, b"then", header + ciphertext.encode_context(None))
    assert kms.decrypt(CiphertextBlob=sealed_v1)["Plaintext"] == b"then"


def test_derived_material_is_the_same_on_every_server_and_differs_by_seed(tmp_path):
    minimal = str(FIXTURES / "minimal.json")
    with start_server("--seed-file", minimal) as a, start_server("--seed-file", minimal) as b, \
            start_server("--seed-file", minimal, "--seed", "other") as c:
        blob = make_client(a.endpoint, "us-east-1", "123456789012").encrypt(
            KeyId="alias/app", Plaintext=b"shared")["CiphertextBlob"]
        assert make_client(b.endpoint, "us-east-1", "123456789012").decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
        kms_error("InvalidCiphertextException", make_client(c.endpoint, "us-east-1", "123456789012").decrypt,
                  CiphertextBlob=blob)


def test_loading_is_idempotent_and_reset_restores_the_files_state(seeded, kms):
    blob = kms.encrypt(KeyId=ORDERS, Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=ORDERS)
    kms.create_alias(AliasName="alias/mine", TargetKeyId=ORDERS)
    extra = kms.create_key()["KeyMetadata"]["KeyId"]
    answer = {"keys": 9, "aliases": 5, "accounts": [  # the replica counts where it is, as health counts
        {"Account": "111122223333", "Region": "ap-southeast-2", "Keys": 1, "Aliases": 0},
        {"Account": "111122223333", "Region": "us-east-1", "Keys": 8, "Aliases": 5}]}
    assert seeded.load_seed_file(KEYS_YAML) == answer
    assert seeded.load_seed_file(KEYS_YAML) == answer
    assert seeded.health()["accounts"][1] == answer["accounts"][1] | {"Keys": 9}
    # The file's keys are as the file says again; what it does not name is left alone.
    assert kms.describe_key(KeyId=ORDERS)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    assert kms.describe_key(KeyId=extra)["KeyMetadata"]["KeyState"] == "Enabled"
    assert len(kms.list_keys()["Keys"]) == 9
    seeded.reset()
    assert len(kms.list_keys()["Keys"]) == 8
    assert "alias/mine" not in {a["AliasName"] for a in own_aliases(kms)}
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_a_pending_deletion_key_goes_when_its_window_passes(seeded, kms):
    doomed = "44444444-5555-4666-8777-888888888888"
    seeded.clock.advance(days=6)
    assert kms.describe_key(KeyId=doomed)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    seeded.clock.advance(days=1, seconds=1)
    kms_error("NotFoundException", kms.describe_key, KeyId=doomed)


def test_a_bad_file_loaded_at_run_time_changes_nothing(seeded, kms, tmp_path):
    path = _write(tmp_path, {"Keys": [
        {"KeyId": "abababab-abab-4bab-8bab-abababababab"},
        {"KeyId": "cdcdcdcd-cdcd-4cdc-8cdc-cdcdcdcdcdcd", "KeySpec": "RSA_1024"},
    ]})
    with pytest.raises(AdminError, match=r"Keys\[1\] \(cdcdcdcd-.*\): 1 validation error detected.*keySpec"):
        seeded.load_seed_file(path)
    assert len(kms.list_keys()["Keys"]) == 8


def test_the_server_refuses_to_start_on_a_bad_file(tmp_path):
    path = _write(tmp_path, {"Keys": [{"KeyId": "abababab-abab-4bab-8bab-abababababab", "KeyState": "Gone"}]})
    done = subprocess.run([sys.executable, "-m", "fakekms", "serve", "--port", "0", "--seed-file", path],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"fakekms: bad seed file {path}: Keys[0] (abababab-abab-4bab-8bab-abababababab): "
        "KeyState 'Gone' cannot be seeded; use one of Enabled, Disabled, PendingDeletion, PendingImport")



@pytest.mark.parametrize(
    "document, entry, reason",
    [
        ([1, 2], None, "the file must be a mapping"),
        ({"Kees": []}, None, "unknown field 'Kees'"),
        ({"Account": "12345"}, None, "Account '12345' is not a 12-digit AWS account id"),
        ({"Region": "Mars"}, None, "Region 'Mars' is not an AWS Region name"),
        ({"Keys": {"KeyId": KEY}}, "Keys", "must be a list of key entries"),
        ({"Keys": ["x"]}, "Keys[0]", "a key entry must be a mapping"),
        ({"Keys": [{"KeyId": "not-a-key"}]}, "Keys[0]", "KeyId 'not-a-key' is not a key id"),
        ({"Keys": [{"KeyId": KEY.upper()}]}, "Keys[0]", "is not a key id"),
        ({"Keys": [{"KeyId": KEY, "Colour": "red"}]}, f"Keys[0] ({KEY})", "unknown field 'Colour'"),
        ({"Keys": [{"KeyId": KEY}, {"KeyId": KEY}]}, f"Keys[1] ({KEY})", "the file names this key twice"),
        ({"Keys": [{"KeyId": KEY, "KeySpec": "RSA_2048"}]}, f"Keys[0] ({KEY})",
         "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys. (KeyUsage values for RSA_2048: ENCRYPT_DECRYPT, SIGN_VERIFY)"),
        ({"Keys": [{"KeyId": KEY, "KeySpec": "ECC_NIST_P256", "KeyUsage": "ENCRYPT_DECRYPT"}]},
         f"Keys[0] ({KEY})", "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec ECC_NIST_P256"),
        ({"Keys": [{"KeyId": KEY, "Description": "x" * 8193}]}, f"Keys[0] ({KEY})",
         "Member must have length less than or equal to 8192"),
        ({"Keys": [{"KeyId": KEY, "Origin": "AWS_CLOUDHSM"}]}, f"Keys[0] ({KEY})", "Origin AWS_CLOUDHSM cannot be seeded"),
        ({"Keys": [{"KeyId": KEY, "MultiRegion": True}]}, f"Keys[0] ({KEY})", "id starts with mrk-"),
        ({"Keys": [{"KeyId": KEY, "Policy": "{not json"}]}, f"Keys[0] ({KEY})", "The new key policy is not valid JSON"),
        ({"Keys": [{"KeyId": KEY, "Tags": {"aws:x": "1"}}]}, f"Keys[0] ({KEY})", "Tag keys beginning with 'aws:' are reserved"),
        ({"Keys": [{"KeyId": KEY, "KeyMaterial": "AAAA"}]}, f"Keys[0] ({KEY}) KeyMaterial[0]",
         "SYMMETRIC_DEFAULT key material is 32 bytes, not 3"),
        ({"Keys": [{"KeyId": KEY, "KeyMaterial": "@@@"}]}, f"Keys[0] ({KEY}) KeyMaterial[0]", "not valid base64"),
        ({"Keys": [{"KeyId": KEY, "KeyMaterial": 42}]}, f"Keys[0] ({KEY}) KeyMaterial[0]", "key material is a base64 string"),
        ({"Keys": [{"KeyId": KEY, "KeyMaterial": [], }]}, f"Keys[0] ({KEY})", "KeyMaterial lists no material"),
        ({"Keys": [{"KeyId": KEY, "KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY", "KeyMaterial": "AAAA"}]},
         f"Keys[0] ({KEY}) KeyMaterial[0]", "not an unencrypted PEM or DER private key"),
        ({"Keys": [{"KeyId": KEY, "KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY", "KeyMaterial": SIGNING_PEM}]},
         f"Keys[0] ({KEY}) KeyMaterial[0]", "the private key is ECC_NIST_P256, not RSA_2048"),
        ({"Keys": [{"KeyId": KEY, "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC", "KeyMaterialVersions": 2}]},
         f"Keys[0] ({KEY})", "only SYMMETRIC_DEFAULT keys have several key material versions"),
        ({"Keys": [{"KeyId": KEY, "KeyMaterialVersions": 0}]}, f"Keys[0] ({KEY})", "KeyMaterialVersions must be a whole number"),
        ({"Keys": [{"KeyId": KEY, "KeyMaterialVersions": 2, "KeyMaterial": "AAAA"}]}, f"Keys[0] ({KEY})",
         "give KeyMaterial or KeyMaterialVersions, not both"),
        ({"Keys": [{"KeyId": KEY, "KeyState": "Unavailable"}]}, f"Keys[0] ({KEY})", "KeyState 'Unavailable' cannot be seeded"),
        ({"Keys": [{"KeyId": KEY, "KeyState": "PendingImport"}]}, f"Keys[0] ({KEY})", "only an EXTERNAL key can be PendingImport"),
        ({"Keys": [{"KeyId": KEY, "Origin": "EXTERNAL", "KeyState": "Enabled"}]}, f"Keys[0] ({KEY})",
         "a key is PendingImport exactly when it is EXTERNAL with no KeyMaterial"),
        ({"Keys": [{"KeyId": KEY, "PendingWindowInDays": 7}]}, f"Keys[0] ({KEY})", "PendingWindowInDays goes with KeyState PendingDeletion"),
        ({"Keys": [{"KeyId": KEY, "KeyState": "PendingDeletion", "PendingWindowInDays": 31}]}, f"Keys[0] ({KEY})",
         "PendingWindowInDays must be a whole number from 7 to 30"),
        ({"Keys": [{"KeyId": KEY, "Aliases": ["orders"]}]}, f"Keys[0] ({KEY})", 'Alias must start with the prefix "alias/"'),
        ({"Keys": [{"KeyId": KEY, "Aliases": ["alias/aws/s3"]}]}, f"Keys[0] ({KEY})", "reserved for AWS managed keys"),
        ({"Keys": [{"KeyId": KEY, "Aliases": "alias/a"}, {"KeyId": OTHER, "Aliases": ["alias/a"]}]}, "Aliases",
         "the file names alias/a twice"),
        ({"Keys": [{"KeyId": KEY}], "Aliases": [{"AliasName": "alias/a"}]}, "Aliases[0]",
         "an alias entry has exactly AliasName and TargetKeyId"),
        ({"Keys": [{"KeyId": KEY}], "Aliases": [{"AliasName": "alias/a", "TargetKeyId": OTHER}]}, "Aliases[0]",
         f"TargetKeyId '{OTHER}' is not a key of this file"),
        ({"Keys": [{"KeyId": KEY, "Replicas": ["eu-west-1"]}]}, f"Keys[0] ({KEY})", "only a multi-Region key"),
        ({"Keys": [{"KeyId": MRK, "Replicas": ["us-east-1"]}]}, f"Keys[0] ({MRK})", "the key's own Region"),
        ({"Keys": [{"KeyId": MRK, "Replicas": ["cn-north-1"]}]}, f"Keys[0] ({MRK})", "not in the key's partition"),
        ({"Keys": [{"KeyId": MRK, "Replicas": "eu-west-1"}]}, f"Keys[0] ({MRK})", "Replicas must be a list"),
        ({"Keys": [{"KeyId": MRK, "Replicas": ["eu-west-1"]}, {"KeyId": MRK, "Region": "eu-west-1"}]},
         f"Keys[1] ({MRK})", "the file names this key twice in eu-west-1"),
        ({"Keys": [{"KeyId": KEY, "RotationPeriodInDays": 30}]}, f"Keys[0] ({KEY})",
         "Member must have value greater than or equal to 90"),
        ({"Keys": [{"KeyId": KEY, "Origin": "EXTERNAL", "RotationPeriodInDays": 90}]}, f"Keys[0] ({KEY})",
         "only SYMMETRIC_DEFAULT keys of Origin AWS_KMS rotate automatically"),
        ({"Keys": [{"KeyId": KEY, "Grants": {}}]}, f"Keys[0] ({KEY})", "Grants must be a list"),
        ({"Keys": [{"KeyId": KEY, "Grants": [{"GranteePrincipal": GRANTEE}]}]}, f"Keys[0] ({KEY}) Grants[0]",
         "Operations must be a non-empty list"),
        ({"Keys": [{"KeyId": KEY, "Grants": [{"GranteePrincipal": GRANTEE, "Operations": ["Sign"]}]}]},
         f"Keys[0] ({KEY}) Grants[0]", "Grant operations Sign are not valid"),
        ({"Keys": [{"KeyId": KEY, "Grants": [{"GranteePrincipal": "bob", "Operations": ["Decrypt"]}]}]},
         f"Keys[0] ({KEY}) Grants[0]", "does not refer to a valid principal"),
        ({"Keys": [{"KeyId": KEY, "Grants": [{"Grantee": GRANTEE, "Operations": ["Decrypt"]}]}]},
         f"Keys[0] ({KEY}) Grants[0]", "unknown field 'Grantee'"),
        ({"Keys": [{"KeyId": KEY, "Grants": [{"GranteePrincipal": GRANTEE, "Operations": ["Decrypt"],
                                               "GrantId": "xyz"}]}]},
         f"Keys[0] ({KEY}) Grants[0]", "GrantId must be 64 lowercase hex digits"),
        ({"Keys": [{"KeyId": KEY, "Grants": [{"GranteeServicePrincipal": "s3.amazonaws.com",
                                               "Operations": ["Decrypt"]}]}]},
         f"Keys[0] ({KEY}) Grants[0]", "requires a SourceArn constraint"),
    ],
)
def test_every_mistake_is_named(tmp_path, document, entry, reason):
    path = _write(tmp_path, document)
    with pytest.raises(seedfile.SeedFileError) as info:
        seedfile.load(path, region="us-east-1")
    assert info.value.path == path
    assert info.value.entry == entry
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}: ")


def test_files_that_are_not_yaml_or_json(tmp_path):
    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("Keys: [unclosed\n")
    with pytest.raises(seedfile.SeedFileError, match="not valid YAML"):
        seedfile.load(str(broken_yaml), region="us-east-1")
    broken_json = tmp_path / "broken.json"
    broken_json.write_text("{")
    with pytest.raises(seedfile.SeedFileError, match="not valid JSON"):
        seedfile.load(str(broken_json), region="us-east-1")
    with pytest.raises(seedfile.SeedFileError, match="cannot read it: No such file or directory"):
        seedfile.load(str(tmp_path / "missing.yaml"), region="us-east-1")


# --- helpers --------------------------------------------------------------------------------


def _write(tmp_path: Path, document) -> str:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_grants_in_a_seed_file_are_made_at_every_load(tmp_path):
    document = {"Keys": [{"KeyId": KEY, "Grants": [
        {"GranteePrincipal": GRANTEE, "Operations": ["Encrypt", "Decrypt"], "Name": "app",
         "RetiringPrincipal": "arn:aws:iam::111122223333:user/ops",
         "Constraints": {"EncryptionContextSubset": {"tenant": "a"}}},
        {"GrantId": "a" * 64, "GranteeServicePrincipal": "s3.amazonaws.com",
         "RetiringServicePrincipal": "s3.amazonaws.com", "Operations": ["Decrypt"],
         "Constraints": {"SourceArn": "arn:aws:s3:us-east-1:123456789012:accesspoint/ap"}},
    ]}]}
    path = _write(tmp_path, document)
    with start_server("--seed-file", path) as srv:
        kms = make_client(srv.endpoint, region="us-east-1", access_key="123456789012")
        first = kms.list_grants(KeyId=KEY)["Grants"]
        assert [g.get("Name") for g in first] == ["app", None]
        assert first[0]["Constraints"] == {"EncryptionContextSubset": {"tenant": "a"}}
        assert first[1]["GrantId"] == "a" * 64 and first[1]["GranteeServicePrincipal"] == "s3.amazonaws.com"
        kms.revoke_grant(KeyId=KEY, GrantId="a" * 64)
        srv.reset()
        again = kms.list_grants(KeyId=KEY)["Grants"]
        assert [g["GrantId"] for g in again] == [g["GrantId"] for g in first]
        retirable = kms.list_retirable_grants(RetiringPrincipal="arn:aws:iam::111122223333:user/ops")["Grants"]
        assert [g["GrantId"] for g in retirable] == [first[0]["GrantId"]]

