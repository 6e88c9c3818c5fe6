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
    /// Whether the store has one record for every API origin (the host's own backend):
    /// then a record of another origin may be in it, and only its own one is ever cleared.
    /// The built-in stores keep one record per origin.
    fn is_shared_by_origins(&self) -> bool {
        false
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
        (StorageKind::Memory, _) => Ok(MemoryStore::new(
            &config.keyring_service,
            &config.account,
            &config.origin(),
        )),
        (StorageKind::Keyring, _) => Ok(KeyringStore::new(
            &config.keyring_service,
            &config.account,
            &config.origin(),
            config.storage_dir.clone(),
        )?),
    }
}

/// Bumped whenever the record's shape changes incompatibly; older records are discarded.
/// Version 2 added the API origin.
pub const RECORD_VERSION: u32 = 2;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub version: u32,
    pub account: String,
    /// The origin of the API the session was made for (`scheme://host[:port]`). Nothing of
    /// the record is ever used for, or sent to, another one.
    pub origin: String,
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

    /// Decodes a stored record for `account` at API `origin`: `None` when it belongs to
    /// another origin (it is then left as it is); the error says why it cannot be used (it
    /// is then discarded).
    pub fn decode(
        stored: &Secret,
        account: &str,
        origin: &str,
    ) -> std::result::Result<Option<SessionRecord>, String> {
        let value: serde_json::Value = serde_json::from_str(stored.expose()).map_err(|_| {
            "the stored session is not valid JSON (truncated or corrupted)".to_string()
        })?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version == Some(1) {
            return Err(
                "the stored session was saved by an older version, without the API origin it belongs to, so it is not trusted: sign in again"
                    .to_string(),
            );
        }
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
        Ok((record.origin == origin).then_some(record))
    }

    /// Whether `stored` is a record of another API origin than `origin`; anything that is
    /// not a readable record is not.
    pub fn is_of_other_origin(stored: &Secret, origin: &str) -> bool {
        #[derive(Deserialize)]
        struct Origin {
            origin: String,
        }
        serde_json::from_str::<Origin>(stored.expose()).is_ok_and(|record| record.origin != origin)
    }
}

/// Which record of the process-wide memory: service, account and API origin.
type MemoryKey = (String, String, String);

/// Process-wide memory, keyed by service, account and API origin, so a second `AuthClient`
/// in the same process can `restore()` what the first saved, as it would from the
/// credential store, and a client of another API never sees it.
static MEMORY: LazyLock<Mutex<HashMap<MemoryKey, Secret>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

pub struct MemoryStore {
    key: MemoryKey,
}

impl MemoryStore {
    pub fn new(service: &str, account: &str, origin: &str) -> Arc<MemoryStore> {
        Arc::new(MemoryStore {
            key: (service.to_string(), account.to_string(), origin.to_string()),
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

    const ORIGIN: &str = "https://api.example.com";

    fn record(account: &str) -> SessionRecord {
        SessionRecord {
            version: RECORD_VERSION,
            account: account.into(),
            origin: ORIGIN.into(),
            token: Some(Secret::new("a.b.c")),
            cookies: vec![],
            user: None,
            jwks: None,
        }
    }

    #[test]
    fn records_round_trip_and_foreign_or_broken_ones_are_refused() {
        let encoded = record("me").encode().unwrap();
        let decoded = SessionRecord::decode(&encoded, "me", ORIGIN)
            .unwrap()
            .unwrap();
        assert_eq!(decoded.token.unwrap().expose(), "a.b.c");
        assert!(SessionRecord::decode(&encoded, "other", ORIGIN)
            .unwrap_err()
            .contains("another account"));
        let truncated = Secret::new(&encoded.expose()[..10]);
        assert!(SessionRecord::decode(&truncated, "me", ORIGIN).is_err());
        let old = Secret::new(encoded.expose().replace("\"version\":2", "\"version\":0"));
        assert!(SessionRecord::decode(&old, "me", ORIGIN)
            .unwrap_err()
            .contains("version"));
        assert!(!format!("{:?}", decoded.cookies).contains("a.b.c"));
    }

    #[test]
    fn a_record_of_another_origin_is_not_restored_and_one_without_an_origin_is_not_trusted() {
        let encoded = record("me").encode().unwrap();
        let staging = "https://staging.example.com";
        assert!(SessionRecord::decode(&encoded, "me", staging)
            .unwrap()
            .is_none());
        assert!(SessionRecord::is_of_other_origin(&encoded, staging));
        assert!(!SessionRecord::is_of_other_origin(&encoded, ORIGIN));
        let before_origins = Secret::new(
            encoded
                .expose()
                .replace("\"version\":2", "\"version\":1")
                .replace(&format!("\"origin\":\"{ORIGIN}\","), ""),
        );
        assert!(!before_origins.expose().contains("origin"));
        assert!(SessionRecord::decode(&before_origins, "me", ORIGIN)
            .unwrap_err()
            .contains("without the API origin"));
        assert!(!SessionRecord::is_of_other_origin(&before_origins, ORIGIN));
    }

    #[tokio::test]
    async fn memory_store_is_shared_per_service_account_and_origin() {
        let first = MemoryStore::new("svc-test", "a", ORIGIN);
        let second = MemoryStore::new("svc-test", "a", ORIGIN);
        let other_account = MemoryStore::new("svc-test", "b", ORIGIN);
        let other_origin = MemoryStore::new("svc-test", "a", "https://staging.example.com");
        first.save(Secret::new("x")).await.unwrap();
        other_origin.save(Secret::new("y")).await.unwrap();
        assert_eq!(second.load().await.unwrap().unwrap().expose(), "x");
        assert!(other_account.load().await.unwrap().is_none());
        second.clear().await.unwrap();
        assert!(first.load().await.unwrap().is_none());
        assert_eq!(other_origin.load().await.unwrap().unwrap().expose(), "y");
    }
}
