//! The keyring store against a vault in memory (always), and against the real Secret
//! Service (`secret_service` tests, ignored by default: `scripts/cargo-test.sh` runs them
//! with `--ignored` where one answers, and CI requires it).

use super::os_vault::memory::MemoryVault;
use super::*;
use crate::errors::ErrorCode;

const TEST_SERVICE: &str = "symbiote-auth-test";
const ORIGIN: &str = "https://api.example.com";
const STAGING: &str = "https://staging.example.com";
#[cfg(all(unix, not(target_os = "macos")))]
const UNAVAILABLE_CHILD_ENV: &str = "SYMBIOTE_AUTH_TEST_UNAVAILABLE_CHILD";

enum VaultKind {
    Memory(Arc<MemoryVault>),
    Os,
}

struct Fixture {
    store: Arc<KeyringStore>,
    account: String,
    vault: VaultKind,
    // Removed on drop, with every file the store made.
    dir: tempfile::TempDir,
}

fn unique_account(label: &str) -> String {
    let mut suffix = [0u8; 6];
    fill_random(&mut suffix).unwrap();
    let suffix: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{label}-{suffix}")
}

impl Fixture {
    fn memory(label: &str) -> Fixture {
        Self::new(label, VaultKind::Memory(Arc::default()))
    }

    /// On the real credential store; fails when none answers (these tests run only when
    /// asked for with `--ignored`).
    async fn secret_service(label: &str) -> Fixture {
        let fixture = Self::new(label, VaultKind::Os);
        if let Err(err) = fixture.store.probe().await {
            panic!(
                "no usable Secret Service (run under dbus-run-session with gnome-keyring): {err}"
            );
        }
        fixture
    }

    fn new(label: &str, vault: VaultKind) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let account = unique_account(label);
        Fixture {
            store: store_for(&account, ORIGIN, &vault, &dir.path().join("sessions")),
            account,
            vault,
            dir,
        }
    }

    /// Another store on the same account and credential (as another process has), in `dir`.
    fn store_in(&self, dir: &Path) -> Arc<KeyringStore> {
        store_for(&self.account, ORIGIN, &self.vault, dir)
    }

    /// A store on the same account and credential for another API origin.
    fn store_for_origin(&self, origin: &str) -> Arc<KeyringStore> {
        store_for(
            &self.account,
            origin,
            &self.vault,
            &self.dir.path().join("sessions"),
        )
    }

    fn another_store(&self) -> Arc<KeyringStore> {
        self.store_in(&self.dir.path().join("sessions"))
    }

    /// What the credential store itself holds, read past `KeyringStore`.
    async fn credential(&self) -> Option<String> {
        let vault = self.another_store().vault.clone();
        tokio::task::spawn_blocking(move || vault.key_vault.get().unwrap())
            .await
            .unwrap()
            .map(|secret| secret.to_string())
    }

    async fn delete_credential(&self) {
        let vault = self.another_store().vault.clone();
        tokio::task::spawn_blocking(move || vault.key_vault.delete().unwrap())
            .await
            .unwrap();
    }
}

fn store_for(account: &str, origin: &str, vault: &VaultKind, dir: &Path) -> Arc<KeyringStore> {
    let memory = match vault {
        VaultKind::Memory(vault) => Some(vault.clone()),
        VaultKind::Os => None,
    };
    KeyringStore::with_vault(
        TEST_SERVICE,
        account,
        origin,
        Some(dir.to_path_buf()),
        |service, account| match memory {
            Some(vault) => Ok(Box::new(vault)),
            None => Ok(Box::new(OsVault::new(service, account)?)),
        },
    )
    .unwrap()
}

/// Each behaviour against both vaults: `memory_vault` always, `secret_service` when asked.
macro_rules! on_each_vault {
    ($($behaviour:ident),* $(,)?) => {$(
        mod $behaviour {
            #[tokio::test]
            async fn memory_vault() {
                super::$behaviour(super::Fixture::memory(stringify!($behaviour))).await
            }

            #[tokio::test]
            #[ignore = "needs a Secret Service: cargo test -- --ignored under dbus-run-session"]
            async fn secret_service() {
                let fixture = super::Fixture::secret_service(stringify!($behaviour)).await;
                super::$behaviour(fixture).await
            }
        }
    )*};
}

on_each_vault!(
    records_of_8_and_64_kib_round_trip,
    the_file_is_private_and_holds_no_plaintext,
    clear_removes_credential_and_file_and_succeeds_when_both_are_gone,
    a_second_instance_loads_what_the_first_saved,
    a_tampered_or_truncated_file_is_reported_as_corrupted,
    a_deleted_credential_leaves_nothing_to_load,
    each_origin_keeps_its_own_record_and_the_key_goes_with_the_last,
    a_record_moved_to_another_origin_does_not_open,
    a_record_from_before_the_origin_binding_is_reported_once_then_removed,
);

async fn each_origin_keeps_its_own_record_and_the_key_goes_with_the_last(fixture: Fixture) {
    let staging = fixture.store_for_origin(STAGING);
    fixture.store.save(Secret::new("production")).await.unwrap();
    staging.save(Secret::new("staging")).await.unwrap();
    assert_eq!(
        fixture.store.load().await.unwrap().unwrap().expose(),
        "production"
    );
    assert_eq!(staging.load().await.unwrap().unwrap().expose(), "staging");
    assert_ne!(fixture.store.record_path(), staging.record_path());

    staging.clear().await.unwrap();
    assert!(staging.load().await.unwrap().is_none());
    assert_eq!(
        fixture.store.load().await.unwrap().unwrap().expose(),
        "production",
        "clearing one origin keeps the other's record and the shared key"
    );
    fixture.store.clear().await.unwrap();
    assert!(
        fixture.credential().await.is_none(),
        "the last clear removes the key"
    );
}

async fn a_record_moved_to_another_origin_does_not_open(fixture: Fixture) {
    let staging = fixture.store_for_origin(STAGING);
    staging.save(Secret::new("staging")).await.unwrap();
    fixture.store.save(Secret::new("production")).await.unwrap();
    fs::copy(staging.record_path(), fixture.store.record_path()).unwrap();
    let err = fixture.store.load().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Storage);
    assert!(err.message.contains("corrupted"), "{err}");
    staging.clear().await.unwrap();
    fixture.store.clear().await.unwrap();
}

async fn a_record_from_before_the_origin_binding_is_reported_once_then_removed(fixture: Fixture) {
    // What an older version left: `<stem>.session`, under the same credential.
    fixture.store.save(Secret::new("{}")).await.unwrap();
    let unbound = fixture.store.vault.unbound_record_path.clone();
    fs::rename(fixture.store.record_path(), &unbound).unwrap();
    let err = fixture.store.load().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Storage);
    assert!(err.message.contains("without the API origin"), "{err}");
    fixture.store.clear().await.unwrap();
    assert!(!unbound.exists());
    assert!(fixture.store.load().await.unwrap().is_none());
    assert!(fixture.credential().await.is_none());
}

mod concurrent_saves {
    #[test]
    fn memory_vault() {
        let fixture = super::Fixture::memory("concurrent");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        super::concurrent_saves_leave_one_complete_record(runtime, fixture)
    }

    #[test]
    #[ignore = "needs a Secret Service: cargo test -- --ignored under dbus-run-session"]
    fn secret_service() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let fixture = runtime.block_on(super::Fixture::secret_service("concurrent"));
        super::concurrent_saves_leave_one_complete_record(runtime, fixture)
    }
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

async fn records_of_8_and_64_kib_round_trip(fixture: Fixture) {
    for size in [8 * 1024, 64 * 1024] {
        let record = record_of_size("ROUND-TRIP-MARKER", size);
        fixture.store.save(record.clone()).await.unwrap();
        let loaded = fixture.store.load().await.unwrap().unwrap();
        assert_eq!(loaded.expose().len(), size);
        assert!(loaded == record);
    }
    // The credential holds a base64 256-bit key, far below Windows' 2560-byte limit.
    let key = fixture.credential().await.unwrap();
    assert_eq!(BASE64.decode(&key).unwrap().len(), KEY_LEN);
    fixture.store.clear().await.unwrap();
}

async fn the_file_is_private_and_holds_no_plaintext(fixture: Fixture) {
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
    let key = fixture.credential().await.unwrap();
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
        [
            format!("{stem}.session.lock"),
            format!("{stem}@{}.session", origin_tag(ORIGIN))
        ]
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

async fn clear_removes_credential_and_file_and_succeeds_when_both_are_gone(fixture: Fixture) {
    fixture.store.save(Secret::new("{\"v\":1}")).await.unwrap();
    assert!(fixture.credential().await.is_some());
    assert!(fixture.store.record_path().exists());

    fixture.store.clear().await.unwrap();
    assert!(fixture.credential().await.is_none());
    assert!(!fixture.store.record_path().exists());
    fixture.store.clear().await.unwrap();
    assert!(fixture.store.load().await.unwrap().is_none());

    let never_used = fixture.store_in(&fixture.dir.path().join("missing"));
    never_used.clear().await.unwrap();
    assert!(never_used.load().await.unwrap().is_none());
}

async fn a_second_instance_loads_what_the_first_saved(fixture: Fixture) {
    fixture
        .store
        .save(Secret::new("{\"v\":\"first\"}"))
        .await
        .unwrap();
    let second = fixture.another_store();
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

async fn a_tampered_or_truncated_file_is_reported_as_corrupted(fixture: Fixture) {
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

async fn a_deleted_credential_leaves_nothing_to_load(fixture: Fixture) {
    fixture.store.save(Secret::new("{\"v\":1}")).await.unwrap();
    fixture.delete_credential().await;

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

fn concurrent_saves_leave_one_complete_record(runtime: tokio::runtime::Runtime, fixture: Fixture) {
    const SAVES_PER_WRITER: usize = 50;
    let record = |writer: usize, save: usize| {
        record_of_size(&format!("writer-{writer}-save-{save}"), 8 * 1024)
    };
    // Separate instances, as two processes would have: each takes its own file lock.
    let store = || fixture.another_store();

    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let store = store();
            let runtime = runtime.handle().clone();
            std::thread::spawn(move || {
                for save in 0..SAVES_PER_WRITER {
                    runtime.block_on(store.save(record(writer, save))).unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let store = store();
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
        KeyringStore::new(TEST_SERVICE, "unavailable", ORIGIN, Some(dir.path().into())).unwrap();
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
    let mine = associated_data("svc", "me", ORIGIN);
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
    let other_account = associated_data("svc", "you", ORIGIN);
    let other_service = associated_data("sv", "cme", ORIGIN);
    let other_origin = associated_data("svc", "me", STAGING);
    let mut newer = sealed.clone();
    newer[FILE_MAGIC.len()] = 3;
    for (key, associated_data, sealed) in [
        (&other_key, &mine, &sealed[..]),
        (&key, &other_account, &sealed[..]),
        (&key, &other_service, &sealed[..]),
        (&key, &other_origin, &sealed[..]),
        (&key, &mine, &sealed[..20]),
        (&key, &mine, &newer[..]),
    ] {
        let err = open(key, associated_data, sealed).unwrap_err();
        assert_eq!(err.code, ErrorCode::Storage);
        assert!(err.message.contains("stored session is corrupted"), "{err}");
    }
    let err = open(&key, &mine, &newer).unwrap_err();
    assert!(err.message.contains("format version 3"), "{err}");
}

#[test]
fn file_names_are_escaped_one_to_one() {
    assert_eq!(file_stem("symbiote", "default"), "symbiote-default");
    assert_eq!(file_stem("my-app", "Work"), "my-app-%57ork");
    assert_eq!(file_stem("a-b", "c"), "a-b-c");
    assert_eq!(file_stem("a", "b-c"), "a-b%2Dc");
    assert_eq!(file_stem("svc", "me@example.com"), "svc-me%40example.com");
    assert_eq!(file_stem("../x\\y", "é"), "..%2Fx%5Cy-%C3%A9");

    let store = KeyringStore::new("symbiote", "default", ORIGIN, Some("/data".into())).unwrap();
    assert_eq!(
        store.record_path(),
        Path::new("/data").join(format!("symbiote-default@{}.session", origin_tag(ORIGIN)))
    );
    assert_eq!(origin_tag(ORIGIN).len(), 32);
    assert_ne!(origin_tag(ORIGIN), origin_tag(STAGING));
}

#[test]
fn the_default_directory_is_the_per_user_data_directory() {
    let store = KeyringStore::new("symbiote", "default", ORIGIN, None).unwrap();
    let expected = dirs::data_dir().unwrap().join("symbiote-auth");
    assert_eq!(store.record_path().parent(), Some(expected.as_path()));
    assert!(store.is_persistent());
}

#[test]
fn names_that_cannot_work_are_config_errors() {
    for (service, account) in [
        ("", "default"),
        ("symbiote", ""),
        ("symbiote", &"x".repeat(300)),
    ] {
        let err = KeyringStore::new(service, account, ORIGIN, None).unwrap_err();
        assert_eq!(err.code, ErrorCode::Config, "{err}");
    }
}

#[cfg(unix)]
mod hostile_directories {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn a_planted_lock_file_symlink_is_never_followed() {
        let fixture = Fixture::memory("symlinked-lock");
        let sessions = fixture.dir.path().join("sessions");
        create_private_dir(&sessions).unwrap();
        let target = fixture.dir.path().join("created-through-the-link");
        std::os::unix::fs::symlink(&target, &fixture.store.vault.lock_path).unwrap();
        let err = fixture.store.save(Secret::new("{}")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::Storage);
        assert!(
            !target.exists(),
            "no file was created where the link points"
        );
        assert!(fixture.store.load().await.is_err());
    }

    #[tokio::test]
    async fn a_directory_others_can_write_is_refused_with_the_reason() {
        let fixture = Fixture::memory("shared-dir");
        let sessions = fixture.dir.path().join("sessions");
        create_private_dir(&sessions).unwrap();
        fixture.store.save(Secret::new("{}")).await.unwrap();
        for mode in [0o777, 0o770, 0o722] {
            fs::set_permissions(&sessions, fs::Permissions::from_mode(mode)).unwrap();
            for err in [
                fixture.store.save(Secret::new("{}")).await.unwrap_err(),
                fixture.store.load().await.unwrap_err(),
                fixture.store.probe().await.unwrap_err(),
            ] {
                assert_eq!(err.code, ErrorCode::Storage);
                assert!(err.message.contains("writable by other users"), "{err}");
            }
        }
        fs::set_permissions(&sessions, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(fixture.store.load().await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_directory_owned_by_another_user_is_refused() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // Only root can hand a directory to another user; CI runs as root.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED a_directory_owned_by_another_user_is_refused: needs root to chown"
            );
            return;
        }
        let fixture = Fixture::memory("foreign-dir");
        let sessions = fixture.dir.path().join("sessions");
        create_private_dir(&sessions).unwrap();
        std::os::unix::fs::chown(&sessions, Some(65534), Some(65534)).unwrap();
        let err = fixture.store.save(Secret::new("{}")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::Storage);
        assert!(err.message.contains("owned by another user"), "{err}");
    }
}
