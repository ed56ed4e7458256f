"""Which KeyUsage each KeySpec allows, and the algorithms a key of that pair offers.

The service model lists the enums but states these pairings only in prose (the KeySpec and
KeyUsage documentation of CreateKey and the Developer Guide's key spec reference), so they are
written out once here. Every name below is checked against the model's enums by the tests.
"""

from __future__ import annotations

_RSA_ENCRYPTION = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
_RSA_SIGNING = [
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
]

# KeySpec -> KeyUsage -> {KeyMetadata algorithm field: algorithms}
KEY_SPECS: dict[str, dict[str, dict[str, list[str]]]] = {
    "SYMMETRIC_DEFAULT": {"ENCRYPT_DECRYPT": {"EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"]}},
    "HMAC_224": {"GENERATE_VERIFY_MAC": {"MacAlgorithms": ["HMAC_SHA_224"]}},
    "HMAC_256": {"GENERATE_VERIFY_MAC": {"MacAlgorithms": ["HMAC_SHA_256"]}},
    "HMAC_384": {"GENERATE_VERIFY_MAC": {"MacAlgorithms": ["HMAC_SHA_384"]}},
    "HMAC_512": {"GENERATE_VERIFY_MAC": {"MacAlgorithms": ["HMAC_SHA_512"]}},
    **{
        f"RSA_{bits}": {
            "ENCRYPT_DECRYPT": {"EncryptionAlgorithms": _RSA_ENCRYPTION},
            "SIGN_VERIFY": {"SigningAlgorithms": _RSA_SIGNING},
        }
        for bits in (2048, 3072, 4096)
    },
    **{
        f"ECC_NIST_P{bits}": {
            "SIGN_VERIFY": {"SigningAlgorithms": [f"ECDSA_SHA_{digest}"]},
            "KEY_AGREEMENT": {"KeyAgreementAlgorithms": ["ECDH"]},
        }
        for bits, digest in ((256, 256), (384, 384), (521, 512))
    },
    "ECC_SECG_P256K1": {"SIGN_VERIFY": {"SigningAlgorithms": ["ECDSA_SHA_256"]}},
    "ECC_NIST_EDWARDS25519": {
        "SIGN_VERIFY": {"SigningAlgorithms": ["ED25519_SHA_512", "ED25519_PH_SHA_512"]}
    },
    **{
        f"ML_DSA_{level}": {"SIGN_VERIFY": {"SigningAlgorithms": ["ML_DSA_SHAKE_256"]}}
        for level in (44, 65, 87)
    },
    **{
        f"ML_KEM_{level}": {"ENCAPSULATE_DECAPSULATE": {"EncapsulationAlgorithms": ["ML_KEM"]}}
        for level in (512, 768, 1024)
    },
    "SM2": {
        "ENCRYPT_DECRYPT": {"EncryptionAlgorithms": ["SM2PKE"]},
        "SIGN_VERIFY": {"SigningAlgorithms": ["SM2DSA"]},
        "KEY_AGREEMENT": {"KeyAgreementAlgorithms": ["ECDH"]},
    },
}

ALGORITHM_FIELDS = ("EncryptionAlgorithms", "SigningAlgorithms", "MacAlgorithms", "KeyAgreementAlgorithms",
                    "EncapsulationAlgorithms")

# SM2 keys exist only in the AWS China Regions, and ML-KEM keys everywhere else.
CHINA_REGIONS = frozenset({"cn-north-1", "cn-northwest-1"})


def usages(key_spec: str) -> list[str]:
    return list(KEY_SPECS[key_spec])


def algorithms(key_spec: str, key_usage: str) -> dict[str, list[str]]:
    return KEY_SPECS[key_spec][key_usage]


def is_symmetric_encryption(key_spec: str) -> bool:
    return key_spec == "SYMMETRIC_DEFAULT"


def is_hmac(key_spec: str) -> bool:
    return key_spec.startswith("HMAC_")


def is_asymmetric(key_spec: str) -> bool:
    return not (is_symmetric_encryption(key_spec) or is_hmac(key_spec))


# Bytes of each digest an algorithm name ends in (..._SHA_256).
_DIGEST_BYTES = {"SHA_1": 20, "SHA_256": 32, "SHA_384": 48, "SHA_512": 64}


def _digest_bytes_of(algorithm: str) -> int:
    return _DIGEST_BYTES[algorithm[algorithm.index("SHA_"):]]


def max_plaintext_bytes(key_spec: str, algorithm: str) -> int:
    """OAEP's limit, k - 2*hLen - 2: 214/190 bytes for RSA_2048 with SHA-1/SHA-256, as AWS lists."""
    return int(key_spec[4:]) // 8 - 2 * _digest_bytes_of(algorithm) - 2


def digest_bytes(algorithm: str) -> int:
    """How long a DIGEST message must be for ``algorithm``; 64 for ML-DSA's EXTERNAL_MU."""
    if algorithm == "ML_DSA_SHAKE_256":
        return 64
    return _digest_bytes_of(algorithm)


# Bytes of an ML-KEM ciphertext (SharedSecretCiphertextBlob), as the Encapsulate reference lists.
_KEM_CIPHERTEXT_BYTES = {"ML_KEM_512": 768, "ML_KEM_768": 1088, "ML_KEM_1024": 1568}


def kem_ciphertext_bytes(key_spec: str) -> int:
    return _KEM_CIPHERTEXT_BYTES[key_spec]


def message_types(algorithm: str) -> tuple[str, ...]:
    """The MessageType values AWS accepts with ``algorithm``."""
    if algorithm == "ED25519_SHA_512":
        return ("RAW",)
    if algorithm == "ED25519_PH_SHA_512":
        return ("DIGEST",)
    if algorithm == "ML_DSA_SHAKE_256":
        return ("RAW", "EXTERNAL_MU")
    return ("RAW", "DIGEST")
