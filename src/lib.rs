//! symbiote-auth: signs an Electron app in to a Flask API, keeps its JWT verified, fresh
//! and safely stored, and hands it as a bearer token to the app's MCP servers.
//!
//! The modules below are plain Rust (testable with `cargo test`); `binding` is the only
//! place that knows about JavaScript.

pub mod api;
pub mod config;
pub mod cookies;
pub mod errors;
pub mod jwks;
pub mod jwt;
pub mod keyring_store;
pub mod log;
pub mod mcp;
pub mod secret;
pub mod session;
pub mod storage;

#[cfg(feature = "bench")]
mod bench;
mod binding;
mod js_guard;
mod js_storage;
