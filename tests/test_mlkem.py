"""ML-KEM keys (FIPS 203): CreateKey, GetPublicKey, Encapsulate, Decapsulate and data key pairs,
each checked outside fakekms: secrets encapsulated locally with the public key decapsulate to the
same secret in fakekms, and private keys fakekms hands out decapsulate its ciphertexts locally.

``cryptography`` (OpenSSL) is the local reference for ML-KEM-768 and ML-KEM-1024; for
ML-KEM-512, which it lacks, kyber-py, itself checked here against a NIST ACVP vector and against
OpenSSL on the parameter sets both have.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem as openssl_mlkem
from helpers import kms_error
from kyber_py import ml_kem

from fakekms.crypto import mlkem
from fakekms.seeding import RandomSource, SeededRandomSource

SPECS = ["ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"]
CIPHERTEXT_BYTES = {"ML_KEM_512": 768, "ML_KEM_768": 1088, "ML_KEM_1024": 1568}
PUBLIC_KEY_BYTES = {"ML_KEM_512": 800, "ML_KEM_768": 1184, "ML_KEM_1024": 1568}
OID = {"ML_KEM_512": "2.16.840.1.101.3.4.4.1", "ML_KEM_768": "2.16.840.1.101.3.4.4.2",
       "ML_KEM_1024": "2.16.840.1.101.3.4.4.3"}
KEM = "ENCAPSULATE_DECAPSULATE"


def _spki(der: bytes) -> tuple[str, bytes]:
    """(OID, key bytes) of a DER SubjectPublicKeyInfo, read by hand so no ML-KEM library vouches
    for the encoding it would then parse."""
    assert der[0] == 0x30
    pos = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    assert der[pos] == 0x30 and der[pos + 2] == 0x06
    oid_bytes = der[pos + 4: pos + 4 + der[pos + 3]]
    arcs = [oid_bytes[0] // 40, oid_bytes[0] % 40]
    value = 0
    for byte in oid_bytes[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    bits = pos + 2 + der[pos + 1]
    assert der[bits] == 0x03
    length_bytes = der[bits + 1] & 0x7F if der[bits + 1] & 0x80 else 0
    body = der[bits + 2 + length_bytes:]
    assert body[0] == 0  # no unused bits
    return ".".join(map(str, arcs)), body[1:]


def local_encapsulate(key_spec: str, public_der: bytes) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) made outside fakekms with its public key."""
    oid, ek = _spki(public_der)
    assert oid == OID[key_spec]
    assert len(ek) == PUBLIC_KEY_BYTES[key_spec]
    if key_spec == "ML_KEM_512":
        return getattr(ml_kem, key_spec).encaps(ek)
    return serialization.load_der_public_key(public_der).encapsulate()


def local_decapsulate(key_spec: str, private_der: bytes, ciphertext: bytes) -> bytes:
    if key_spec == "ML_KEM_512":
        seed = private_der[-64:]
        assert private_der == mlkem.private_der(key_spec, seed)  # the RFC 9935 seed form
        return getattr(ml_kem, key_spec).decaps(getattr(ml_kem, key_spec).key_derive(seed)[1], ciphertext)
    return serialization.load_der_private_key(private_der, password=None).decapsulate(ciphertext)


# --- the libraries fakekms stands on ----------------------------------------------------------

def test_kyber_py_matches_the_nist_acvp_encapsulation_vector():
    vector = json.loads((Path(__file__).parent / "data" / "ml_kem_512_acvp.json").read_text())["encapsulation"]
    shared, ciphertext = ml_kem.ML_KEM_512._encaps_internal(bytes.fromhex(vector["ek"]), bytes.fromhex(vector["m"]))
    assert shared.hex().upper() == vector["k"]
    assert ciphertext.hex().upper() == vector["c"]


@pytest.mark.parametrize("spec", ["ML_KEM_768", "ML_KEM_1024"])
def test_kyber_py_and_openssl_agree_where_both_implement_ml_kem(spec):
    """The same FIPS 203 key generation from one seed, and each decapsulates the other's output."""
    for _ in range(3):
        seed = os.urandom(64)
        openssl = getattr(openssl_mlkem, f"MLKEM{spec[7:]}PrivateKey").from_seed_bytes(seed)
        ek, dk = getattr(ml_kem, spec).key_derive(seed)
        assert openssl.public_key().public_bytes_raw() == ek
        shared, ciphertext = getattr(ml_kem, spec).encaps(ek)
        assert openssl.decapsulate(ciphertext) == shared
        shared, ciphertext = openssl.public_key().encapsulate()
        assert getattr(ml_kem, spec).decaps(dk, ciphertext) == shared


@pytest.mark.parametrize("spec", ["ML_KEM_768", "ML_KEM_1024"])
def test_material_is_the_pkcs8_seed_form_openssl_reads(spec):
    material = mlkem.generate(spec, RandomSource())
    key = serialization.load_der_private_key(material, password=None)
    assert key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) == material
    assert mlkem.public_der(material) == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_seeded_generation_and_encapsulation_repeat_exactly():
    for spec in SPECS:
        a, b = SeededRandomSource("s"), SeededRandomSource("s")
        material = mlkem.generate(spec, a)
        assert material == mlkem.generate(spec, b)
        assert mlkem.encapsulate(material, a) == mlkem.encapsulate(material, b)


# --- through KMS -----------------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS)
def test_create_describe_and_get_public_key(kms, spec):
    meta = kms.create_key(KeySpec=spec, KeyUsage=KEM)["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"], meta["EncapsulationAlgorithms"]) == (spec, KEM, ["ML_KEM"])
    for absent in ("EncryptionAlgorithms", "SigningAlgorithms", "MacAlgorithms", "KeyAgreementAlgorithms"):
        assert absent not in meta
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["EncapsulationAlgorithms"] == ["ML_KEM"]
    public = kms.get_public_key(KeyId=meta["KeyId"])
    assert (public["KeySpec"], public["KeyUsage"], public["EncapsulationAlgorithms"]) == (spec, KEM, ["ML_KEM"])
    assert _spki(public["PublicKey"])[0] == OID[spec]


@pytest.mark.parametrize("spec", SPECS)
def test_a_secret_encapsulated_locally_decapsulates_in_fakekms(keys, spec):
    key = keys.get(spec, KEM)["KeyId"]
    shared, ciphertext = local_encapsulate(spec, keys.client.get_public_key(KeyId=key)["PublicKey"])
    out = keys.client.decapsulate(KeyId=key, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM")
    assert out["SharedSecret"] == shared
    assert out["KeyId"] == keys.get(spec, KEM)["Arn"]
    assert out["EncapsulationAlgorithm"] == "ML_KEM"


@pytest.mark.parametrize("spec", SPECS)
def test_encapsulate_answers_a_secret_the_key_decapsulates(keys, spec):
    key = keys.get(spec, KEM)["KeyId"]
    out = keys.client.encapsulate(KeyId=key, EncapsulationAlgorithm="ML_KEM")
    assert len(out["SharedSecret"]) == 32
    assert len(out["SharedSecretCiphertextBlob"]) == CIPHERTEXT_BYTES[spec]
    assert out["KeyId"] == keys.get(spec, KEM)["Arn"] and out["EncapsulationAlgorithm"] == "ML_KEM"
    back = keys.client.decapsulate(KeyId=key, SharedSecretCiphertextBlob=out["SharedSecretCiphertextBlob"],
                                   EncapsulationAlgorithm="ML_KEM")
    assert back["SharedSecret"] == out["SharedSecret"]
    again = keys.client.encapsulate(KeyId=key, EncapsulationAlgorithm="ML_KEM")
    assert again["SharedSecret"] != out["SharedSecret"]


@pytest.mark.parametrize("spec", SPECS)
def test_a_wrong_ciphertext_gets_implicit_rejection_and_a_wrong_length_an_error(keys, spec):
    key = keys.get(spec, KEM)["KeyId"]
    out = keys.client.encapsulate(KeyId=key, EncapsulationAlgorithm="ML_KEM")
    blob = bytearray(out["SharedSecretCiphertextBlob"])
    blob[5] ^= 0x01
    first = keys.client.decapsulate(KeyId=key, SharedSecretCiphertextBlob=bytes(blob), EncapsulationAlgorithm="ML_KEM")
    second = keys.client.decapsulate(KeyId=key, SharedSecretCiphertextBlob=bytes(blob), EncapsulationAlgorithm="ML_KEM")
    assert len(first["SharedSecret"]) == 32
    assert first["SharedSecret"] != out["SharedSecret"]
    assert first["SharedSecret"] == second["SharedSecret"]  # pseudo-random, but a function of the input
    for length in (CIPHERTEXT_BYTES[spec] - 1, CIPHERTEXT_BYTES[spec] + 1, 1):
        message = kms_error("InvalidCiphertextException", keys.client.decapsulate, KeyId=key,
                            SharedSecretCiphertextBlob=bytes(length), EncapsulationAlgorithm="ML_KEM")
        assert message == ""


@pytest.mark.parametrize("spec", SPECS)
def test_data_key_pair_private_key_decapsulates_fakekms_output(keys, spec):
    sym = keys.get()["KeyId"]
    pair = keys.client.generate_data_key_pair(KeyId=sym, KeyPairSpec=spec)
    assert pair["KeyPairSpec"] == spec
    assert _spki(pair["PublicKey"])[0] == OID[spec]
    private = keys.client.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"]
    assert private == pair["PrivateKeyPlaintext"]
    # The private key opens what is encapsulated to its public key.
    shared, ciphertext = local_encapsulate(spec, pair["PublicKey"])
    assert local_decapsulate(spec, private, ciphertext) == shared
    without = keys.client.generate_data_key_pair_without_plaintext(KeyId=sym, KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in without and _spki(without["PublicKey"])[0] == OID[spec]


def test_fakekms_ciphertexts_decapsulate_with_a_private_key_imported_into_it(kms):
    """A pair from GenerateDataKeyPair, its private key imported into an EXTERNAL ML-KEM key:
    fakekms's Encapsulate output decapsulates locally with the private key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    spec = "ML_KEM_768"
    sym = kms.create_key()["KeyMetadata"]["KeyId"]
    pair = kms.generate_data_key_pair(KeyId=sym, KeyPairSpec=spec)
    key = kms.create_key(KeySpec=spec, KeyUsage=KEM, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256",
                                           WrappingKeySpec="RSA_3072")
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

    aes = os.urandom(32)
    wrapping = serialization.load_der_public_key(params["PublicKey"])
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped = wrapping.encrypt(aes, oaep) + aes_key_wrap_with_padding(aes, pair["PrivateKeyPlaintext"])
    kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped,
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert kms.get_public_key(KeyId=key)["PublicKey"] == pair["PublicKey"]
    out = kms.encapsulate(KeyId=key, EncapsulationAlgorithm="ML_KEM")
    assert local_decapsulate(spec, pair["PrivateKeyPlaintext"], out["SharedSecretCiphertextBlob"]) == out["SharedSecret"]


def test_wrong_pairings_and_uses_are_refused(kms):
    message = kms_error("ValidationException", kms.create_key, KeySpec="ML_KEM_768", KeyUsage="ENCRYPT_DECRYPT")
    assert "ENCAPSULATE_DECAPSULATE" in message
    message = kms_error("ValidationException", kms.create_key, KeySpec="ML_KEM_768")
    assert "KeyUsage" in message
    kms_error("ValidationException", kms.create_key, KeySpec="RSA_2048", KeyUsage=KEM)
    kms_error("ValidationException", kms.create_key, KeySpec="SYMMETRIC_DEFAULT", KeyUsage=KEM)
    kem = kms.create_key(KeySpec="ML_KEM_512", KeyUsage=KEM)["KeyMetadata"]
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    message = kms_error("InvalidKeyUsageException", kms.encapsulate, KeyId=signing["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert message == f"{signing['Arn']} key usage is SIGN_VERIFY which is not valid for Encapsulate."
    kms_error("InvalidKeyUsageException", kms.decapsulate, KeyId=signing["KeyId"],
              SharedSecretCiphertextBlob=bytes(768), EncapsulationAlgorithm="ML_KEM")
    kms_error("InvalidKeyUsageException", kms.sign, KeyId=kem["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    kms_error("InvalidKeyUsageException", kms.encrypt, KeyId=kem["KeyId"], Plaintext=b"m")
    kms_error("ValidationException", kms.encapsulate, KeyId=kem["KeyId"], EncapsulationAlgorithm="RSA")


def test_ml_kem_is_not_offered_in_the_china_regions(kms):
    import boto3

    client = boto3.client("kms", region_name="cn-north-1", endpoint_url=kms.meta.endpoint_url,
                          aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")
    message = kms_error("ValidationException", client.create_key, KeySpec="ML_KEM_768", KeyUsage=KEM)
    assert "China" in message


def test_key_states_and_dry_run(kms):
    key = kms.create_key(KeySpec="ML_KEM_768", KeyUsage=KEM)["KeyMetadata"]
    kms_error("DryRunOperationException", kms.encapsulate, KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM", DryRun=True)
    kms_error("DryRunOperationException", kms.decapsulate, KeyId=key["KeyId"], SharedSecretCiphertextBlob=bytes(1088),
              EncapsulationAlgorithm="ML_KEM", DryRun=True)
    kms.disable_key(KeyId=key["KeyId"])
    message = kms_error("DisabledException", kms.encapsulate, KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert message == f"{key['Arn']} is disabled."
    kms_error("DisabledException", kms.decapsulate, KeyId=key["KeyId"], SharedSecretCiphertextBlob=bytes(1088),
              EncapsulationAlgorithm="ML_KEM")
    kms.enable_key(KeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    kms_error("KMSInvalidStateException", kms.encapsulate, KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")


def test_seed_files_take_ml_kem_keys_with_their_private_keys(tmp_path):
    """A seed file's ML-KEM key, its private key given as PEM, and one whose material the seed
    derives: both answer with the pair the file (or the seed) fixes, on every load."""
    import base64

    import boto3

    from fakekms.inprocess import mock_kms

    material = mlkem.generate("ML_KEM_512", RandomSource())
    pem = "\n".join(["-----BEGIN PRIVATE KEY-----", *_lines(base64.b64encode(material).decode()),
                     "-----END PRIVATE KEY-----"])
    path = tmp_path / "keys.yaml"
    path.write_text(
        "Keys:\n"
        "  - KeyId: 0f0e0d0c-0b0a-4908-8706-050403020100\n    KeySpec: ML_KEM_512\n"
        f"    KeyUsage: {KEM}\n    KeyMaterial: |\n" + "".join(f"      {line}\n" for line in pem.splitlines()) +
        "  - KeyId: 1f0e0d0c-0b0a-4908-8706-050403020100\n    KeySpec: ML_KEM_1024\n"
        f"    KeyUsage: {KEM}\n")
    publics = []
    for _ in range(2):
        with mock_kms(seed="ml-kem") as app:
            app.load_seed_file(str(path))
            client = boto3.client("kms", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                                  aws_secret_access_key="x")
            given = client.get_public_key(KeyId="0f0e0d0c-0b0a-4908-8706-050403020100")["PublicKey"]
            assert given == mlkem.public_der(material)
            out = client.encapsulate(KeyId="0f0e0d0c-0b0a-4908-8706-050403020100", EncapsulationAlgorithm="ML_KEM")
            assert local_decapsulate("ML_KEM_512", material, out["SharedSecretCiphertextBlob"]) == out["SharedSecret"]
            publics.append(client.get_public_key(KeyId="1f0e0d0c-0b0a-4908-8706-050403020100")["PublicKey"])
    assert publics[0] == publics[1]


def _lines(text: str) -> list[str]:
    return [text[i:i + 64] for i in range(0, len(text), 64)]
