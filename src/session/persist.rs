//! The session's one ordered path to storage. Every load, save and clear of the store runs
//! inside the *lane*, one at a time in the order they asked (tokio's mutex is fair), and
//! login, logout and restore hold the lane for their whole course. Whoever saves or clears
//! checks, inside the lane, that the session generation it acts for is still current, so:
//! a save begun before `logout()` either lands before logout's clear or not at all, and a
//! clear never removes a session that signed in after it was decided.

use crate::config::StorageFallback;
use crate::errors::Result;
use crate::log::Logger;
use crate::secret::Secret;
use crate::storage::{SessionRecord, SessionStore};
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

pub struct Persistence {
    store: Arc<dyn SessionStore>,
    fallback: StorageFallback,
    /// The API origin whose record this is; a store shared by origins may hold another's.
    origin: String,
    lane: Mutex<()>,
}

/// Proof of being in the lane: the store is only reached with one.
pub struct InLane<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

impl Persistence {
    pub fn new(
        store: Arc<dyn SessionStore>,
        fallback: StorageFallback,
        origin: String,
    ) -> Persistence {
        Persistence {
            store,
            fallback,
            origin,
            lane: Mutex::new(()),
        }
    }

    /// Waits for every earlier session change and storage effect to finish.
    pub async fn enter(&self) -> InLane<'_> {
        InLane(self.lane.lock().await)
    }

    pub fn is_persistent(&self) -> bool {
        self.store.is_persistent()
    }

    pub fn falls_back_to_memory(&self) -> bool {
        self.fallback == StorageFallback::Memory
    }

    pub async fn save(&self, _lane: &InLane<'_>, record: SessionRecord) -> Result<()> {
        self.store.save(record.encode()?).await
    }

    /// Clears this origin's record, and never another origin's: in a store shared by
    /// origins, a record of another one is left as it is.
    pub async fn clear(&self, _lane: &InLane<'_>) -> Result<()> {
        if self.store.is_shared_by_origins() {
            if let Ok(Some(stored)) = self.store.load().await {
                if SessionRecord::is_of_other_origin(&stored, &self.origin) {
                    return Ok(());
                }
            }
        }
        self.store.clear().await
    }

    /// Clears, and says so in the log when it cannot: for paths where the session is gone
    /// anyway and the next save or logout replaces the record.
    pub async fn clear_quietly(&self, lane: &InLane<'_>, logger: &Logger, why: &str) {
        if let Err(err) = self.clear(lane).await {
            logger.warn(why, &[("code", err.code.as_str())]);
        }
    }

    /// The stored record. A store that answers but cannot produce the record (it is
    /// corrupted) is cleared and counts as empty; an unavailable store is an error, unless
    /// the app opted into `storageFallback: "memory"`.
    pub async fn load(&self, lane: &InLane<'_>, logger: &Logger) -> Result<Option<Secret>> {
        let err = match self.store.load().await {
            Ok(stored) => return Ok(stored),
            Err(err) => err,
        };
        if self.store.probe().await.is_ok() {
            logger.warn(
                "discarding a stored session that cannot be read",
                &[("reason", &err.message)],
            );
            self.clear(lane).await?;
            return Ok(None);
        }
        if self.falls_back_to_memory() {
            logger.warn(
                "the credential store is unavailable; starting signed out (storageFallback: memory)",
                &[("code", err.code.as_str())],
            );
            return Ok(None);
        }
        Err(err)
    }

    /// Logout's clear: an unavailable store is an error, except under `storageFallback:
    /// "memory"`, where nothing of this session was stored there.
    pub async fn clear_for_logout(&self, lane: &InLane<'_>, logger: &Logger) -> Result<()> {
        match self.clear(lane).await {
            Err(err) if self.falls_back_to_memory() => {
                logger.warn(
                    "could not clear the credential store; nothing was stored there under storageFallback: memory",
                    &[("code", err.code.as_str())],
                );
                Ok(())
            }
            outcome => outcome,
        }
    }

    pub async fn probe(&self) -> Result<()> {
        self.store.probe().await
    }
}
