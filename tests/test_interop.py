"""Real clients against the server: the AWS Encryption SDK for Python with a KMS master key
provider, PyJWT verifying KMS-signed tokens, and the OpenSSL command line both ways."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import aws_encryption_sdk
import botocore.session
import jwt
import pytest
from aws_encryption_sdk import CommitmentPolicy
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import utils

from conftest import ACCOUNT, Backend, KeyCache
from helpers import kms_error


@pytest.fixture(scope="module")
def keys(crypto_server):
    """Server mode only: the clients here find fakekms through AWS_ENDPOINT_URL_KMS or a URL."""
    return KeyCache(Backend("server", endpoint=crypto_server.endpoint))


@pytest.fixture(scope="module")
def kms(keys):
    return keys.client


@pytest.fixture
def esdk_session(crypto_server, monkeypatch):
    """A botocore session whose KMS clients reach the server, as a user would configure it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", crypto_server.endpoint)
    session = botocore.session.Session()
    session.set_credentials(ACCOUNT, "fake-secret")
    return session


# --- AWS Encryption SDK --------------------------------------------------------------------------

def test_encryption_sdk_round_trip(keys, esdk_session):
    key_arn = keys.get()["Arn"]
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[key_arn], botocore_session=esdk_session)
    plaintext = b"envelope-encrypted with a fakekms data key" * 100
    ciphertext, header = client.encrypt(source=plaintext, key_provider=provider,
                                        encryption_context={"tenant": "acme"})
    assert ciphertext != plaintext
    assert [k.key_provider.key_info.decode() for k in header.encrypted_data_keys] == [key_arn]

    decrypted, decrypted_header = client.decrypt(source=ciphertext, key_provider=provider)
    assert decrypted == plaintext
    assert decrypted_header.encryption_context["tenant"] == "acme"

    discovery = aws_encryption_sdk.DiscoveryAwsKmsMasterKeyProvider(botocore_session=esdk_session)
    assert client.decrypt(source=ciphertext, key_provider=discovery)[0] == plaintext


def test_encryption_sdk_fails_on_a_tampered_data_key(keys, esdk_session):
    """A flipped byte in the encrypted data key: fakekms refuses it, and the SDK says so."""
    key_arn = keys.get()["Arn"]
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[key_arn], botocore_session=esdk_session)
    ciphertext, header = client.encrypt(source=b"payload", key_provider=provider)
    (edk,) = header.encrypted_data_keys
    tampered_key = bytearray(edk.encrypted_data_key)
    tampered_key[-5] ^= 0x01
    kms_error("InvalidCiphertextException", keys.client.decrypt, CiphertextBlob=bytes(tampered_key),
              KeyId=key_arn, EncryptionContext=header.encryption_context)
    bad = ciphertext.replace(edk.encrypted_data_key, bytes(tampered_key))
    with pytest.raises(aws_encryption_sdk.exceptions.AWSEncryptionSDKClientError) as info:
        client.decrypt(source=bad, key_provider=provider)
    # The SDK's stream re-raises on close; the first failure was that no data key decrypted.
    chain, error = [], info.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, aws_encryption_sdk.exceptions.DecryptKeyError) for e in chain)


# --- JWT -----------------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


JWT_CASES = [
    ("RS256", "RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ("PS384", "RSA_3072", "RSASSA_PSS_SHA_384"),
    ("ES256", "ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ES512", "ECC_NIST_P521", "ECDSA_SHA_512"),
    ("EdDSA", "ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
]


@pytest.mark.parametrize("jwt_alg, spec, algorithm", JWT_CASES)
def test_kms_signed_jwt_verifies_with_pyjwt(kms, keys, jwt_alg, spec, algorithm):
    key = keys.get(spec, "SIGN_VERIFY")["Arn"]
    signing_input = ".".join([
        b64url(json.dumps({"alg": jwt_alg, "typ": "JWT"}).encode()),
        b64url(json.dumps({"sub": "user-1", "iss": "fakekms"}).encode()),
    ])
    signature = kms.sign(KeyId=key, Message=signing_input.encode(), SigningAlgorithm=algorithm)["Signature"]
    if jwt_alg.startswith("ES"):  # JWS wants r || s, KMS returns DER
        r, s = utils.decode_dss_signature(signature)
        size = {"ES256": 32, "ES512": 66}[jwt_alg]
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    token = f"{signing_input}.{b64url(signature)}"
    public_pem = serialization.load_der_public_key(kms.get_public_key(KeyId=key)["PublicKey"]).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = jwt.decode(token, public_pem, algorithms=[jwt_alg])
    assert claims == {"sub": "user-1", "iss": "fakekms"}


# --- OpenSSL -------------------------------------------------------------------------------------

openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


def public_pem_file(kms, key, tmp_path):
    der = kms.get_public_key(KeyId=key)["PublicKey"]
    path = tmp_path / "public.pem"
    path.write_bytes(serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


@openssl
@pytest.mark.parametrize("spec, algorithm, options", [
    ("ECC_NIST_P384", "ECDSA_SHA_384", ["-sha384"]),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", ["-sha256"]),
    ("RSA_2048", "RSASSA_PSS_SHA_512", ["-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:64"]),
])
def test_openssl_verifies_kms_signatures(kms, keys, tmp_path, spec, algorithm, options):
    key = keys.get(spec, "SIGN_VERIFY")["Arn"]
    message = tmp_path / "message"
    message.write_bytes(b"signed by fakekms, checked by openssl")
    signature = tmp_path / "signature"
    signature.write_bytes(kms.sign(KeyId=key, Message=message.read_bytes(), SigningAlgorithm=algorithm)["Signature"])
    result = subprocess.run(
        ["openssl", "dgst", *options, "-verify", str(public_pem_file(kms, key, tmp_path)),
         "-signature", str(signature), str(message)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stderr


@openssl
def test_kms_decrypts_what_openssl_encrypts(kms, keys, tmp_path):
    key = keys.get("RSA_3072", "ENCRYPT_DECRYPT")["Arn"]
    result = subprocess.run(
        ["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", str(public_pem_file(kms, key, tmp_path)),
         "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"],
        input=b"from openssl", capture_output=True, check=True,
    )
    out = kms.decrypt(CiphertextBlob=result.stdout, KeyId=key, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert out["Plaintext"] == b"from openssl"
