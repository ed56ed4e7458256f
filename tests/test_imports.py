"""Imported key material: wrapped locally with ``cryptography`` under every wrapping algorithm
and key spec, imported, used, expired on the clock, deleted and imported again."""

from __future__ import annotations

import datetime as dt
import hmac
import os

import pytest
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from helpers import kms_error, opens_with


DAY = 86400
ALGORITHMS = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"]
START = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


def wrap(public_der: bytes, algorithm: str, material: bytes) -> bytes:
    """What a customer sends: ``material`` wrapped under the GetParametersForImport public key."""
    public = serialization.load_der_public_key(public_der)
    digest = hashes.SHA256() if algorithm.endswith("SHA_256") else hashes.SHA1()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes_key = os.urandom(32)
    return public.encrypt(aes_key, oaep) + keywrap.aes_key_wrap_with_padding(aes_key, material)


def import_material(kms, key_id, material, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048", **kwargs):
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
    kwargs.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return kms.import_key_material(
        KeyId=key_id, ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material), **kwargs,
    )


def der(private_key) -> bytes:
    return private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


@pytest.fixture
def clock(backend):
    clock = backend.control.clock
    clock.set(START.isoformat(), frozen=True)
    return clock


@pytest.fixture
def external(kms):
    return kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]


def test_an_external_key_starts_pending_import(kms, external):
    assert external["KeyState"] == "PendingImport" and external["Enabled"] is False
    assert external["Origin"] == "EXTERNAL" and "ExpirationModel" not in external
    kms_error("KMSInvalidStateException", kms.encrypt, KeyId=external["KeyId"], Plaintext=b"x")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_symmetric_material_under_every_wrapping_algorithm(kms, external, algorithm):
    material = os.urandom(32)
    out = import_material(kms, external["KeyId"], material, algorithm)
    assert out["KeyId"] == external["Arn"] and len(out["KeyMaterialId"]) == 64
    meta = kms.describe_key(KeyId=external["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert meta["CurrentKeyMaterialId"] == out["KeyMaterialId"]
    blob = kms.encrypt(KeyId=external["KeyId"], Plaintext=b"secret", EncryptionContext={"k": "v"})["CiphertextBlob"]
    assert opens_with(blob, material, {"k": "v"}) == b"secret"
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"secret"


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
def test_every_wrapping_key_spec(kms, external, spec):
    params = kms.get_parameters_for_import(KeyId=external["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                           WrappingKeySpec=spec)
    assert serialization.load_der_public_key(params["PublicKey"]).key_size == int(spec[4:])
    assert params["KeyId"] == external["Arn"]
    import_material(kms, external["KeyId"], os.urandom(32), spec=spec)
    assert kms.describe_key(KeyId=external["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_hmac_material_may_be_longer_than_the_digest(kms):
    key_id = kms.create_key(Origin="EXTERNAL", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    material = os.urandom(40)
    import_material(kms, key_id, material)
    mac = kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac == hmac.digest(material, b"m", "sha256")
    other = kms.create_key(Origin="EXTERNAL", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    kms_error("IncorrectKeyMaterialException", lambda: import_material(kms, other, os.urandom(31)))
    kms_error("ValidationException", lambda: import_material(kms, other, os.urandom(32), ImportType="NEW_KEY_MATERIAL"))


def test_an_ecc_signing_key(kms):
    private = ec.generate_private_key(ec.SECP256R1())
    key_id = kms.create_key(Origin="EXTERNAL", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    import_material(kms, key_id, der(private))
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    signature = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


def test_an_rsa_key_comes_wrapped_with_aes_key_wrap(kms):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = kms.create_key(Origin="EXTERNAL", KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    import_material(kms, key_id, der(private), "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    blob = private.public_key().encrypt(b"to kms", oaep)
    assert kms.decrypt(KeyId=key_id, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"] == b"to kms"
    # Asymmetric material, once imported, is the key's for good.
    other = der(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    kms_error("IncorrectKeyMaterialException", lambda: import_material(kms, key_id, other, "RSA_AES_KEY_WRAP_SHA_256"))


def test_material_of_the_wrong_kind(kms, external):
    kms_error("IncorrectKeyMaterialException", lambda: import_material(kms, external["KeyId"], os.urandom(16)))
    key_id = kms.create_key(Origin="EXTERNAL", KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms_error("IncorrectKeyMaterialException", lambda: import_material(kms, key_id, der(ec.generate_private_key(ec.SECP256R1()))))
    kms_error("IncorrectKeyMaterialException", lambda: import_material(kms, key_id, b"not a key"))


def test_import_tokens_are_checked(kms, external, clock):
    key_id = external["KeyId"]
    other = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = kms.get_parameters_for_import(KeyId=other, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    assert params["ParametersValidTo"] == START + dt.timedelta(days=1)
    wrapped = wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32))
    common = {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "EncryptedKeyMaterial": wrapped}
    kms_error("InvalidImportTokenException", kms.import_key_material, KeyId=key_id,
              ImportToken=params["ImportToken"], **common)
    kms_error("InvalidImportTokenException", kms.import_key_material, KeyId=other,
              ImportToken=b"x" * 64, **common)
    # Wrapped under another key pair: the token's own key cannot unwrap it.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kms_error("InvalidCiphertextException", kms.import_key_material, KeyId=other, ImportToken=params["ImportToken"],
              ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
              EncryptedKeyMaterial=wrap(stranger, "RSAES_OAEP_SHA_256", os.urandom(32)))
    clock.advance(days=1)
    kms_error("ExpiredImportTokenException", kms.import_key_material, KeyId=other,
              ImportToken=params["ImportToken"], **common)
    assert kms.describe_key(KeyId=other)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_every_call_has_its_own_wrapping_key_pair(kms, external, spec="RSA_2048"):
    """As in AWS: material wrapped for one GetParametersForImport answer does not import with
    another's token, even for the same key, spec and algorithm."""
    calls = [kms.get_parameters_for_import(KeyId=external["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                           WrappingKeySpec=spec) for _ in range(3)]
    assert len({c["PublicKey"] for c in calls}) == 3
    assert len({c["ImportToken"] for c in calls}) == 3
    material = os.urandom(32)
    common = {"KeyId": external["KeyId"], "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
    kms_error("InvalidCiphertextException", kms.import_key_material, ImportToken=calls[1]["ImportToken"],
              EncryptedKeyMaterial=wrap(calls[0]["PublicKey"], "RSAES_OAEP_SHA_256", material), **common)
    kms.import_key_material(ImportToken=calls[0]["ImportToken"],
                            EncryptedKeyMaterial=wrap(calls[0]["PublicKey"], "RSAES_OAEP_SHA_256", material), **common)
    assert kms.describe_key(KeyId=external["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_wrapping_choices_aws_refuses(kms, external):
    key_id = external["KeyId"]
    kms_error("ValidationException", kms.get_parameters_for_import, KeyId=key_id,
              WrappingAlgorithm="RSAES_PKCS1_V1_5", WrappingKeySpec="RSA_2048")
    kms_error("ValidationException", kms.get_parameters_for_import, KeyId=key_id,
              WrappingAlgorithm="SM2PKE", WrappingKeySpec="SM2")
    aws_kms = kms.create_key()["KeyMetadata"]["KeyId"]
    for call, extra in ((kms.get_parameters_for_import, {"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
                        (kms.delete_imported_key_material, {})):
        message = kms_error("UnsupportedOperationException", call, KeyId=aws_kms, **extra)
        assert "origin is AWS_KMS" in message


@pytest.mark.parametrize("extra, reason", [
    ({"ExpirationModel": "KEY_MATERIAL_EXPIRES"}, "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"),
    ({}, "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"),
    ({"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ValidTo": START + dt.timedelta(days=1)}, "not valid"),
    ({"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": START - dt.timedelta(seconds=1)}, "future"),
    ({"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": START + dt.timedelta(days=366)}, "365 days"),
])
def test_expiration_settings(kms, external, clock, extra, reason):
    params = kms.get_parameters_for_import(KeyId=external["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                           WrappingKeySpec="RSA_2048")
    message = kms_error("ValidationException", kms.import_key_material, KeyId=external["KeyId"],
                        ImportToken=params["ImportToken"],
                        EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)), **extra)
    assert reason in message
    assert kms.describe_key(KeyId=external["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"


def test_material_expires_on_the_clock_and_the_same_material_brings_the_data_back(kms, external, clock):
    key_id, material = external["KeyId"], os.urandom(32)
    valid_to = START + dt.timedelta(days=2)
    import_material(kms, key_id, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["ValidTo"] == valid_to and meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    clock.advance(days=2)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    kms_error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob)
    [entry] = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert entry["ImportState"] == "PENDING_IMPORT" and entry["KeyMaterialState"] == "CURRENT"
    kms_error("IncorrectKeyMaterialException", lambda: import_material(kms, key_id, os.urandom(32)))
    import_material(kms, key_id, material, "RSA_AES_KEY_WRAP_SHA_1", "RSA_3072")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in meta


def test_deleting_material_and_importing_it_again(kms, external):
    key_id, material = external["KeyId"], os.urandom(32)
    material_id = import_material(kms, key_id, material)["KeyMaterialId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    out = kms.delete_imported_key_material(KeyId=key_id)
    assert out == {**out, "KeyId": external["Arn"], "KeyMaterialId": material_id}
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    kms_error("KMSInvalidStateException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
    again = import_material(kms, key_id, material, KeyMaterialId=material_id)
    assert again["KeyMaterialId"] == material_id
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.delete_imported_key_material(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_new_material_rotates_on_demand(kms, external):
    key_id, first, second = external["KeyId"], os.urandom(32), os.urandom(32)
    first_id = import_material(kms, key_id, first)["KeyMaterialId"]
    old = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    kms_error("KMSInvalidStateException", kms.rotate_key_on_demand, KeyId=key_id)
    kms_error("IncorrectKeyMaterialException", lambda: import_material(kms, key_id, first, ImportType="NEW_KEY_MATERIAL"))
    kms_error("ValidationException", lambda: import_material(
        kms, key_id, second, ImportType="NEW_KEY_MATERIAL", KeyMaterialId=first_id))
    second_id = import_material(kms, key_id, second, ImportType="NEW_KEY_MATERIAL",
                                KeyMaterialDescription="second")["KeyMaterialId"]
    listed = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["ImportState"]) for r in listed] == [
        (first_id, "CURRENT", "IMPORTED"), (second_id, "PENDING_ROTATION", "IMPORTED")]
    assert listed[1]["KeyMaterialDescription"] == "second"
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    kms_error("KMSInvalidStateException", lambda: import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL"))
    # Still sealing under the first material until the rotation.
    assert opens_with(kms.encrypt(KeyId=key_id, Plaintext=b"a")["CiphertextBlob"], first) == b"a"
    kms.rotate_key_on_demand(KeyId=key_id)
    [rotation] = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert rotation["KeyMaterialId"] == second_id and rotation["RotationType"] == "ON_DEMAND"
    assert rotation["KeyMaterialState"] == "CURRENT"
    assert opens_with(kms.encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"], second) == b"new"
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"old"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == second_id


def test_pending_material_can_be_deleted_and_replaced(kms, external):
    key_id = external["KeyId"]
    import_material(kms, key_id, os.urandom(32))
    pending = import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=pending)
    listed = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [r["KeyMaterialState"] for r in listed] == ["CURRENT"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    kms_error("NotFoundException", kms.delete_imported_key_material, KeyId=key_id, KeyMaterialId=pending)
    import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
