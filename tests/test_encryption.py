"""Encrypt, Decrypt, ReEncrypt, data keys, data key pairs and GenerateRandom through boto3.

Symmetric ciphertexts are proven by decrypting them; RSA ciphertexts by crossing the boundary
both ways with ``cryptography`` and the GetPublicKey key; every failure by its exact error code.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from helpers import kms_error

RSA_SPECS = ["RSA_2048", "RSA_3072", "RSA_4096"]
OAEP = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
# AWS's published maximum plaintext for each RSA key spec and OAEP algorithm.
RSA_LIMITS = {
    ("RSA_2048", "RSAES_OAEP_SHA_1"): 214,
    ("RSA_2048", "RSAES_OAEP_SHA_256"): 190,
    ("RSA_3072", "RSAES_OAEP_SHA_1"): 342,
    ("RSA_3072", "RSAES_OAEP_SHA_256"): 318,
    ("RSA_4096", "RSAES_OAEP_SHA_1"): 470,
    ("RSA_4096", "RSAES_OAEP_SHA_256"): 446,
}


@pytest.fixture(scope="module")
def kms(keys):
    return keys.client


@pytest.fixture(scope="module")
def sym(keys):
    return keys.get()["Arn"]


def oaep(algorithm: str) -> padding.OAEP:
    h = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


# --- symmetric -----------------------------------------------------------------------------------

def test_round_trip_without_key_id(kms, sym):
    out = kms.encrypt(KeyId=sym, Plaintext=b"secret", EncryptionContext={"purpose": "test"})
    assert out["KeyId"] == sym and out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"purpose": "test"})
    assert back["Plaintext"] == b"secret"
    assert back["KeyId"] == sym
    assert back["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    current = kms.describe_key(KeyId=sym)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert back["KeyMaterialId"] == current


def test_blob_starts_like_a_kms_blob(kms, sym):
    blob = kms.encrypt(KeyId=sym, Plaintext=b"x")["CiphertextBlob"]
    assert blob[:5] == b"\x01\x02\x02\x00\x78"


def test_decrypt_with_key_id_alias_and_arn(kms, keys, sym):
    key_id = keys.get()["KeyId"]
    kms.create_alias(AliasName="alias/enc-test", TargetKeyId=key_id)
    blob = kms.encrypt(KeyId="alias/enc-test", Plaintext=b"abc")["CiphertextBlob"]
    for ref in (key_id, sym, "alias/enc-test", sym.replace(f"key/{key_id}", "alias/enc-test")):
        assert kms.decrypt(CiphertextBlob=blob, KeyId=ref)["Plaintext"] == b"abc"


def test_multi_region_key_ids_round_trip(kms):
    mrk = kms.create_key(MultiRegion=True)["KeyMetadata"]
    assert mrk["KeyId"].startswith("mrk-")
    blob = kms.encrypt(KeyId=mrk["KeyId"], Plaintext=b"m")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == mrk["Arn"]


def test_context_encoding_is_unambiguous(kms, sym):
    blob = kms.encrypt(KeyId=sym, Plaintext=b"p", EncryptionContext={"ab": "c"})["CiphertextBlob"]
    kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"a": "bc"})
    kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"abc": ""})
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"ab": "c"})["Plaintext"] == b"p"


def test_context_order_does_not_matter_and_must_match_exactly(kms, sym):
    blob = kms.encrypt(KeyId=sym, Plaintext=b"p", EncryptionContext={"x": "1", "y": "2"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"y": "2", "x": "1"})["Plaintext"] == b"p"
    for wrong in (None, {"x": "1"}, {"x": "1", "y": "2", "z": "3"}, {"X": "1", "y": "2"}):
        kwargs = {"EncryptionContext": wrong} if wrong is not None else {}
        kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, **kwargs)


def test_context_given_only_at_decrypt_fails(kms, sym):
    blob = kms.encrypt(KeyId=sym, Plaintext=b"p")["CiphertextBlob"]
    kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"a": "b"})


def test_every_tampered_byte_is_invalid_ciphertext(kms, sym):
    blob = kms.encrypt(KeyId=sym, Plaintext=b"tamper me", EncryptionContext={"k": "v"})["CiphertextBlob"]
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=bytes(bad), EncryptionContext={"k": "v"})
    for bad in (blob[:-1], blob + b"\x00", blob[:20], b"\x00" * 64):
        kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=bad, EncryptionContext={"k": "v"})


def test_wrong_key_id_is_incorrect_key(kms, keys, sym):
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=sym, Plaintext=b"p")["CiphertextBlob"]
    kms_error("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, KeyId=other)
    kms_error("NotFoundException", kms.decrypt, CiphertextBlob=blob, KeyId="alias/none-such")


def test_other_account_cannot_open_blob(keys, kms, sym):
    blob = kms.encrypt(KeyId=sym, Plaintext=b"p")["CiphertextBlob"]
    stranger = keys.backend.client(access_key="444455556666")
    kms_error("InvalidCiphertextException", stranger.decrypt, CiphertextBlob=blob)


@pytest.mark.parametrize("size, ok", [(0, False), (1, True), (4096, True), (4097, False)])
def test_plaintext_limits(kms, sym, size, ok):
    if ok:
        blob = kms.encrypt(KeyId=sym, Plaintext=b"z" * size)["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"z" * size
    else:
        message = kms_error("ValidationException", kms.encrypt, KeyId=sym, Plaintext=b"z" * size)
        assert "plaintext" in message


def test_disabled_and_pending_deletion_keys(kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"p")["CiphertextBlob"]
    kms.disable_key(KeyId=key)
    kms_error("DisabledException", kms.encrypt, KeyId=key, Plaintext=b"p")
    kms_error("DisabledException", kms.decrypt, CiphertextBlob=blob)
    kms_error("DisabledException", kms.generate_data_key, KeyId=key, KeySpec="AES_256")
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    kms_error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob)
    kms_error("KMSInvalidStateException", kms.encrypt, KeyId=key, Plaintext=b"p")


def test_wrong_key_usage(kms, keys):
    signing = keys.get("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
    hmac_key = keys.get("HMAC_256", "GENERATE_VERIFY_MAC")["KeyId"]
    rsa = keys.get("RSA_2048", "ENCRYPT_DECRYPT")["KeyId"]
    message = kms_error("InvalidKeyUsageException", kms.encrypt, KeyId=signing, Plaintext=b"p")
    assert "SIGN_VERIFY" in message and "Encrypt" in message
    kms_error("InvalidKeyUsageException", kms.encrypt, KeyId=hmac_key, Plaintext=b"p")
    kms_error("InvalidKeyUsageException", kms.generate_data_key, KeyId=rsa, KeySpec="AES_256")
    kms_error("InvalidKeyUsageException", kms.generate_data_key_pair, KeyId=rsa, KeyPairSpec="ECC_NIST_P256")
    # An RSA key needs an RSA algorithm, a symmetric key refuses one.
    kms_error("InvalidKeyUsageException", kms.encrypt, KeyId=rsa, Plaintext=b"p")
    sym = keys.get()["KeyId"]
    kms_error("InvalidKeyUsageException", kms.encrypt, KeyId=sym, Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_grant_tokens_are_checked(kms, sym):
    token = kms.create_grant(KeyId=sym, GranteePrincipal="arn:aws:iam::111122223333:role/app",
                             Operations=["Encrypt", "Decrypt"])["GrantToken"]
    blob = kms.encrypt(KeyId=sym, Plaintext=b"p", GrantTokens=[token, token])["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, GrantTokens=[token])["Plaintext"] == b"p"
    kms_error("InvalidGrantTokenException", kms.encrypt, KeyId=sym, Plaintext=b"p", GrantTokens=["token-1"])
    kms_error("ValidationException", kms.encrypt, KeyId=sym, Plaintext=b"p", GrantTokens=["t"] * 11)


# --- DryRun --------------------------------------------------------------------------------------

def test_dry_run_after_every_check(kms, keys, sym):
    kms_error("DryRunOperationException", kms.encrypt, KeyId=sym, Plaintext=b"p", DryRun=True)
    kms_error("DryRunOperationException", kms.generate_data_key, KeyId=sym, NumberOfBytes=8, DryRun=True)
    kms_error("DryRunOperationException", kms.generate_data_key_pair, KeyId=sym, KeyPairSpec="ECC_NIST_P256", DryRun=True)
    # The checks a real call makes come first.
    kms_error("ValidationException", kms.generate_data_key, KeyId=sym, DryRun=True)
    kms_error("NotFoundException", kms.encrypt, KeyId="alias/missing", Plaintext=b"p", DryRun=True)
    signing = keys.get("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
    kms_error("InvalidKeyUsageException", kms.encrypt, KeyId=signing, Plaintext=b"p", DryRun=True)
    disabled = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=disabled)
    kms_error("DisabledException", kms.encrypt, KeyId=disabled, Plaintext=b"p", DryRun=True)


def test_decrypt_dry_run_checks_the_ciphertext_unless_told_not_to(kms, sym):
    blob = kms.encrypt(KeyId=sym, Plaintext=b"p")["CiphertextBlob"]
    kms_error("DryRunOperationException", kms.decrypt, CiphertextBlob=blob, DryRun=True)
    kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=b"garbage" * 8, DryRun=True)
    kms_error("DryRunOperationException", kms.decrypt, CiphertextBlob=b"garbage" * 8, KeyId=sym,
              DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    kms_error("ValidationException", kms.decrypt, CiphertextBlob=b"garbage" * 8,
              DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    # Modifiers without DryRun change nothing.
    assert kms.decrypt(CiphertextBlob=blob, DryRunModifiers=["IGNORE_CIPHERTEXT"])["Plaintext"] == b"p"


def test_re_encrypt_dry_run(kms, sym):
    blob = kms.encrypt(KeyId=sym, Plaintext=b"p")["CiphertextBlob"]
    kms_error("DryRunOperationException", kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=sym, DryRun=True)
    kms_error("DryRunOperationException", kms.re_encrypt, CiphertextBlob=b"x" * 40, SourceKeyId=sym,
              DestinationKeyId=sym, DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])


# --- data keys -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, size", [({"KeySpec": "AES_128"}, 16), ({"KeySpec": "AES_256"}, 32),
                                          ({"NumberOfBytes": 1}, 1), ({"NumberOfBytes": 1024}, 1024)])
def test_generate_data_key_sizes(kms, sym, kwargs, size):
    out = kms.generate_data_key(KeyId=sym, EncryptionContext={"c": "d"}, **kwargs)
    assert len(out["Plaintext"]) == size and out["KeyId"] == sym
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"c": "d"})
    assert back["Plaintext"] == out["Plaintext"]
    assert out["KeyMaterialId"] == back["KeyMaterialId"]


@pytest.mark.parametrize("kwargs", [{}, {"KeySpec": "AES_256", "NumberOfBytes": 32}, {"NumberOfBytes": 0},
                                    {"NumberOfBytes": 1025}, {"KeySpec": "AES_512"}])
def test_generate_data_key_bad_lengths(kms, sym, kwargs):
    kms_error("ValidationException", kms.generate_data_key, KeyId=sym, **kwargs)


def test_data_keys_are_fresh(kms, sym):
    a = kms.generate_data_key(KeyId=sym, KeySpec="AES_256")["Plaintext"]
    b = kms.generate_data_key(KeyId=sym, KeySpec="AES_256")["Plaintext"]
    assert a != b


def test_generate_data_key_without_plaintext(kms, sym):
    out = kms.generate_data_key_without_plaintext(KeyId=sym, KeySpec="AES_128")
    assert "Plaintext" not in out and out["KeyId"] == sym
    assert len(kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"]) == 16


PAIR_SPECS = ["RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
              "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"]


@pytest.mark.parametrize("pair_spec", PAIR_SPECS)
def test_generate_data_key_pair(kms, sym, pair_spec):
    out = kms.generate_data_key_pair(KeyId=sym, KeyPairSpec=pair_spec, EncryptionContext={"p": "q"})
    assert out["KeyPairSpec"] == pair_spec and out["KeyId"] == sym
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    public = serialization.load_der_public_key(out["PublicKey"])
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert private.public_key().public_bytes(*spki) == public.public_bytes(*spki) == out["PublicKey"]
    if pair_spec.startswith("RSA_"):
        assert private.key_size == int(pair_spec[4:])
    back = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext={"p": "q"})
    assert back["Plaintext"] == out["PrivateKeyPlaintext"]


def test_generate_data_key_pair_without_plaintext(kms, sym):
    out = kms.generate_data_key_pair_without_plaintext(KeyId=sym, KeyPairSpec="ECC_NIST_P384")
    assert "PrivateKeyPlaintext" not in out
    private = serialization.load_der_private_key(
        kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])["Plaintext"], password=None)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert private.public_key().public_bytes(*spki) == out["PublicKey"]


def test_sm2_data_key_pair_outside_china(kms, sym):
    kms_error("ValidationException", kms.generate_data_key_pair, KeyId=sym, KeyPairSpec="SM2")


def test_recipient_is_unsupported(kms, sym):
    recipient = {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b"doc"}
    kms_error("UnsupportedOperationException", kms.generate_data_key, KeyId=sym, KeySpec="AES_256", Recipient=recipient)


# --- GenerateRandom ------------------------------------------------------------------------------

def test_generate_random(kms):
    assert len(kms.generate_random(NumberOfBytes=1)["Plaintext"]) == 1
    a = kms.generate_random(NumberOfBytes=1024)["Plaintext"]
    assert len(a) == 1024 and a != kms.generate_random(NumberOfBytes=1024)["Plaintext"]
    for bad in (0, 1025):
        kms_error("ValidationException", kms.generate_random, NumberOfBytes=bad)
    kms_error("ValidationException", kms.generate_random)
    kms_error("CustomKeyStoreNotFoundException", kms.generate_random, NumberOfBytes=8,
              CustomKeyStoreId="cks-1234567890abcdef0")


# --- ReEncrypt -----------------------------------------------------------------------------------

def test_re_encrypt_between_symmetric_keys(kms, sym):
    dest = kms.create_key()["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=sym, Plaintext=b"move me", EncryptionContext={"a": "1"})["CiphertextBlob"]
    out = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"a": "1"},
                         DestinationKeyId=dest, DestinationEncryptionContext={"b": "2"})
    assert out["SourceKeyId"] == sym and out["KeyId"] == dest
    assert out["SourceEncryptionAlgorithm"] == out["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert out["SourceKeyMaterialId"] != out["DestinationKeyMaterialId"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert back["Plaintext"] == b"move me" and back["KeyId"] == dest
    kms_error("InvalidCiphertextException", kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=dest)
    kms_error("IncorrectKeyException", kms.re_encrypt, CiphertextBlob=blob, SourceKeyId=dest,
              SourceEncryptionContext={"a": "1"}, DestinationKeyId=dest)


def test_re_encrypt_to_and_from_rsa(kms, keys, sym):
    rsa = keys.get("RSA_2048", "ENCRYPT_DECRYPT")["Arn"]
    blob = kms.encrypt(KeyId=sym, Plaintext=b"cross")["CiphertextBlob"]
    out = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=rsa, DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert "DestinationKeyMaterialId" not in out
    back = kms.re_encrypt(CiphertextBlob=out["CiphertextBlob"], SourceKeyId=rsa,
                          SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256", DestinationKeyId=sym)
    assert kms.decrypt(CiphertextBlob=back["CiphertextBlob"])["Plaintext"] == b"cross"


# --- RSA encryption ------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", RSA_SPECS)
@pytest.mark.parametrize("algorithm", OAEP)
def test_rsa_round_trips_both_ways(kms, keys, spec, algorithm):
    key = keys.get(spec, "ENCRYPT_DECRYPT")["Arn"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key)["PublicKey"])
    limit = RSA_LIMITS[spec, algorithm]
    message = bytes(range(256)) * 2
    # Made by KMS, opened by KMS.
    out = kms.encrypt(KeyId=key, Plaintext=message[:limit], EncryptionAlgorithm=algorithm)
    assert len(out["CiphertextBlob"]) == int(spec[4:]) // 8
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], KeyId=key, EncryptionAlgorithm=algorithm)
    assert back["Plaintext"] == message[:limit] and back["EncryptionAlgorithm"] == algorithm
    assert "KeyMaterialId" not in back
    # Made offline with the public key, opened by KMS.
    offline = public.encrypt(b"offline secret", oaep(algorithm))
    assert kms.decrypt(CiphertextBlob=offline, KeyId=key, EncryptionAlgorithm=algorithm)["Plaintext"] == b"offline secret"
    # One byte over AWS's limit.
    kms_error("ValidationException", kms.encrypt, KeyId=key, Plaintext=message[: limit + 1], EncryptionAlgorithm=algorithm)


def test_rsa_decrypt_errors(kms, keys):
    key = keys.get("RSA_2048", "ENCRYPT_DECRYPT")["Arn"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    # Wrong algorithm, no key id, a tampered byte.
    kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, KeyId=key, EncryptionAlgorithm="RSAES_OAEP_SHA_1")
    kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    bad = bytearray(blob)
    bad[100] ^= 0xFF
    kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=bytes(bad), KeyId=key, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    kms_error("InvalidKeyUsageException", kms.decrypt, CiphertextBlob=blob, KeyId=key)
    kms_error("ValidationException", kms.encrypt, KeyId=key, Plaintext=b"p",
              EncryptionAlgorithm="RSAES_OAEP_SHA_256", EncryptionContext={"a": "b"})
