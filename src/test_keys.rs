//! Test-only Ed25519 keys (PKCS#8 DER in base64, and the public `x` of each) and JWTs signed
//! with them: real signatures for tests of verification and of the lifecycle.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature::Ed25519KeyPair;

pub struct TestKey {
    pub kid: &'static str,
    pkcs8: &'static str,
    pub x: &'static str,
}

pub const FIRST: TestKey = TestKey {
    kid: "test",
    pkcs8: "MC4CAQAwBQYDK2VwBCIEIJoa77QyB1W1vxaqDm63J3H/RPiQKrbPjGBjIfAGwL+4",
    x: "mCRuOr3YOFaKqrCszK4N0QQp6fc2ujqLaT_-LjrD8zE",
};

pub const SECOND: TestKey = TestKey {
    kid: "second",
    pkcs8: "MC4CAQAwBQYDK2VwBCIEIIGd+x/UtM/vywxPZT2GsddLuo2x3akShqXprrbdxpZe",
    x: "Pllh-WL3b9MX6jNNYlG5RFQ8lLVDiU5QfT41ZoCrtaU",
};

impl TestKey {
    pub fn jwk(&self) -> String {
        format!(
            r#"{{"kty":"OKP","crv":"Ed25519","kid":"{}","alg":"EdDSA","use":"sig","x":"{}"}}"#,
            self.kid, self.x
        )
    }

    /// A compact JWS: `{"typ":"JWT","alg":"EdDSA","kid":…}`, the claims, the signature.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let der = STANDARD.decode(self.pkcs8).expect("a valid test key");
        // PKCS#8 v1 (no public key inside): ring derives it from the seed.
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).expect("a valid test key");
        let header = serde_json::json!({"typ": "JWT", "alg": "EdDSA", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = pair.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }
}

/// A JWKS document publishing `keys`.
pub fn jwks(keys: &[&TestKey]) -> String {
    let keys: Vec<String> = keys.iter().map(|key| key.jwk()).collect();
    format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}
