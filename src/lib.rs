//! symbiote-auth: signs an Electron app in to a Flask API, keeps its JWT verified, fresh
//! and safely stored, and hands it as a bearer token to the app's MCP servers.
//!
//! The modules below are plain Rust (testable with `cargo test`); `binding`, `js_storage`
//! and `js_guard` are the only places that know about JavaScript. Nothing here is a Rust
//! API: only `fuzzing` is public, for the fuzz targets and the integration tests (`tests/`).

mod api;
mod clock;
mod config;
mod cookies;
mod errors;
mod jwks;
mod jwt;
mod keyring_store;
mod listeners;
mod log;
mod mcp;
mod secret;
mod session;
mod signature;
mod storage;
#[cfg(test)]
mod test_keys;

#[cfg(feature = "bench")]
mod bench;
mod binding;
mod js_guard;
mod js_storage;

/// What the fuzz targets (`fuzz/`) and their replay in `cargo test` reach.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::api::{parse_token_response, Endpoint, Reply};
    pub use crate::cookies::CookieJar;
    pub use crate::jwks::{parse_jwks, JwksCache, KeySet};
    pub use crate::jwt::{read_header, Algorithm, ClaimRules, MAX_TOKEN_BYTES};
    pub use crate::signature::is_ours as crypto_provider_is_ours;
}
