"""The KeySpec table agrees with the model, and every spec's key material is real."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, rsa

from fakekms import keyspecs, model
from fakekms.crypto import software
from fakekms.seeding import RandomSource

ENUMS = {
    "EncryptionAlgorithms": "EncryptionAlgorithmSpec",
    "SigningAlgorithms": "SigningAlgorithmSpec",
    "MacAlgorithms": "MacAlgorithmSpec",
    "KeyAgreementAlgorithms": "KeyAgreementAlgorithmSpec",
    "EncapsulationAlgorithms": "EncapsulationAlgorithmSpec",
}


def test_table_covers_exactly_the_model_key_specs():
    assert set(keyspecs.KEY_SPECS) == set(model.enum_values("KeySpec"))


def test_every_name_is_a_model_enum_value():
    usages = set(model.enum_values("KeyUsageType"))
    for spec, by_usage in keyspecs.KEY_SPECS.items():
        for usage, fields in by_usage.items():
            assert usage in usages
            for field, algorithms in fields.items():
                assert set(algorithms) <= set(model.enum_values(ENUMS[field])), (spec, field)


EXPECTED = {
    "RSA_2048": (rsa.RSAPrivateKey, 2048),
    "RSA_3072": (rsa.RSAPrivateKey, 3072),
    "RSA_4096": (rsa.RSAPrivateKey, 4096),
    "ECC_NIST_P256": (ec.EllipticCurvePrivateKey, "secp256r1"),
    "ECC_NIST_P384": (ec.EllipticCurvePrivateKey, "secp384r1"),
    "ECC_NIST_P521": (ec.EllipticCurvePrivateKey, "secp521r1"),
    "ECC_SECG_P256K1": (ec.EllipticCurvePrivateKey, "secp256k1"),
    "ECC_NIST_EDWARDS25519": (ed25519.Ed25519PrivateKey, None),
    "ML_DSA_44": (mldsa.MLDSA44PrivateKey, None),
    "ML_DSA_65": (mldsa.MLDSA65PrivateKey, None),
    "ML_DSA_87": (mldsa.MLDSA87PrivateKey, None),
}


@pytest.mark.parametrize("spec", sorted(EXPECTED))
def test_asymmetric_material_is_a_private_key_of_the_spec(spec):
    material = software.generate_key_material(spec, RandomSource())
    key = software.load_private_key(material)
    cls, detail = EXPECTED[spec]
    assert isinstance(key, cls)
    if cls is rsa.RSAPrivateKey:
        assert key.key_size == detail and key.public_key().public_numbers().e == 65537
    elif cls is ec.EllipticCurvePrivateKey:
        assert key.curve.name == detail
    assert software.public_key_der(material)


@pytest.mark.parametrize("spec,length", [("SYMMETRIC_DEFAULT", 32), ("HMAC_224", 28), ("HMAC_256", 32),
                                         ("HMAC_384", 48), ("HMAC_512", 64)])
def test_secret_material_lengths(spec, length):
    a = software.generate_key_material(spec, RandomSource())
    b = software.generate_key_material(spec, RandomSource())
    assert len(a) == len(b) == length and a != b


def test_created_keys_store_their_material(local):
    kms = local.client()
    created = {spec: kms.create_key(KeySpec=spec, KeyUsage=keyspecs.usages(spec)[0])["KeyMetadata"]["KeyId"]
               for spec in ("SYMMETRIC_DEFAULT", "HMAC_512", "ECC_SECG_P256K1", "ML_DSA_44")}
    with local.app.store.read() as tx:
        for spec, key_id in created.items():
            key = tx.get_key("111122223333", "us-west-2", key_id)
            record = tx.key_material(key)
            version, material = record.version, record.ref  # software: the material itself
            assert version == 1
            if keyspecs.is_asymmetric(spec):
                software.load_private_key(material)
            else:
                assert len(material) == {"SYMMETRIC_DEFAULT": 32, "HMAC_512": 64}[spec]
