//! Test-only Ed25519 keys (PKCS#8 DER in base64, and the public `x` of each) and JWTs signed
//! with them: real signatures for tests of verification and of the lifecycle.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

pub struct TestKey {
    pub kid: &'static str,
    pkcs8: &'static str,
    x: &'static str,
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

    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let der = STANDARD.decode(self.pkcs8).expect("a valid test key");
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.into());
        encode(&header, claims, &EncodingKey::from_ed_der(&der)).expect("the test key signs")
    }
}

/// A JWKS document publishing `keys`.
pub fn jwks(keys: &[&TestKey]) -> String {
    let keys: Vec<String> = keys.iter().map(|key| key.jwk()).collect();
    format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}
