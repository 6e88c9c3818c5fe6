//! JWS signature verification on `ring` (already linked through rustls): the public key of
//! one JWK, and the algorithms it may verify. ring checks what hostile keys and signatures
//! need checked: RSA moduli of 2048 to 8192 bits and odd exponents of at least 3, EC points on
//! their curve, ECDSA `r` and `s` in `[1, n-1]` (no all-zero "psychic signatures").

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};

/// The JWS algorithms this client can verify (`none` and HMAC never: see `jwt::parse_algorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// A public key as a JWK gives it.
pub enum VerifyingKey {
    /// Big-endian modulus and exponent.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed points (`04 || x || y`).
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519([u8; 32]),
}

impl VerifyingKey {
    /// Whether a token signed with `alg` can be verified with this key at all.
    pub fn fits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, alg),
            (
                VerifyingKey::Rsa { .. },
                RS256 | RS384 | RS512 | PS256 | PS384 | PS512
            ) | (VerifyingKey::P256(_), ES256)
                | (VerifyingKey::P384(_), ES384)
                | (VerifyingKey::Ed25519(_), EdDSA)
        )
    }

    /// The key family's name, for `Debug`.
    pub fn family(&self) -> &'static str {
        match self {
            VerifyingKey::Rsa { .. } => "RSA",
            VerifyingKey::P256(_) => "P-256",
            VerifyingKey::P384(_) => "P-384",
            VerifyingKey::Ed25519(_) => "Ed25519",
        }
    }

    /// Whether `signature` (as the JWS carries it: ECDSA as fixed-width `r || s`) is `alg`'s
    /// signature of `message` under this key.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        use Algorithm::*;
        let rsa = |n: &[u8], e: &[u8], params: &'static signature::RsaParameters| {
            RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .is_ok()
        };
        let point = |key: &[u8], algorithm: &'static dyn VerificationAlgorithm| {
            UnparsedPublicKey::new(algorithm, key)
                .verify(message, signature)
                .is_ok()
        };
        match (self, alg) {
            (VerifyingKey::Rsa { n, e }, RS256) => {
                rsa(n, e, &signature::RSA_PKCS1_2048_8192_SHA256)
            }
            (VerifyingKey::Rsa { n, e }, RS384) => {
                rsa(n, e, &signature::RSA_PKCS1_2048_8192_SHA384)
            }
            (VerifyingKey::Rsa { n, e }, RS512) => {
                rsa(n, e, &signature::RSA_PKCS1_2048_8192_SHA512)
            }
            (VerifyingKey::Rsa { n, e }, PS256) => rsa(n, e, &signature::RSA_PSS_2048_8192_SHA256),
            (VerifyingKey::Rsa { n, e }, PS384) => rsa(n, e, &signature::RSA_PSS_2048_8192_SHA384),
            (VerifyingKey::Rsa { n, e }, PS512) => rsa(n, e, &signature::RSA_PSS_2048_8192_SHA512),
            (VerifyingKey::P256(key), ES256) => point(key, &signature::ECDSA_P256_SHA256_FIXED),
            (VerifyingKey::P384(key), ES384) => point(key, &signature::ECDSA_P384_SHA384_FIXED),
            (VerifyingKey::Ed25519(key), EdDSA) => point(key, &signature::ED25519),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

    fn p256_key_and_signature(message: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let signature = pair.sign(&rng, message).unwrap();
        (
            pair.public_key().as_ref().to_vec(),
            signature.as_ref().to_vec(),
        )
    }

    #[test]
    fn es256_verifies_its_own_signature_and_nothing_else() {
        let (point, signature) = p256_key_and_signature(b"signing input");
        let key = VerifyingKey::P256(point.clone());
        assert!(key.verify(Algorithm::ES256, b"signing input", &signature));
        assert!(!key.verify(Algorithm::ES256, b"other input", &signature));
        assert!(!key.verify(Algorithm::RS256, b"signing input", &signature));
        assert!(!key.verify(Algorithm::ES384, b"signing input", &signature));
        // CVE-2022-21449: r = s = 0 must never verify.
        assert!(!key.verify(Algorithm::ES256, b"signing input", &[0u8; 64]));
        // A point off the curve is no key.
        let mut off_curve = point;
        off_curve[64] ^= 1;
        assert!(!VerifyingKey::P256(off_curve).verify(
            Algorithm::ES256,
            b"signing input",
            &signature
        ));
    }

    #[test]
    fn rsa_keys_with_a_tiny_exponent_verify_nothing() {
        let key = VerifyingKey::Rsa {
            n: vec![0xc5; 256],
            e: vec![1],
        };
        // With e = 1 the "signature" of any padded message is the padded message itself.
        assert!(!key.verify(Algorithm::RS256, b"m", &[0x01; 256]));
        assert!(key.fits(Algorithm::PS512) && !key.fits(Algorithm::ES256));
    }
}
