"""Sign, Verify, GetPublicKey, GenerateMac, VerifyMac and DeriveSharedSecret through boto3.

Every signature fakekms makes is verified outside it, with ``cryptography`` (and PyCryptodome for
Ed25519ph, which ``cryptography`` lacks) against the key GetPublicKey returns.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from helpers import kms_error

from fakekms import keyspecs

MESSAGE = b"The quick brown fox jumps over the lazy dog" * 3

SIGNING_CASES = [
    (spec, algorithm)
    for spec, usages in keyspecs.KEY_SPECS.items()
    if spec != "SM2" and "SIGN_VERIFY" in usages
    for algorithm in usages["SIGN_VERIFY"]["SigningAlgorithms"]
]
HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


@pytest.fixture(scope="module")
def kms(keys):
    return keys.client


def public_key(kms, key_id):
    return serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])


def hash_of(algorithm: str):
    return HASHES[algorithm[-3:]]()


def digest(algorithm: str, message: bytes) -> bytes:
    h = hashes.Hash(hash_of(algorithm))
    h.update(message)
    return h.finalize()


def ml_dsa_mu(public, message: bytes) -> bytes:
    """FIPS 204 mu for pure ML-DSA with an empty context, computed independently of fakekms."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    tr = hashlib.shake_256(raw).digest(64)
    return hashlib.shake_256(tr + b"\x00\x00" + message).digest(64)


def verify_locally(public, algorithm: str, message: bytes, signature: bytes) -> None:
    """Raises if ``signature`` is not a valid ``algorithm`` signature of ``message``."""
    if algorithm.startswith("RSASSA_PSS_"):
        h = hash_of(algorithm)
        public.verify(signature, message, padding.PSS(padding.MGF1(h), h.digest_size), h)
    elif algorithm.startswith("RSASSA_PKCS1_V1_5_"):
        public.verify(signature, message, padding.PKCS1v15(), hash_of(algorithm))
    elif algorithm.startswith("ECDSA_"):
        public.verify(signature, message, ec.ECDSA(hash_of(algorithm)))
    elif algorithm == "ED25519_SHA_512":
        public.verify(signature, message)
    elif algorithm == "ED25519_PH_SHA_512":
        from Crypto.Hash import SHA512
        from Crypto.Signature import eddsa

        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        eddsa.new(eddsa.import_public_key(raw), "rfc8032").verify(SHA512.new(message), signature)
    elif algorithm == "ML_DSA_SHAKE_256":
        public.verify(signature, message)
    else:
        raise AssertionError(algorithm)


@pytest.mark.parametrize("spec, algorithm", SIGNING_CASES)
def test_signature_verifies_offline(kms, keys, spec, algorithm):
    key = keys.get(spec, "SIGN_VERIFY")["Arn"]
    public = public_key(kms, key)
    if algorithm == "ED25519_PH_SHA_512":
        # AWS takes Ed25519ph only with MessageType DIGEST, and still prehashes: the signature is
        # RFC 8032 Ed25519ph over the 64 bytes the caller sent.
        message, message_type = hashlib.sha512(MESSAGE).digest(), "DIGEST"
    else:
        message, message_type = MESSAGE, "RAW"
    out = kms.sign(KeyId=key, Message=message, MessageType=message_type, SigningAlgorithm=algorithm)
    assert out["KeyId"] == key and out["SigningAlgorithm"] == algorithm
    verify_locally(public, algorithm, message, out["Signature"])
    assert kms.verify(KeyId=key, Message=message, MessageType=message_type, Signature=out["Signature"],
                      SigningAlgorithm=algorithm)["SignatureValid"] is True


@pytest.mark.parametrize("spec, algorithm", [c for c in SIGNING_CASES if c[1].startswith(("RSASSA", "ECDSA"))])
def test_digest_signature_verifies_over_the_message(kms, keys, spec, algorithm):
    key = keys.get(spec, "SIGN_VERIFY")["Arn"]
    signature = kms.sign(KeyId=key, Message=digest(algorithm, MESSAGE), MessageType="DIGEST",
                         SigningAlgorithm=algorithm)["Signature"]
    verify_locally(public_key(kms, key), algorithm, MESSAGE, signature)
    # A RAW verify of the same message accepts the DIGEST signature: one hash either way.
    assert kms.verify(KeyId=key, Message=MESSAGE, Signature=signature, SigningAlgorithm=algorithm)["SignatureValid"]
    if algorithm.startswith("ECDSA_"):
        r, s = utils.decode_dss_signature(signature)  # DER, as AWS returns
        assert r > 0 and s > 0


@pytest.mark.parametrize("spec", ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"])
def test_ml_dsa_external_mu(kms, keys, spec):
    key = keys.get(spec, "SIGN_VERIFY")["Arn"]
    public = public_key(kms, key)
    mu = ml_dsa_mu(public, MESSAGE)
    signature = kms.sign(KeyId=key, Message=mu, MessageType="EXTERNAL_MU", SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    public.verify(signature, MESSAGE)  # a signature over mu is a signature over the message
    raw = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    assert kms.verify(KeyId=key, Message=mu, MessageType="EXTERNAL_MU", Signature=raw,
                      SigningAlgorithm="ML_DSA_SHAKE_256")["SignatureValid"]


def test_public_signature_offline_made_verifies_in_kms(kms, keys):
    """Verify accepts what another signer made with the same key pair: KMS's own output."""
    key = keys.get("ECC_NIST_P384", "SIGN_VERIFY")["Arn"]
    signature = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_384")["Signature"]
    r, s = utils.decode_dss_signature(signature)
    reencoded = utils.encode_dss_signature(r, s)
    assert kms.verify(KeyId=key, Message=MESSAGE, Signature=reencoded, SigningAlgorithm="ECDSA_SHA_384")["SignatureValid"]


@pytest.mark.parametrize("spec, algorithm", [("RSA_2048", "RSASSA_PSS_SHA_256"), ("ECC_NIST_P256", "ECDSA_SHA_256"),
                                             ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"), ("ML_DSA_44", "ML_DSA_SHAKE_256")])
def test_bad_signature_is_an_error_not_false(kms, keys, spec, algorithm):
    key = keys.get(spec, "SIGN_VERIFY")["Arn"]
    signature = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm=algorithm)["Signature"]
    tampered = bytearray(signature)
    tampered[len(tampered) // 2] ^= 0x01
    kms_error("KMSInvalidSignatureException", kms.verify, KeyId=key, Message=MESSAGE,
              Signature=bytes(tampered), SigningAlgorithm=algorithm)
    kms_error("KMSInvalidSignatureException", kms.verify, KeyId=key, Message=MESSAGE + b".",
              Signature=signature, SigningAlgorithm=algorithm)
    kms_error("KMSInvalidSignatureException", kms.verify, KeyId=key, Message=MESSAGE,
              Signature=b"\x30\x00", SigningAlgorithm=algorithm)


def test_message_type_and_digest_rules(kms, keys):
    ecc = keys.get("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
    ed = keys.get("ECC_NIST_EDWARDS25519", "SIGN_VERIFY")["KeyId"]
    mldsa = keys.get("ML_DSA_44", "SIGN_VERIFY")["KeyId"]
    rsa = keys.get("RSA_2048", "SIGN_VERIFY")["KeyId"]
    for size in (20, 31, 33, 64):
        message = kms_error("ValidationException", kms.sign, KeyId=ecc, Message=b"d" * size,
                            MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
        assert message == "Digest is invalid length for algorithm ECDSA_SHA_256."
    kms_error("ValidationException", kms.sign, KeyId=rsa, Message=b"d" * 32, MessageType="DIGEST",
              SigningAlgorithm="RSASSA_PSS_SHA_512")
    kms_error("ValidationException", kms.sign, KeyId=ed, Message=hashlib.sha512(b"m").digest(),
              MessageType="DIGEST", SigningAlgorithm="ED25519_SHA_512")
    kms_error("ValidationException", kms.sign, KeyId=ed, Message=b"m", SigningAlgorithm="ED25519_PH_SHA_512")
    kms_error("ValidationException", kms.sign, KeyId=ed, Message=b"d" * 32, MessageType="DIGEST",
              SigningAlgorithm="ED25519_PH_SHA_512")
    kms_error("ValidationException", kms.sign, KeyId=ecc, Message=b"m" * 64, MessageType="EXTERNAL_MU",
              SigningAlgorithm="ECDSA_SHA_256")
    kms_error("ValidationException", kms.sign, KeyId=mldsa, Message=b"m" * 32, MessageType="EXTERNAL_MU",
              SigningAlgorithm="ML_DSA_SHAKE_256")
    kms_error("ValidationException", kms.sign, KeyId=mldsa, Message=b"m" * 64, MessageType="DIGEST",
              SigningAlgorithm="ML_DSA_SHAKE_256")
    kms_error("ValidationException", kms.sign, KeyId=ecc, Message=b"m" * 4097, SigningAlgorithm="ECDSA_SHA_256")
    kms_error("ValidationException", kms.sign, KeyId=ecc, Message=b"", SigningAlgorithm="ECDSA_SHA_256")
    kms_error("ValidationException", kms.sign, KeyId=ecc, Message=b"m", SigningAlgorithm="ECDSA_SHA_999")


def test_wrong_key_or_algorithm_is_invalid_key_usage(kms, keys):
    ecc = keys.get("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
    message = kms_error("InvalidKeyUsageException", kms.sign, KeyId=ecc, Message=b"m", SigningAlgorithm="ECDSA_SHA_384")
    assert message == "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256."
    kms_error("InvalidKeyUsageException", kms.sign, KeyId=ecc, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    rsa_enc = keys.get("RSA_2048", "ENCRYPT_DECRYPT")
    message = kms_error("InvalidKeyUsageException", kms.sign, KeyId=rsa_enc["KeyId"], Message=b"m",
                        SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert message == f"{rsa_enc['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for Sign."
    kms_error("InvalidKeyUsageException", kms.verify, KeyId=keys.get()["KeyId"], Message=b"m",
              Signature=b"s", SigningAlgorithm="ECDSA_SHA_256")


def test_sign_dry_run_and_disabled(kms, keys):
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms_error("DryRunOperationException", kms.sign, KeyId=key, Message=b"m", SigningAlgorithm="ECDSA_SHA_256", DryRun=True)
    kms_error("ValidationException", kms.sign, KeyId=key, Message=b"m" * 5, MessageType="DIGEST",
              SigningAlgorithm="ECDSA_SHA_256", DryRun=True)
    kms.disable_key(KeyId=key)
    kms_error("DisabledException", kms.sign, KeyId=key, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    kms_error("DisabledException", kms.get_public_key, KeyId=key)


# --- GetPublicKey --------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, usage, field", [
    ("RSA_3072", "ENCRYPT_DECRYPT", "EncryptionAlgorithms"),
    ("RSA_3072", "SIGN_VERIFY", "SigningAlgorithms"),
    ("ECC_NIST_P521", "KEY_AGREEMENT", "KeyAgreementAlgorithms"),
    ("ML_DSA_65", "SIGN_VERIFY", "SigningAlgorithms"),
])
def test_get_public_key_fields(kms, keys, spec, usage, field):
    meta = keys.get(spec, usage)
    out = kms.get_public_key(KeyId=meta["Arn"])
    assert out["KeyId"] == meta["Arn"]
    assert out["KeySpec"] == out["CustomerMasterKeySpec"] == spec
    assert out["KeyUsage"] == usage
    assert out[field] == meta[field]
    assert [f for f in keyspecs.ALGORITHM_FIELDS if f in out] == [field]
    serialization.load_der_public_key(out["PublicKey"])


def test_get_public_key_not_for_symmetric_or_hmac(kms, keys):
    kms_error("UnsupportedOperationException", kms.get_public_key, KeyId=keys.get()["KeyId"])
    kms_error("UnsupportedOperationException", kms.get_public_key,
              KeyId=keys.get("HMAC_384", "GENERATE_VERIFY_MAC")["KeyId"])


# --- HMAC ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", ["224", "256", "384", "512"])
def test_mac_matches_hmac_over_the_key_material(local, bits):
    """The MAC equals the stdlib's HMAC under the key's stored material, read from the store."""
    kms = local.client()
    meta = kms.create_key(KeySpec=f"HMAC_{bits}", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    algorithm = f"HMAC_SHA_{bits}"
    out = kms.generate_mac(KeyId=meta["Arn"], Message=MESSAGE, MacAlgorithm=algorithm)
    assert out["KeyId"] == meta["Arn"] and out["MacAlgorithm"] == algorithm
    with local.app.store.read() as tx:
        key = tx.get_key(meta["AWSAccountId"], "us-west-2", meta["KeyId"])
        secret = tx.key_material(key).ref  # the software backend's reference is the material
    assert len(secret) == {"224": 28, "256": 32, "384": 48, "512": 64}[bits]
    assert out["Mac"] == hmac.digest(secret, MESSAGE, f"sha{bits}")
    verified = kms.verify_mac(KeyId=meta["Arn"], Message=MESSAGE, MacAlgorithm=algorithm, Mac=out["Mac"])
    assert verified["MacValid"] is True and verified["KeyId"] == meta["Arn"]


def test_mac_errors(kms, keys):
    key = keys.get("HMAC_256", "GENERATE_VERIFY_MAC")["KeyId"]
    kms.create_alias(AliasName="alias/mac-key", TargetKeyId=key)
    mac = kms.generate_mac(KeyId="alias/mac-key", Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    kms_error("KMSInvalidMacException", kms.verify_mac, KeyId=key, Message=b"n", MacAlgorithm="HMAC_SHA_256", Mac=mac)
    kms_error("KMSInvalidMacException", kms.verify_mac, KeyId=key, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac[:-1])
    kms_error("InvalidKeyUsageException", kms.generate_mac, KeyId=key, Message=b"m", MacAlgorithm="HMAC_SHA_384")
    kms_error("InvalidKeyUsageException", kms.generate_mac, KeyId=keys.get()["KeyId"], Message=b"m",
              MacAlgorithm="HMAC_SHA_256")
    kms_error("ValidationException", kms.generate_mac, KeyId=key, Message=b"m" * 4097, MacAlgorithm="HMAC_SHA_256")
    kms_error("DryRunOperationException", kms.verify_mac, KeyId=key, Message=b"m", MacAlgorithm="HMAC_SHA_256",
              Mac=mac, DryRun=True)


# --- key agreement -------------------------------------------------------------------------------

CURVES = {"ECC_NIST_P256": ec.SECP256R1, "ECC_NIST_P384": ec.SECP384R1, "ECC_NIST_P521": ec.SECP521R1}


@pytest.mark.parametrize("spec", list(CURVES))
def test_shared_secret_matches_the_other_side(kms, keys, spec):
    meta = keys.get(spec, "KEY_AGREEMENT")
    peer = ec.generate_private_key(CURVES[spec]())
    peer_der = peer.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    out = kms.derive_shared_secret(KeyId=meta["Arn"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    assert out["KeyId"] == meta["Arn"] and out["KeyAgreementAlgorithm"] == "ECDH"
    assert out["KeyOrigin"] == "AWS_KMS"
    theirs = peer.exchange(ec.ECDH(), public_key(kms, meta["Arn"]))
    assert out["SharedSecret"] == theirs


def test_shared_secret_errors(kms, keys):
    key = keys.get("ECC_NIST_P256", "KEY_AGREEMENT")["KeyId"]
    other_curve = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kms_error("ValidationException", kms.derive_shared_secret, KeyId=key, KeyAgreementAlgorithm="ECDH", PublicKey=other_curve)
    kms_error("ValidationException", kms.derive_shared_secret, KeyId=key, KeyAgreementAlgorithm="ECDH", PublicKey=b"not der")
    kms_error("InvalidKeyUsageException", kms.derive_shared_secret,
              KeyId=keys.get("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=other_curve)
    kms_error("ValidationException", kms.derive_shared_secret, KeyId=key, KeyAgreementAlgorithm="DH", PublicKey=other_curve)
    peer = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kms_error("DryRunOperationException", kms.derive_shared_secret, KeyId=key, KeyAgreementAlgorithm="ECDH",
              PublicKey=peer, DryRun=True)
