//! The math behind jsonwebtoken: a verification-only `CryptoProvider` on `ring`, which rustls
//! links already (jsonwebtoken's own backends would add RustCrypto's `rsa`/`p256`/`p384` or
//! aws-lc). ring checks what hostile keys and signatures need checked: RSA moduli of 2048 to
//! 8192 bits and odd exponents of at least 3, EC points on their curve, ECDSA `r` and `s` in
//! `[1, n-1]` (no all-zero "psychic signatures", CVE-2022-21449).
//!
//! jsonwebtoken's provider is process-global (a `OnceLock` in the jsonwebtoken crate), and
//! `install` puts ours there before the first verification. In the shipped `.node` that
//! global belongs to the copy of jsonwebtoken linked into the addon, so nothing but this
//! crate can install one. Only a Rust program that links this crate as a library and
//! installed another provider first (aws-lc-rs or RustCrypto, jsonwebtoken's own) keeps
//! its own: that one then verifies, after every rule of ours (allowlist, key sizes, no
//! private or symmetric keys, `none`/HMAC never) has already been applied
//! (tests/foreign_crypto_provider.rs).

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::EncodingKey;
use jsonwebtoken::{signature, Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use ring::signature::{self as ring_signature, RsaParameters, VerificationAlgorithm};
use std::sync::Once;

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: refuse_to_sign,
    verifier_factory: ring_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(not_a_verification()),
        rsa_pub_components_from_public_key: |_| Err(not_a_verification()),
        ec_pub_components_from_private_key: |_, _| Err(not_a_verification()),
        ed_pub_components_from_private_key: |_, _| Err(not_a_verification()),
        compute_digest,
    },
};

/// Makes ours the process's provider unless one is installed already (see the module
/// comment); cheap after the first call, so every verification calls it.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Err only when another provider came first: that one is kept (module comment).
        let _ = PROVIDER.install_default();
    });
}

/// Whether the process verifies with ours (false only in a Rust program that installed
/// another provider before this crate's first verification).
pub fn is_ours() -> bool {
    CryptoProvider::try_get_default().is_some_and(|installed| std::ptr::eq(installed, &PROVIDER))
}

/// What the key utilities that only signing and JWK export need answer: an error, never
/// jsonwebtoken's "unimplemented" panic.
fn not_a_verification() -> Error {
    ErrorKind::Provider("this client only verifies tokens".into()).into()
}

fn refuse_to_sign(_: &Algorithm, _: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Err(not_a_verification())
}

/// For JWK thumbprints (RFC 7638); nothing of ours asks for one, but it is cheap to answer.
fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(ring::digest::digest(algorithm, data).as_ref().to_vec())
}

/// One verification: `alg` with the public key as jwks.rs made it (RSA as modulus and
/// exponent, EC as the uncompressed point `04 || x || y`, Ed25519 as its 32 bytes).
struct RingVerifier {
    algorithm: Algorithm,
    check: Check,
}

enum Check {
    Rsa {
        params: &'static RsaParameters,
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Point {
        params: &'static dyn VerificationAlgorithm,
        key: Vec<u8>,
    },
}

fn ring_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    use Algorithm::*;
    let rsa = |params| match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } => Ok(Check::Rsa {
            params,
            n: n.clone(),
            e: e.clone(),
        }),
        DecodingKeyKind::SecretOrDer(_) => Err(Error::from(ErrorKind::InvalidKeyFormat)),
    };
    let point = |params, size| match key.kind() {
        DecodingKeyKind::SecretOrDer(bytes) if bytes.len() == size => Ok(Check::Point {
            params,
            key: bytes.clone(),
        }),
        _ => Err(Error::from(ErrorKind::InvalidKeyFormat)),
    };
    if key.family() != algorithm.family() || key.family() == AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let check = match algorithm {
        RS256 => rsa(&ring_signature::RSA_PKCS1_2048_8192_SHA256)?,
        RS384 => rsa(&ring_signature::RSA_PKCS1_2048_8192_SHA384)?,
        RS512 => rsa(&ring_signature::RSA_PKCS1_2048_8192_SHA512)?,
        PS256 => rsa(&ring_signature::RSA_PSS_2048_8192_SHA256)?,
        PS384 => rsa(&ring_signature::RSA_PSS_2048_8192_SHA384)?,
        PS512 => rsa(&ring_signature::RSA_PSS_2048_8192_SHA512)?,
        ES256 => point(&ring_signature::ECDSA_P256_SHA256_FIXED, 65)?,
        ES384 => point(&ring_signature::ECDSA_P384_SHA384_FIXED, 97)?,
        EdDSA => point(&ring_signature::ED25519, 32)?,
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(Box::new(RingVerifier {
        algorithm: *algorithm,
        check,
    }))
}

impl signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        let verified = match &self.check {
            Check::Rsa { params, n, e } => ring_signature::RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .is_ok(),
            Check::Point { params, key } => ring_signature::UnparsedPublicKey::new(*params, key)
                .verify(message, signature)
                .is_ok(),
        };
        verified.then_some(()).ok_or_else(signature::Error::new)
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// The curve of an EC JWK, for jwks.rs; `None` for curves ring cannot verify (P-521).
pub fn curve_point_size(curve: &EllipticCurve) -> Option<usize> {
    match curve {
        EllipticCurve::P256 => Some(65),
        EllipticCurve::P384 => Some(97),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Header;

    #[test]
    fn signing_is_an_error_not_a_panic() {
        install();
        assert!(is_ours());
        let key = EncodingKey::from_secret(b"secret").unwrap();
        for algorithm in [Algorithm::HS256, Algorithm::RS256, Algorithm::EdDSA] {
            let signed =
                jsonwebtoken::encode(&Header::new(algorithm), &serde_json::json!({}), &key);
            assert!(signed.is_err(), "{algorithm:?}");
        }
        for utility in [
            (PROVIDER.key_utils.rsa_pub_components_from_private_key)(b"x").is_err(),
            (PROVIDER.key_utils.rsa_pub_components_from_public_key)(b"x").is_err(),
            (PROVIDER.key_utils.ec_pub_components_from_private_key)(b"x", Algorithm::ES256)
                .is_err(),
            (PROVIDER.key_utils.ed_pub_components_from_private_key)(b"x", &EllipticCurve::Ed25519)
                .is_err(),
        ] {
            assert!(utility);
        }
        assert_eq!(
            compute_digest(b"abc", ThumbprintHash::SHA256)
                .unwrap()
                .len(),
            32
        );
    }

    #[test]
    fn a_key_of_another_family_or_a_secret_gets_no_verifier() {
        let secret = DecodingKey::from_secret(b"secret").unwrap();
        let rsa = DecodingKey::from_rsa_raw_components(&[0xc5; 256], &[1, 0, 1]);
        let point = DecodingKey::from_ec_der(&[4; 65]);
        assert!(ring_verifier(&Algorithm::HS256, &secret).is_err());
        assert!(ring_verifier(&Algorithm::RS256, &secret).is_err());
        assert!(ring_verifier(&Algorithm::ES256, &rsa).is_err());
        assert!(ring_verifier(&Algorithm::ES384, &point).is_err());
        assert!(ring_verifier(&Algorithm::RS256, &rsa).is_ok());
        assert!(ring_verifier(&Algorithm::ES256, &point).is_ok());
    }
}
