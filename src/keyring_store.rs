//! The session record kept safe between runs with the OS credential store: Secret Service
//! on Linux and the BSDs, the Keychain on macOS, Credential Manager on Windows.
//!
//! The credential store holds only a random 256-bit key; the record itself is sealed with
//! ChaCha20-Poly1305 under that key in a private file. Windows Credential Manager refuses
//! secrets over 2560 bytes and a record with cookies and a JWKS is often larger, so this
//! split is what lets a record of any size round-trip on every platform. See
//! docs/STORAGE.md for the threat model and the file format.

use crate::errors::{AuthError, Result};
use crate::secret::Secret;
use crate::storage::{SessionStore, StoreFuture};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::aead::Payload;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use rand::rngs::OsRng;
use rand::TryRngCore;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The folder under the OS's per-user data directory that holds the session files.
const DATA_DIR_NAME: &str = "symbiote-auth";

/// The first bytes of every session file: "SYmbiote Auth Session".
const FILE_MAGIC: &[u8; 4] = b"SYAS";
/// Version 1: ChaCha20-Poly1305, 96-bit random nonce, 256-bit key from the credential store.
const FILE_FORMAT_VERSION: u8 = 1;
const HEADER_LEN: usize = FILE_MAGIC.len() + 1;
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// File names stay well under the 255-byte limit of common file systems.
const MAX_FILE_NAME_LEN: usize = 200;

/// How long one credential-store call may take. An unlock prompt waits for the user, so
/// this is generous; it exists so a D-Bus peer that never answers cannot hang a login.
const CREDENTIAL_STORE_TIMEOUT: Duration = Duration::from_secs(60);

const FALLBACK_ADVICE: &str =
    "or pass storageFallback: \"memory\" to keep the session in memory only";

#[cfg(target_os = "macos")]
const UNAVAILABLE: &str =
    "the macOS Keychain is unavailable or locked: unlock the login keychain (Keychain Access) and allow this app to use it";
#[cfg(target_os = "windows")]
const UNAVAILABLE: &str =
    "Windows Credential Manager is unavailable: make sure the Credential Manager service (VaultSvc) is running";
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
const UNAVAILABLE: &str = "the OS credential store is unavailable (no Secret Service on the D-Bus session bus, or its keyring is locked): install and unlock gnome-keyring or KWallet";

/// A `SessionStore` whose record is sealed in a file under a key kept in the OS credential
/// store (service = `keyringService`, user = `account`).
pub struct KeyringStore {
    vault: Arc<Vault>,
}

/// The two halves of a stored session and the blocking operations on them. Every method
/// here blocks (D-Bus, Keychain, file I/O, a file lock) and runs on tokio's blocking pool.
struct Vault {
    service: String,
    account: String,
    key_entry: keyring::Entry,
    dir: PathBuf,
    record_path: PathBuf,
    /// Held (flock / LockFileEx) while a process reads or replaces the key and the file,
    /// so two processes never pair a file with a key the other one just replaced.
    lock_path: PathBuf,
    /// Authenticated with the ciphertext: a file copied to another service or account, or
    /// relabelled with another format version, fails to open.
    associated_data: Vec<u8>,
}

type SessionKey = Zeroizing<[u8; KEY_LEN]>;

impl KeyringStore {
    /// Names the credential and the file; does no I/O. `dir` defaults to the OS's per-user
    /// data directory plus `symbiote-auth`.
    pub fn new(service: &str, account: &str, dir: Option<PathBuf>) -> Result<Arc<KeyringStore>> {
        if service.is_empty() {
            return Err(AuthError::config("keyringService must not be empty"));
        }
        if account.is_empty() {
            return Err(AuthError::config("account must not be empty"));
        }
        let file_stem = file_stem(service, account);
        if file_stem.len() + ".session.lock".len() > MAX_FILE_NAME_LEN {
            return Err(AuthError::config(
                "keyringService and account are too long to name the session file: shorten them",
            ));
        }
        let dir = match dir {
            Some(dir) => dir,
            None => default_dir()?,
        };
        let key_entry = keyring::Entry::new(service, account).map_err(|err| {
            AuthError::config(format!(
                "keyringService and account cannot name an OS credential: {err}"
            ))
        })?;
        let associated_data = associated_data(service, account);
        Ok(Arc::new(KeyringStore {
            vault: Arc::new(Vault {
                service: service.to_string(),
                account: account.to_string(),
                key_entry,
                record_path: dir.join(format!("{file_stem}.session")),
                lock_path: dir.join(format!("{file_stem}.session.lock")),
                dir,
                associated_data,
            }),
        }))
    }

    /// Succeeds when the session directory can be created and the credential store answers
    /// (with or without a key for this account), so the caller can choose `storageFallback`
    /// before the first save.
    pub async fn probe(&self) -> Result<()> {
        self.run_blocking(|vault| vault.probe()).await
    }

    /// Where the sealed record lives.
    pub fn record_path(&self) -> PathBuf {
        self.vault.record_path.clone()
    }

    /// Keyring clients block on an async runtime of their own (zbus does, on Linux), which
    /// panics on a thread that drives tokio tasks; a blocking-pool thread may block, and a
    /// panic there comes back as a `JoinError` instead of unwinding through the caller.
    async fn run_blocking<T, F>(&self, operation: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Vault) -> Result<T> + Send + 'static,
    {
        let vault = Arc::clone(&self.vault);
        let task = tokio::task::spawn_blocking(move || operation(&vault));
        match tokio::time::timeout(CREDENTIAL_STORE_TIMEOUT, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_panicked)) => Err(AuthError::storage(format!(
                "the OS credential store client failed unexpectedly; try again, {FALLBACK_ADVICE}"
            ))),
            Err(_elapsed) => Err(AuthError::storage(format!(
                "the OS credential store did not answer within {} s (an unlock prompt may be waiting): unlock it and try again, {FALLBACK_ADVICE}",
                CREDENTIAL_STORE_TIMEOUT.as_secs()
            ))),
        }
    }
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.vault.service)
            .field("account", &self.vault.account)
            .field("record_path", &self.vault.record_path)
            .finish_non_exhaustive()
    }
}

impl SessionStore for KeyringStore {
    fn load(&self) -> StoreFuture<'_, Option<Secret>> {
        Box::pin(self.run_blocking(|vault| vault.load()))
    }

    fn save(&self, record: Secret) -> StoreFuture<'_, ()> {
        Box::pin(self.run_blocking(move |vault| vault.save(&record)))
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.run_blocking(|vault| vault.clear()))
    }

    fn is_persistent(&self) -> bool {
        true
    }

    fn probe(&self) -> StoreFuture<'_, ()> {
        Box::pin(KeyringStore::probe(self))
    }
}

impl Vault {
    fn probe(&self) -> Result<()> {
        create_private_dir(&self.dir)?;
        match self.key_entry.get_password() {
            Ok(key) => {
                drop(Zeroizing::new(key));
                Ok(())
            }
            // The store answered; what it holds is for `load` and `save` to judge.
            Err(keyring::Error::NoEntry)
            | Err(keyring::Error::BadEncoding(_))
            | Err(keyring::Error::Ambiguous(_)) => Ok(()),
            Err(err) => Err(credential_store_error(err)),
        }
    }

    fn load(&self) -> Result<Option<Secret>> {
        if !self.dir.is_dir() {
            return Ok(None);
        }
        let _lock = self.lock()?;
        let sealed = match fs::read(&self.record_path) {
            Ok(sealed) => sealed,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(self.file_error("read", &err)),
        };
        match self.read_key()? {
            Some(key) => open(&key, &self.associated_data, &sealed).map(Some),
            // Without its key the file can never be opened again.
            None => {
                self.remove_record()?;
                Ok(None)
            }
        }
    }

    fn save(&self, record: &Secret) -> Result<()> {
        create_private_dir(&self.dir)?;
        let _lock = self.lock()?;
        // The key is stored before the file that needs it is written: a crash in between
        // leaves an unused key, never a file nobody can open.
        let key = match self.read_key()? {
            Some(key) => key,
            None => self.create_key()?,
        };
        let sealed = seal(&key, &self.associated_data, record.expose().as_bytes())?;
        self.write_record(&sealed)
    }

    fn clear(&self) -> Result<()> {
        let _lock = if self.dir.is_dir() {
            Some(self.lock()?)
        } else {
            None
        };
        // The file goes first: if the credential store then fails, what is left (a key)
        // opens nothing.
        self.remove_record()?;
        self.delete_key()
    }

    /// The key in the credential store; `None` when there is none or it is not one of ours
    /// (then the file it would open is garbage, and the next save replaces it).
    fn read_key(&self) -> Result<Option<SessionKey>> {
        let encoded = match self.key_entry.get_password() {
            Ok(encoded) => Zeroizing::new(encoded),
            Err(keyring::Error::NoEntry) | Err(keyring::Error::BadEncoding(_)) => return Ok(None),
            Err(err) => return Err(credential_store_error(err)),
        };
        let decoded = Zeroizing::new(BASE64.decode(encoded.as_bytes()).unwrap_or_default());
        if decoded.len() != KEY_LEN {
            return Ok(None);
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&decoded);
        Ok(Some(key))
    }

    fn create_key(&self) -> Result<SessionKey> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(key.as_mut_slice())?;
        let encoded = Zeroizing::new(BASE64.encode(key.as_slice()));
        self.key_entry
            .set_password(&encoded)
            .map_err(credential_store_error)?;
        // A writer outside our lock (a store on another directory shares this credential)
        // may have stored its own key meanwhile: use whatever the store holds now, so all
        // writers converge on one key.
        self.read_key()?.ok_or_else(|| {
            AuthError::storage(format!(
                "the OS credential store did not keep the session key it was given: check that it is unlocked and writable, {FALLBACK_ADVICE}"
            ))
        })
    }

    fn delete_key(&self) -> Result<()> {
        match self.key_entry.delete_credential() {
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

    fn lock(&self) -> Result<File> {
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let lock = options
            .open(&self.lock_path)
            .map_err(|err| self.file_error("open the lock file of", &err))?;
        lock.lock().map_err(|err| self.file_error("lock", &err))?;
        Ok(lock)
    }

    /// Readers see the old file or the new one, never a torn one: the new record is
    /// written and synced under a temporary name in the same directory, then renamed over.
    fn write_record(&self, sealed: &[u8]) -> Result<()> {
        let mut suffix = [0u8; 8];
        fill_random(&mut suffix)?;
        let suffix: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
        let mut temp_name = self.record_path.clone().into_os_string();
        temp_name.push(format!(".{suffix}.tmp"));
        let temp_path = PathBuf::from(temp_name);

        let written = write_synced_private_file(&temp_path, sealed)
            .and_then(|()| fs::rename(&temp_path, &self.record_path));
        if let Err(err) = written {
            // Best effort: the error that matters is the one reported below.
            let _ = fs::remove_file(&temp_path);
            return Err(self.file_error("write", &err));
        }
        sync_dir(&self.dir);
        Ok(())
    }

    fn remove_record(&self) -> Result<()> {
        match fs::remove_file(&self.record_path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            Err(err) => Err(self.file_error("remove", &err)),
        }
    }

    fn file_error(&self, action: &str, err: &std::io::Error) -> AuthError {
        AuthError::storage(format!(
            "could not {action} the session file {}: {err}",
            self.record_path.display()
        ))
    }
}

fn default_dir() -> Result<PathBuf> {
    dirs::data_dir()
        .map(|data_dir| data_dir.join(DATA_DIR_NAME))
        .ok_or_else(|| {
            AuthError::storage(format!(
                "found no per-user data directory for the session file (HOME / APPDATA unset): set it, {FALLBACK_ADVICE}"
            ))
        })
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

/// `header | service length (u32, big-endian) | service | account`: binds a file to its
/// format version and to the one service and account it was written for.
fn associated_data(service: &str, account: &str) -> Vec<u8> {
    let mut associated_data = header().to_vec();
    let service_len = u32::try_from(service.len()).unwrap_or(u32::MAX);
    associated_data.extend_from_slice(&service_len.to_be_bytes());
    associated_data.extend_from_slice(service.as_bytes());
    associated_data.extend_from_slice(account.as_bytes());
    associated_data
}

fn header() -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..FILE_MAGIC.len()].copy_from_slice(FILE_MAGIC);
    header[FILE_MAGIC.len()] = FILE_FORMAT_VERSION;
    header
}

/// `header | nonce | ciphertext and tag`, with a fresh random nonce for every write.
fn seal(key: &SessionKey, associated_data: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let cipher = cipher(key)?;
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let ciphertext = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: associated_data,
            },
        )
        .map_err(|_| AuthError::internal("could not encrypt the session record"))?;
    let mut sealed = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&header());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

fn open(key: &SessionKey, associated_data: &[u8], sealed: &[u8]) -> Result<Secret> {
    if sealed.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || !sealed.starts_with(FILE_MAGIC) {
        return Err(corrupted(
            "the session file is truncated or not a session file",
        ));
    }
    let version = sealed[FILE_MAGIC.len()];
    if version != FILE_FORMAT_VERSION {
        return Err(corrupted(&format!(
            "the session file has format version {version}, this build reads {FILE_FORMAT_VERSION}"
        )));
    }
    let (nonce, ciphertext) = sealed[HEADER_LEN..].split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| corrupted("the session file is truncated"))?;
    let plaintext = Zeroizing::new(
        cipher(key)?
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated_data,
                },
            )
            .map_err(|_| {
                corrupted("the session file fails its integrity check: it was modified, truncated or belongs to another account")
            })?,
    );
    let record = std::str::from_utf8(&plaintext)
        .map_err(|_| corrupted("the decrypted session is not text"))?;
    Ok(Secret::new(record))
}

fn cipher(key: &SessionKey) -> Result<ChaCha20Poly1305> {
    ChaCha20Poly1305::new_from_slice(key.as_slice())
        .map_err(|_| AuthError::internal("the session key has the wrong length"))
}

fn corrupted(why: &str) -> AuthError {
    AuthError::storage(format!(
        "the stored session is corrupted ({why}): clear it and sign in again"
    ))
}

fn fill_random(buffer: &mut [u8]) -> Result<()> {
    OsRng
        .try_fill_bytes(buffer)
        .map_err(|_| AuthError::storage("the OS random number generator failed"))
}

/// `<service>-<account>`, escaped for every file system: lower-case ASCII letters, digits,
/// `.` and `_` are kept (and `-` in the service); every other byte becomes `%XX`. The mapping
/// is one-to-one even on case-insensitive file systems: the account never contains a bare
/// `-`, so the last one separates the two.
fn file_stem(service: &str, account: &str) -> String {
    format!("{}-{}", escape(service, true), escape(account, false))
}

fn escape(name: &str, keep_dash: bool) -> String {
    let mut escaped = String::with_capacity(name.len());
    for byte in name.bytes() {
        let kept = byte.is_ascii_lowercase()
            || byte.is_ascii_digit()
            || matches!(byte, b'.' | b'_')
            || (keep_dash && byte == b'-');
        if kept {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    escaped
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|err| {
        AuthError::storage(format!(
            "could not create the session directory {}: {err}",
            dir.display()
        ))
    })
}

fn write_synced_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Makes the rename itself durable. Best effort: not every platform or file system can
/// sync a directory, and the record is already complete on disk under one name or the other.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorCode;

    const TEST_SERVICE: &str = "symbiote-auth-test";
    /// Set it where a Secret Service must be reachable (CI): then a missing one fails the
    /// keyring tests instead of skipping them.
    const REQUIRE_KEYRING_ENV: &str = "SYMBIOTE_AUTH_REQUIRE_KEYRING";
    #[cfg(all(unix, not(target_os = "macos")))]
    const UNAVAILABLE_CHILD_ENV: &str = "SYMBIOTE_AUTH_TEST_UNAVAILABLE_CHILD";

    struct Fixture {
        store: Arc<KeyringStore>,
        account: String,
        // Removed on drop, with every file the store made.
        dir: tempfile::TempDir,
    }

    fn unique_account(label: &str) -> String {
        let mut suffix = [0u8; 6];
        fill_random(&mut suffix).unwrap();
        let suffix: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("{label}-{suffix}")
    }

    /// A store on a fresh account and directory, or `None` after a loud line on stderr when
    /// no Secret Service answers, so `cargo test` passes on a machine without one.
    async fn fixture(label: &str) -> Option<Fixture> {
        let dir = tempfile::tempdir().unwrap();
        let account = unique_account(label);
        let store =
            KeyringStore::new(TEST_SERVICE, &account, Some(dir.path().join("sessions"))).unwrap();
        match store.probe().await {
            Ok(()) => Some(Fixture {
                store,
                account,
                dir,
            }),
            Err(err) if std::env::var_os(REQUIRE_KEYRING_ENV).is_some() => {
                panic!(
                    "{REQUIRE_KEYRING_ENV} is set but the credential store is unavailable: {err}"
                )
            }
            Err(_) => {
                // Written past the test harness's capture so it shows in every run.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {label}: no Secret Service (run under dbus-run-session with gnome-keyring)"
                );
                None
            }
        }
    }

    /// What the credential store itself holds for `account`, read past `KeyringStore`.
    async fn stored_credential(account: &str) -> keyring::Result<String> {
        let account = account.to_string();
        tokio::task::spawn_blocking(move || {
            keyring::Entry::new(TEST_SERVICE, &account)?.get_password()
        })
        .await
        .unwrap()
    }

    async fn delete_credential(account: &str) {
        let account = account.to_string();
        tokio::task::spawn_blocking(move || {
            keyring::Entry::new(TEST_SERVICE, &account)?.delete_credential()
        })
        .await
        .unwrap()
        .unwrap();
    }

    /// A JSON record of exactly `size` bytes whose every part is recognisable.
    fn record_of_size(marker: &str, size: usize) -> Secret {
        let head = format!("{{\"marker\":\"{marker}\",\"token\":\"");
        let tail = "\"}";
        let filler = "eyJhbGciOiJSUzI1NiJ9"
            .chars()
            .cycle()
            .take(size - head.len() - tail.len());
        Secret::new(
            head.chars()
                .chain(filler)
                .chain(tail.chars())
                .collect::<String>(),
        )
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    }

    #[tokio::test]
    async fn records_of_8_and_64_kib_round_trip() {
        let Some(fixture) = fixture("round-trip").await else {
            return;
        };
        for size in [8 * 1024, 64 * 1024] {
            let record = record_of_size("ROUND-TRIP-MARKER", size);
            fixture.store.save(record.clone()).await.unwrap();
            let loaded = fixture.store.load().await.unwrap().unwrap();
            assert_eq!(loaded.expose().len(), size);
            assert!(loaded == record);
        }
        // The credential holds a base64 256-bit key, far below Windows' 2560-byte limit.
        let key = stored_credential(&fixture.account).await.unwrap();
        assert_eq!(BASE64.decode(&key).unwrap().len(), KEY_LEN);
        fixture.store.clear().await.unwrap();
    }

    #[tokio::test]
    async fn the_file_is_private_and_holds_no_plaintext() {
        let Some(fixture) = fixture("private-file").await else {
            return;
        };
        let record = record_of_size("PLAINTEXT-MARKER", 8 * 1024);
        fixture.store.save(record).await.unwrap();

        let sealed = fs::read(fixture.store.record_path()).unwrap();
        assert!(sealed.starts_with(FILE_MAGIC));
        for plaintext in ["PLAINTEXT-MARKER", "eyJhbGciOi", "{\"marker\"", "token"] {
            assert!(
                !contains(&sealed, plaintext.as_bytes()),
                "{plaintext} is in the file"
            );
        }
        let key = stored_credential(&fixture.account).await.unwrap();
        assert!(!contains(&sealed, key.as_bytes()));
        let debug = format!("{:?}", fixture.store);
        assert!(!debug.contains("PLAINTEXT-MARKER") && !debug.contains(&key));

        // Nothing but the record and its lock file: no temporary file is left behind.
        let sessions = fixture.dir.path().join("sessions");
        let mut names: Vec<String> = fs::read_dir(&sessions)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let stem = file_stem(TEST_SERVICE, &fixture.account);
        assert_eq!(
            names,
            [format!("{stem}.session"), format!("{stem}.session.lock")]
        );

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&fixture.store.record_path()), 0o600);
            assert_eq!(mode(&fixture.store.vault.lock_path), 0o600);
            assert_eq!(mode(&sessions), 0o700);
        }
        fixture.store.clear().await.unwrap();
    }

    #[tokio::test]
    async fn clear_removes_credential_and_file_and_succeeds_when_both_are_gone() {
        let Some(fixture) = fixture("clear").await else {
            return;
        };
        fixture.store.save(Secret::new("{\"v\":1}")).await.unwrap();
        assert!(stored_credential(&fixture.account).await.is_ok());
        assert!(fixture.store.record_path().exists());

        fixture.store.clear().await.unwrap();
        assert!(matches!(
            stored_credential(&fixture.account).await,
            Err(keyring::Error::NoEntry)
        ));
        assert!(!fixture.store.record_path().exists());
        fixture.store.clear().await.unwrap();
        assert!(fixture.store.load().await.unwrap().is_none());

        let never_used = KeyringStore::new(
            TEST_SERVICE,
            &unique_account("never-used"),
            Some(fixture.dir.path().join("missing")),
        )
        .unwrap();
        never_used.clear().await.unwrap();
        assert!(never_used.load().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_second_instance_loads_what_the_first_saved() {
        let Some(fixture) = fixture("second-instance").await else {
            return;
        };
        fixture
            .store
            .save(Secret::new("{\"v\":\"first\"}"))
            .await
            .unwrap();
        let second = KeyringStore::new(
            TEST_SERVICE,
            &fixture.account,
            Some(fixture.dir.path().join("sessions")),
        )
        .unwrap();
        assert_eq!(
            second.load().await.unwrap().unwrap().expose(),
            "{\"v\":\"first\"}"
        );
        second
            .save(Secret::new("{\"v\":\"second\"}"))
            .await
            .unwrap();
        assert_eq!(
            fixture.store.load().await.unwrap().unwrap().expose(),
            "{\"v\":\"second\"}"
        );
        fixture.store.clear().await.unwrap();
    }

    #[tokio::test]
    async fn a_tampered_or_truncated_file_is_reported_as_corrupted() {
        let Some(fixture) = fixture("tampered").await else {
            return;
        };
        let record = record_of_size("TAMPER-MARKER", 8 * 1024);
        fixture.store.save(record).await.unwrap();
        let path = fixture.store.record_path();
        let original = fs::read(&path).unwrap();

        let mut flipped = original.clone();
        flipped[original.len() / 2] ^= 0x01;
        let truncated = original[..original.len() - 100].to_vec();
        for damaged in [flipped, truncated, b"SYAS".to_vec()] {
            fs::write(&path, &damaged).unwrap();
            let err = fixture.store.load().await.unwrap_err();
            assert_eq!(err.code, ErrorCode::Storage);
            assert!(err.message.contains("stored session is corrupted"), "{err}");
            assert!(!err.message.contains("TAMPER-MARKER"));
        }
        // What the caller does next: clear, after which the store is empty and usable.
        fixture.store.clear().await.unwrap();
        assert!(fixture.store.load().await.unwrap().is_none());
        fixture.store.save(Secret::new("{}")).await.unwrap();
        assert_eq!(fixture.store.load().await.unwrap().unwrap().expose(), "{}");
        fixture.store.clear().await.unwrap();
    }

    #[tokio::test]
    async fn a_deleted_credential_leaves_nothing_to_load() {
        let Some(fixture) = fixture("deleted-key").await else {
            return;
        };
        fixture.store.save(Secret::new("{\"v\":1}")).await.unwrap();
        delete_credential(&fixture.account).await;

        assert!(fixture.store.load().await.unwrap().is_none());
        assert!(
            !fixture.store.record_path().exists(),
            "the garbage file is removed"
        );
        fixture.store.save(Secret::new("{\"v\":2}")).await.unwrap();
        assert_eq!(
            fixture.store.load().await.unwrap().unwrap().expose(),
            "{\"v\":2}"
        );
        fixture.store.clear().await.unwrap();
    }

    #[test]
    fn concurrent_saves_leave_one_complete_record() {
        const SAVES_PER_WRITER: usize = 50;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let Some(fixture) = runtime.block_on(fixture("concurrent")) else {
            return;
        };
        let record = |writer: usize, save: usize| {
            record_of_size(&format!("writer-{writer}-save-{save}"), 8 * 1024)
        };
        let sessions = fixture.dir.path().join("sessions");
        // Separate instances, as two processes would have: each takes its own file lock.
        let store = || KeyringStore::new(TEST_SERVICE, &fixture.account, Some(sessions.clone()));

        let writers: Vec<_> = (0..2)
            .map(|writer| {
                let store = store().unwrap();
                let runtime = runtime.handle().clone();
                std::thread::spawn(move || {
                    for save in 0..SAVES_PER_WRITER {
                        runtime.block_on(store.save(record(writer, save))).unwrap();
                    }
                })
            })
            .collect();
        let reader = {
            let store = store().unwrap();
            let runtime = runtime.handle().clone();
            std::thread::spawn(move || {
                let mut loads = Vec::new();
                for _ in 0..SAVES_PER_WRITER {
                    loads.push(runtime.block_on(store.load()).unwrap());
                }
                loads
            })
        };
        for writer in writers {
            writer.join().unwrap();
        }
        let is_complete = |loaded: &Secret| {
            (0..2).any(|writer| (0..SAVES_PER_WRITER).any(|save| *loaded == record(writer, save)))
        };
        for loaded in reader.join().unwrap().iter().flatten() {
            assert!(is_complete(loaded), "a reader saw a torn record");
        }
        let last = runtime.block_on(fixture.store.load()).unwrap().unwrap();
        let last_of_either = (0..2).any(|writer| last == record(writer, SAVES_PER_WRITER - 1));
        assert!(
            last_of_either,
            "the final record is the last save of one writer"
        );
        runtime.block_on(fixture.store.clear()).unwrap();
    }

    /// Runs the test below in a child process whose session bus points nowhere: the
    /// address is process-wide and the other tests need the real one.
    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn an_unavailable_secret_service_is_e_storage_with_advice() {
        let module = module_path!()
            .split_once("::")
            .map_or(module_path!(), |(_crate, module)| module);
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &format!("{module}::unavailable_store_in_a_child_process"),
                "--ignored",
                "--nocapture",
            ])
            .env(UNAVAILABLE_CHILD_ENV, "1")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("1 passed"),
            "the child ran no test:\n{stdout}"
        );
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[tokio::test]
    #[ignore = "run by an_unavailable_secret_service_is_e_storage_with_advice in a child process"]
    async fn unavailable_store_in_a_child_process() {
        if std::env::var_os(UNAVAILABLE_CHILD_ENV).is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store =
            KeyringStore::new(TEST_SERVICE, "unavailable", Some(dir.path().into())).unwrap();
        let probed = store.probe().await.unwrap_err();
        let saved = store.save(Secret::new("{\"v\":1}")).await.unwrap_err();
        for err in [probed, saved] {
            assert_eq!(err.code, ErrorCode::Storage);
            assert!(
                err.message
                    .contains("install and unlock gnome-keyring or KWallet"),
                "{err}"
            );
            assert!(err.message.contains("storageFallback: \"memory\""), "{err}");
        }
        assert!(!store.record_path().exists());
    }

    #[test]
    fn sealed_records_open_only_with_their_key_and_associated_data() {
        let key = Zeroizing::new([7u8; KEY_LEN]);
        let mine = associated_data("svc", "me");
        let record = b"{\"secret\":1}";
        let sealed = seal(&key, &mine, record).unwrap();
        assert_eq!(
            sealed.len(),
            HEADER_LEN + NONCE_LEN + record.len() + TAG_LEN
        );
        assert!(!contains(&sealed, b"secret"));
        assert_eq!(
            open(&key, &mine, &sealed).unwrap().expose(),
            "{\"secret\":1}"
        );
        // A fresh nonce for every write.
        assert_ne!(sealed, seal(&key, &mine, record).unwrap());

        let other_key = Zeroizing::new([8u8; KEY_LEN]);
        let other_account = associated_data("svc", "you");
        let other_service = associated_data("sv", "cme");
        let mut newer = sealed.clone();
        newer[FILE_MAGIC.len()] = 2;
        for (key, associated_data, sealed) in [
            (&other_key, &mine, &sealed[..]),
            (&key, &other_account, &sealed[..]),
            (&key, &other_service, &sealed[..]),
            (&key, &mine, &sealed[..20]),
            (&key, &mine, &newer[..]),
        ] {
            let err = open(key, associated_data, sealed).unwrap_err();
            assert_eq!(err.code, ErrorCode::Storage);
            assert!(err.message.contains("stored session is corrupted"), "{err}");
        }
        let err = open(&key, &mine, &newer).unwrap_err();
        assert!(err.message.contains("format version 2"), "{err}");
    }

    #[test]
    fn file_names_are_escaped_one_to_one() {
        assert_eq!(file_stem("symbiote", "default"), "symbiote-default");
        assert_eq!(file_stem("my-app", "Work"), "my-app-%57ork");
        assert_eq!(file_stem("a-b", "c"), "a-b-c");
        assert_eq!(file_stem("a", "b-c"), "a-b%2Dc");
        assert_eq!(file_stem("svc", "me@example.com"), "svc-me%40example.com");
        assert_eq!(file_stem("../x\\y", "é"), "..%2Fx%5Cy-%C3%A9");

        let store = KeyringStore::new("symbiote", "default", Some("/data".into())).unwrap();
        assert_eq!(
            store.record_path(),
            Path::new("/data").join("symbiote-default.session")
        );
    }

    #[test]
    fn the_default_directory_is_the_per_user_data_directory() {
        let store = KeyringStore::new("symbiote", "default", None).unwrap();
        let expected = dirs::data_dir().unwrap().join("symbiote-auth");
        assert_eq!(
            store.record_path(),
            expected.join("symbiote-default.session")
        );
        assert!(store.is_persistent());
    }

    #[test]
    fn names_that_cannot_work_are_config_errors() {
        for (service, account) in [
            ("", "default"),
            ("symbiote", ""),
            ("symbiote", &"x".repeat(300)),
        ] {
            let err = KeyringStore::new(service, account, None).unwrap_err();
            assert_eq!(err.code, ErrorCode::Config, "{err}");
        }
    }
}
