//! Where the session lives between runs. The session record is serialised to one JSON
//! string (a `Secret`) and handed to a `SessionStore`; stores never see its parts.

use crate::api::User;
use crate::config::{Config, StorageKind};
use crate::cookies::StoredCookie;
use crate::errors::{AuthError, Result};
use crate::keyring_store::KeyringStore;
use crate::secret::Secret;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

pub trait SessionStore: Send + Sync {
    fn load(&self) -> StoreFuture<'_, Option<Secret>>;
    fn save(&self, record: Secret) -> StoreFuture<'_, ()>;
    fn clear(&self) -> StoreFuture<'_, ()>;
    /// Whether what is saved survives a restart of the app.
    fn is_persistent(&self) -> bool;
    /// Checks that the store can be used now, without changing it.
    fn probe(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.load().await.map(|_| ()) })
    }
}

/// The store `storage` names: the OS credential store, process memory, or the host's own
/// backend (`custom`, given when `storage` is an object).
pub fn open_store(
    config: &Config,
    custom: Option<Arc<dyn SessionStore>>,
) -> Result<Arc<dyn SessionStore>> {
    match (config.storage, custom) {
        (StorageKind::Custom, Some(custom)) => Ok(custom),
        (StorageKind::Custom, None) => Err(AuthError::config(
            "storage must be \"keyring\", \"memory\" or an object with load, save and clear",
        )),
        (StorageKind::Memory, _) => Ok(MemoryStore::new(&config.keyring_service, &config.account)),
        (StorageKind::Keyring, _) => Ok(KeyringStore::new(
            &config.keyring_service,
            &config.account,
            config.storage_dir.clone(),
        )?),
    }
}

/// Bumped whenever the record's shape changes incompatibly; older records are discarded.
pub const RECORD_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub version: u32,
    pub account: String,
    pub token: Option<Secret>,
    pub cookies: Vec<StoredCookie>,
    pub user: Option<User>,
    /// The JWKS the token was verified with (public keys), so `restore()` can re-verify
    /// the token without the network.
    pub jwks: Option<String>,
}

impl SessionRecord {
    pub fn encode(&self) -> Result<Secret> {
        serde_json::to_string(self)
            .map(Secret::new)
            .map_err(|_| AuthError::internal("could not encode the session record"))
    }

    /// Decodes a stored record; the error says why it cannot be used (it is then discarded).
    pub fn decode(stored: &Secret, account: &str) -> std::result::Result<SessionRecord, String> {
        let value: serde_json::Value = serde_json::from_str(stored.expose()).map_err(|_| {
            "the stored session is not valid JSON (truncated or corrupted)".to_string()
        })?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(RECORD_VERSION as u64) {
            return Err(format!(
                "the stored session has record version {version:?}, this build reads {RECORD_VERSION}"
            ));
        }
        let record: SessionRecord = serde_json::from_value(value)
            .map_err(|_| "the stored session does not have the expected fields".to_string())?;
        if record.account != account {
            return Err("the stored session belongs to another account".to_string());
        }
        Ok(record)
    }
}

/// Process-wide memory, keyed by service and account, so a second `AuthClient` in the same
/// process can `restore()` what the first saved, as it would from the credential store.
static MEMORY: LazyLock<Mutex<HashMap<(String, String), Secret>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

pub struct MemoryStore {
    key: (String, String),
}

impl MemoryStore {
    pub fn new(service: &str, account: &str) -> Arc<MemoryStore> {
        Arc::new(MemoryStore {
            key: (service.to_string(), account.to_string()),
        })
    }
}

impl SessionStore for MemoryStore {
    fn load(&self) -> StoreFuture<'_, Option<Secret>> {
        Box::pin(async move { Ok(MEMORY.lock().get(&self.key).cloned()) })
    }

    fn save(&self, record: Secret) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            MEMORY.lock().insert(self.key.clone(), record);
            Ok(())
        })
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            MEMORY.lock().remove(&self.key);
            Ok(())
        })
    }

    fn is_persistent(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(account: &str) -> SessionRecord {
        SessionRecord {
            version: RECORD_VERSION,
            account: account.into(),
            token: Some(Secret::new("a.b.c")),
            cookies: vec![],
            user: None,
            jwks: None,
        }
    }

    #[test]
    fn records_round_trip_and_foreign_or_broken_ones_are_refused() {
        let encoded = record("me").encode().unwrap();
        let decoded = SessionRecord::decode(&encoded, "me").unwrap();
        assert_eq!(decoded.token.unwrap().expose(), "a.b.c");
        assert!(SessionRecord::decode(&encoded, "other")
            .unwrap_err()
            .contains("another account"));
        let truncated = Secret::new(&encoded.expose()[..10]);
        assert!(SessionRecord::decode(&truncated, "me").is_err());
        let old = Secret::new(encoded.expose().replace("\"version\":1", "\"version\":0"));
        assert!(SessionRecord::decode(&old, "me")
            .unwrap_err()
            .contains("version"));
        assert!(!format!("{:?}", decoded.cookies).contains("a.b.c"));
    }

    #[tokio::test]
    async fn memory_store_is_shared_per_service_and_account() {
        let first = MemoryStore::new("svc-test", "a");
        let second = MemoryStore::new("svc-test", "a");
        let other = MemoryStore::new("svc-test", "b");
        first.save(Secret::new("x")).await.unwrap();
        assert_eq!(second.load().await.unwrap().unwrap().expose(), "x");
        assert!(other.load().await.unwrap().is_none());
        second.clear().await.unwrap();
        assert!(first.load().await.unwrap().is_none());
    }
}
