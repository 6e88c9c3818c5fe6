//! The session record kept safe between runs with the OS credential store: Secret Service
//! on Linux and the BSDs, the Keychain on macOS, Credential Manager on Windows.
//!
//! The credential store holds only a random 256-bit key; the record itself is sealed with
//! ChaCha20-Poly1305 under that key in a private file. Windows Credential Manager refuses
//! secrets over 2560 bytes and a record with cookies and a JWKS is often larger, so this
//! split is what lets a record of any size round-trip on every platform. See
//! docs/STORAGE.md for the threat model and the file format.

mod os_vault;

use crate::errors::{AuthError, Result};
use crate::secret::Secret;
use crate::storage::{SessionStore, StoreFuture};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::aead::Payload;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use os_vault::{KeyVault, OsVault};
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
/// Version 2: ChaCha20-Poly1305, 96-bit random nonce, 256-bit key from the credential store,
/// the API origin in the associated data (version 1 had none, and is never opened).
const FILE_FORMAT_VERSION: u8 = 2;
const HEADER_LEN: usize = FILE_MAGIC.len() + 1;
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// File names stay well under the 255-byte limit of common file systems.
const MAX_FILE_NAME_LEN: usize = 200;
/// Bytes of SHA-256 of the API origin that name its record: enough to never collide, and a
/// file name of the same length whatever the origin.
const ORIGIN_TAG_BYTES: usize = 16;
/// What follows the stem in the longest name used: `@<tag>.session.<random>.tmp`.
const LONGEST_NAME_SUFFIX: usize = 1 + 2 * ORIGIN_TAG_BYTES + ".session.".len() + 16 + ".tmp".len();

/// How long one credential-store call may take. An unlock prompt waits for the user, so
/// this is generous; it exists so a D-Bus peer that never answers cannot hang a login.
const CREDENTIAL_STORE_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) const FALLBACK_ADVICE: &str =
    "or pass storageFallback: \"memory\" to keep the session in memory only";

/// A `SessionStore` whose record is sealed in a file under a key kept in the OS credential
/// store (service = `keyringService`, user = `account`). Each API origin has a file of its
/// own; the key is shared by them.
pub struct KeyringStore {
    vault: Arc<Vault>,
}

/// The two halves of a stored session and the blocking operations on them. Every method
/// here blocks (D-Bus, Keychain, file I/O, a file lock) and runs on tokio's blocking pool.
struct Vault {
    service: String,
    account: String,
    key_vault: Box<dyn KeyVault>,
    dir: PathBuf,
    /// `<service>-<account>`: every file of this account starts with it.
    file_stem: String,
    /// `<stem>@<origin tag>.session`.
    record_path: PathBuf,
    /// `<stem>.session`: where versions before the origin binding kept the record.
    unbound_record_path: PathBuf,
    /// Held (flock / LockFileEx) while a process reads or replaces the key and the file,
    /// so two processes never pair a file with a key the other one just replaced.
    lock_path: PathBuf,
    /// Authenticated with the ciphertext: a file copied to another service, account or API
    /// origin, or relabelled with another format version, fails to open.
    associated_data: Vec<u8>,
}

type SessionKey = Zeroizing<[u8; KEY_LEN]>;

impl KeyringStore {
    /// Names the credential and the file; does no I/O. `dir` defaults to the OS's per-user
    /// data directory plus `symbiote-auth`.
    pub fn new(
        service: &str,
        account: &str,
        origin: &str,
        dir: Option<PathBuf>,
    ) -> Result<Arc<KeyringStore>> {
        Self::with_vault(service, account, origin, dir, |service, account| {
            Ok(Box::new(OsVault::new(service, account)?))
        })
    }

    /// As `new`, with the credential half from `open_vault(service, account)`.
    fn with_vault(
        service: &str,
        account: &str,
        origin: &str,
        dir: Option<PathBuf>,
        open_vault: impl FnOnce(&str, &str) -> Result<Box<dyn KeyVault>>,
    ) -> Result<Arc<KeyringStore>> {
        if service.is_empty() {
            return Err(AuthError::config("keyringService must not be empty"));
        }
        if account.is_empty() {
            return Err(AuthError::config("account must not be empty"));
        }
        let file_stem = file_stem(service, account);
        if file_stem.len() + LONGEST_NAME_SUFFIX > MAX_FILE_NAME_LEN {
            return Err(AuthError::config(
                "keyringService and account are too long to name the session file: shorten them",
            ));
        }
        let dir = match dir {
            Some(dir) => dir,
            None => default_dir()?,
        };
        let key_vault = open_vault(service, account)?;
        let associated_data = associated_data(service, account, origin);
        Ok(Arc::new(KeyringStore {
            vault: Arc::new(Vault {
                service: service.to_string(),
                account: account.to_string(),
                key_vault,
                record_path: dir.join(format!("{file_stem}@{}.session", origin_tag(origin))),
                unbound_record_path: dir.join(format!("{file_stem}.session")),
                lock_path: dir.join(format!("{file_stem}.session.lock")),
                file_stem,
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
    #[cfg(test)]
    pub fn record_path(&self) -> PathBuf {
        self.vault.record_path.clone()
    }

    /// Keyring calls block (on D-Bus, the Keychain, Credential Manager, an unlock prompt),
    /// which must not happen on a thread that drives tokio tasks; a blocking-pool thread may
    /// block, and a panic there comes back as a `JoinError` instead of unwinding through the
    /// caller.
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
        self.key_vault.probe()
    }

    fn load(&self) -> Result<Option<Secret>> {
        if !self.dir.is_dir() {
            return Ok(None);
        }
        let _lock = self.lock()?;
        let sealed = match fs::read(&self.record_path) {
            Ok(sealed) => sealed,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                if self.unbound_record_path.exists() {
                    // Said as an error so that it is logged once and cleared (which removes it).
                    return Err(AuthError::storage(
                        "a session stored by an older version, without the API origin it belongs to, is not trusted: sign in again",
                    ));
                }
                return Ok(None);
            }
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
        remove_if_present(&self.unbound_record_path)
            .map_err(|err| self.file_error("remove", &err))?;
        // The key is shared by this account's records of every API origin: it goes with
        // the last of them.
        if self.other_origins_have_records() {
            return Ok(());
        }
        self.delete_key()
    }

    fn other_origins_have_records(&self) -> bool {
        let prefix = format!("{}@", self.file_stem);
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return false;
        };
        entries.flatten().any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with(&prefix)
                && name.ends_with(".session")
                && entry.path() != self.record_path
        })
    }

    /// The key in the credential store; `None` when there is none or it is not one of ours
    /// (then the file it would open is garbage, and the next save replaces it).
    fn read_key(&self) -> Result<Option<SessionKey>> {
        let Some(encoded) = self.key_vault.get()? else {
            return Ok(None);
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
        self.key_vault.set(&encoded)?;
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
        self.key_vault.delete()
    }

    fn lock(&self) -> Result<File> {
        check_private_dir(&self.dir)?;
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        // Never through a symlink: whoever could plant one would make us create a file
        // wherever it points.
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
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
        remove_if_present(&self.record_path).map_err(|err| self.file_error("remove", &err))
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

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        outcome => outcome,
    }
}

/// `header | len | service | len | account | origin`, lengths as big-endian u32, so no two
/// triples give the same bytes.
fn associated_data(service: &str, account: &str, origin: &str) -> Vec<u8> {
    let mut associated_data = header().to_vec();
    for part in [service, account] {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        associated_data.extend_from_slice(&len.to_be_bytes());
        associated_data.extend_from_slice(part.as_bytes());
    }
    associated_data.extend_from_slice(origin.as_bytes());
    associated_data
}

/// The hex of the first bytes of SHA-256 of the origin: names the origin's record file.
fn origin_tag(origin: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, origin.as_bytes());
    digest
        .as_ref()
        .iter()
        .take(ORIGIN_TAG_BYTES)
        .map(|byte| format!("{byte:02x}"))
        .collect()
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
    })?;
    check_private_dir(dir)
}

/// The session directory must be this user's alone: anyone else who can write in it could
/// replace the record, plant links, or delete the session.
fn check_private_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let refuse = |why: &str| {
            Err(AuthError::storage(format!(
                "the session directory {} {why}; use a directory only this user can write (storageDir), or fix its owner and mode (chmod 700)",
                dir.display()
            )))
        };
        let metadata = fs::metadata(dir).map_err(|err| {
            AuthError::storage(format!(
                "could not inspect the session directory {}: {err}",
                dir.display()
            ))
        })?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        if metadata.uid() != unsafe { libc::geteuid() } {
            return refuse("is owned by another user");
        }
        if metadata.mode() & 0o022 != 0 {
            return refuse("is writable by other users (group or world)");
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
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
mod tests;
