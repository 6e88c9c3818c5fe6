//! The credential half of the keyring store: one secret (the session key) per service and
//! account. `KeyVault` is what the store needs of it; `OsVault` is the OS credential store
//! through keyring-rs. Tests use an in-memory vault, so the file half runs without a
//! Secret Service.

use super::FALLBACK_ADVICE;
use crate::errors::{AuthError, Result};
use zeroize::Zeroizing;

#[cfg(target_os = "macos")]
const UNAVAILABLE: &str =
    "the macOS Keychain is unavailable or locked: unlock the login keychain (Keychain Access) and allow this app to use it";
#[cfg(target_os = "windows")]
const UNAVAILABLE: &str =
    "Windows Credential Manager is unavailable: make sure the Credential Manager service (VaultSvc) is running";
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
const UNAVAILABLE: &str = "the OS credential store is unavailable (no Secret Service on the D-Bus session bus, or its keyring is locked): install and unlock gnome-keyring or KWallet";

/// Every call may block (D-Bus, Keychain): the store runs them on tokio's blocking pool.
pub trait KeyVault: Send + Sync {
    /// The secret; `None` when there is none, or it is not text (then it is not ours).
    fn get(&self) -> Result<Option<Zeroizing<String>>>;
    fn set(&self, secret: &str) -> Result<()>;
    /// Removes every credential of this name; succeeds when there is none.
    fn delete(&self) -> Result<()>;
    /// Succeeds when the store answers, with or without a credential of this name.
    fn probe(&self) -> Result<()>;
}

pub struct OsVault {
    entry: keyring::Entry,
}

impl OsVault {
    pub fn new(service: &str, account: &str) -> Result<OsVault> {
        let entry = keyring::Entry::new(service, account).map_err(|err| {
            AuthError::config(format!(
                "keyringService and account cannot name an OS credential: {err}"
            ))
        })?;
        Ok(OsVault { entry })
    }
}

impl KeyVault for OsVault {
    fn get(&self) -> Result<Option<Zeroizing<String>>> {
        match self.entry.get_password() {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(keyring::Error::NoEntry) | Err(keyring::Error::BadEncoding(_)) => Ok(None),
            Err(err) => Err(credential_store_error(err)),
        }
    }

    fn set(&self, secret: &str) -> Result<()> {
        self.entry
            .set_password(secret)
            .map_err(credential_store_error)
    }

    fn delete(&self) -> Result<()> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            // Several credentials match (a store without atomic replace raced two writers):
            // clearing removes them all.
            Err(keyring::Error::Ambiguous(duplicates)) => {
                for duplicate in duplicates {
                    match duplicate.delete_credential() {
                        Ok(()) | Err(keyring::Error::NoEntry) => {}
                        Err(err) => return Err(credential_store_error(err)),
                    }
                }
                Ok(())
            }
            Err(err) => Err(credential_store_error(err)),
        }
    }

    fn probe(&self) -> Result<()> {
        match self.entry.get_password() {
            Ok(secret) => {
                drop(Zeroizing::new(secret));
                Ok(())
            }
            // The store answered; what it holds is for `load` and `save` to judge.
            Err(keyring::Error::NoEntry)
            | Err(keyring::Error::BadEncoding(_))
            | Err(keyring::Error::Ambiguous(_)) => Ok(()),
            Err(err) => Err(credential_store_error(err)),
        }
    }
}

fn credential_store_error(err: keyring::Error) -> AuthError {
    match err {
        keyring::Error::PlatformFailure(cause) | keyring::Error::NoStorageAccess(cause) => {
            AuthError::storage(format!("{UNAVAILABLE}, {FALLBACK_ADVICE} (cause: {cause})"))
        }
        keyring::Error::Ambiguous(duplicates) => AuthError::storage(format!(
            "{} credentials in the OS credential store match this keyringService and account: sign out to remove them, then sign in again",
            duplicates.len()
        )),
        // The remaining variants name attributes, never a secret.
        other => AuthError::storage(format!("the OS credential store refused the session key: {other}")),
    }
}

#[cfg(test)]
pub mod memory {
    //! A vault in memory, shared by the stores of one test as the OS store is by processes.

    use super::*;
    use parking_lot::Mutex;
    use std::sync::Arc;

    #[derive(Default)]
    pub struct MemoryVault {
        secret: Mutex<Option<String>>,
    }

    impl KeyVault for Arc<MemoryVault> {
        fn get(&self) -> Result<Option<Zeroizing<String>>> {
            Ok(self.secret.lock().clone().map(Zeroizing::new))
        }

        fn set(&self, secret: &str) -> Result<()> {
            *self.secret.lock() = Some(secret.to_string());
            Ok(())
        }

        fn delete(&self) -> Result<()> {
            *self.secret.lock() = None;
            Ok(())
        }

        fn probe(&self) -> Result<()> {
            Ok(())
        }
    }
}
