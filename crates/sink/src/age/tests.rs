use super::*;
use ::age::x25519::Identity;
use keyrevoke_core::Secret;
use std::os::unix::fs::PermissionsExt;

fn secret(label: &str, api_key: &str, api_secret: &str) -> RotatedSecret {
    RotatedSecret {
        exchange: "okx".into(),
        label: label.into(),
        api_key: api_key.into(),
        api_secret: Secret::from(api_secret),
        passphrase: Some(Secret::from("Pp-generated-1")),
        created_at: "2026-11-29T10:00:00Z".into(),
        replaces: "old1…9xyz".into(),
    }
}

/// A sink in a fresh folder, with the identity that can read its files.
struct Fixture {
    root: tempfile::TempDir,
    identity: Identity,
    sink: AgeSink,
}

impl Fixture {
    fn new() -> Fixture {
        let root = tempfile::tempdir().unwrap();
        let identity = Identity::generate();
        let recipient = identity.to_public().to_string();
        let sink = AgeSink::new(
            root.path().join("rotated"),
            &[("sink.recipients[0]".into(), recipient)],
        )
        .unwrap();
        Fixture {
            root,
            identity,
            sink,
        }
    }

    fn dir(&self) -> PathBuf {
        self.root.path().join("rotated")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir().join("okx").join(name)
    }

    /// The JSON object in `name`, decrypted with the recipient's identity.
    fn read(&self, name: &str) -> serde_json::Value {
        let bytes = std::fs::read(self.file(name)).unwrap();
        let plain = ::age::decrypt(&self.identity, &bytes).expect("decrypts with the identity");
        serde_json::from_slice(&plain).unwrap()
    }

    fn api_key_in(&self, name: &str) -> String {
        self.read(name)["api_key"].as_str().unwrap().to_string()
    }

    /// The file names in the exchange's folder, sorted.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir().join("okx"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_pending_secret_decrypts_to_the_whole_json_object_in_a_0600_file() {
    let f = Fixture::new();
    f.sink.preflight().await.unwrap();
    f.sink
        .store_pending(&secret("mm-1", "new-key-1", "new-secret-1"))
        .await
        .unwrap();

    assert_eq!(
        f.read("mm-1.pending.age"),
        serde_json::json!({
            "exchange": "okx",
            "label": "mm-1",
            "api_key": "new-key-1",
            "api_secret": "new-secret-1",
            "passphrase": "Pp-generated-1",
            "created_at": "2026-11-29T10:00:00Z",
            "replaces": "old1…9xyz",
        })
    );
    let raw = std::fs::read(f.file("mm-1.pending.age")).unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains("new-secret-1"),
        "the file holds the secret in clear"
    );
    assert_eq!(mode(&f.file("mm-1.pending.age")), 0o600);
    assert_eq!(mode(&f.dir()), 0o700);
    assert_eq!(mode(&f.dir().join("okx")), 0o700);
    assert_eq!(f.files(), ["mm-1.pending.age"], "no temporary file left");
    assert!(!f.file("mm-1.age").exists(), "pending is not current");
}

#[tokio::test]
async fn a_key_without_passphrase_has_none_in_its_file() {
    let f = Fixture::new();
    let mut s = secret("bot-17", "k", "s");
    s.passphrase = None;
    f.sink.store_pending(&s).await.unwrap();
    let json = f.read("bot-17.pending.age");
    assert!(json.get("passphrase").is_none(), "{json}");
    assert_eq!(json["api_secret"], "s");
}

#[tokio::test]
async fn promote_keeps_the_replaced_secret_as_previous_and_is_idempotent() {
    let f = Fixture::new();
    f.sink
        .store_pending(&secret("mm-1", "key-a", "sa"))
        .await
        .unwrap();
    f.sink.promote("okx", "mm-1", "key-a").await.unwrap();
    assert_eq!(f.files(), ["mm-1.age"]);
    assert_eq!(f.api_key_in("mm-1.age"), "key-a");

    f.sink
        .store_pending(&secret("mm-1", "key-b", "sb"))
        .await
        .unwrap();
    assert_eq!(
        f.api_key_in("mm-1.age"),
        "key-a",
        "current untouched by a store"
    );
    f.sink.promote("okx", "mm-1", "key-b").await.unwrap();
    assert_eq!(f.files(), ["mm-1.age", "mm-1.previous.age"]);
    assert_eq!(f.api_key_in("mm-1.age"), "key-b");
    assert_eq!(f.api_key_in("mm-1.previous.age"), "key-a");
    assert_eq!(mode(&f.file("mm-1.age")), 0o600);
    assert_eq!(mode(&f.file("mm-1.previous.age")), 0o600);

    // Repeated after a crash before the journal recorded it: no change.
    f.sink.promote("okx", "mm-1", "key-b").await.unwrap();
    assert_eq!(f.files(), ["mm-1.age", "mm-1.previous.age"]);
    assert_eq!(f.api_key_in("mm-1.age"), "key-b");
    assert_eq!(f.api_key_in("mm-1.previous.age"), "key-a");
}

#[tokio::test]
async fn a_promote_cut_between_its_two_renames_finishes_when_repeated() {
    let f = Fixture::new();
    f.sink
        .store_pending(&secret("mm-1", "key-a", "sa"))
        .await
        .unwrap();
    f.sink.promote("okx", "mm-1", "key-a").await.unwrap();
    f.sink
        .store_pending(&secret("mm-1", "key-b", "sb"))
        .await
        .unwrap();
    // The state a crash after the first rename leaves.
    std::fs::rename(f.file("mm-1.age"), f.file("mm-1.previous.age")).unwrap();

    f.sink.promote("okx", "mm-1", "key-b").await.unwrap();
    assert_eq!(f.files(), ["mm-1.age", "mm-1.previous.age"]);
    assert_eq!(f.api_key_in("mm-1.age"), "key-b");
    assert_eq!(f.api_key_in("mm-1.previous.age"), "key-a");
}

#[tokio::test]
async fn promote_with_nothing_stored_is_a_write_error() {
    let f = Fixture::new();
    let err = f.sink.promote("okx", "ghost", "k").await.unwrap_err();
    assert!(
        matches!(&err, SinkError::Write(m) if m.starts_with("nothing to promote")),
        "{err:?}"
    );
}

#[tokio::test]
async fn discard_removes_only_the_pending_secret_and_is_idempotent() {
    let f = Fixture::new();
    f.sink
        .store_pending(&secret("mm-1", "key-a", "sa"))
        .await
        .unwrap();
    f.sink.promote("okx", "mm-1", "key-a").await.unwrap();
    f.sink
        .store_pending(&secret("mm-1", "key-b", "sb"))
        .await
        .unwrap();

    f.sink.discard_pending("okx", "mm-1").await.unwrap();
    assert_eq!(f.files(), ["mm-1.age"]);
    assert_eq!(f.api_key_in("mm-1.age"), "key-a");
    f.sink.discard_pending("okx", "mm-1").await.unwrap();
    f.sink.discard_pending("okx", "never-stored").await.unwrap();
    assert_eq!(f.files(), ["mm-1.age"]);
}

#[tokio::test]
async fn a_label_that_would_leave_its_folder_is_refused_before_any_write() {
    let f = Fixture::new();
    let err = f
        .sink
        .store_pending(&secret("../escape", "k", "s"))
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Config(_)), "{err:?}");
    assert!(!f.dir().exists(), "nothing written");
    let err = f.sink.promote("../x", "mm-1", "k").await.unwrap_err();
    assert!(matches!(err, SinkError::Config(_)), "{err:?}");
}

#[tokio::test]
async fn a_read_only_folder_fails_the_write_and_promotes_nothing() {
    let f = Fixture::new();
    f.sink
        .store_pending(&secret("mm-1", "key-a", "sa"))
        .await
        .unwrap();
    f.sink.promote("okx", "mm-1", "key-a").await.unwrap();
    f.sink
        .store_pending(&secret("mm-1", "key-b", "sb"))
        .await
        .unwrap();
    // A first rotation: a pending secret and no current one.
    f.sink
        .store_pending(&secret("mm-2", "key-first", "sf"))
        .await
        .unwrap();
    let before = f.files();

    let _read_only = ReadOnly::make(&f.dir().join("okx"));
    let err = f
        .sink
        .store_pending(&secret("mm-1", "key-c", "secret-c-value"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SinkError::Write(m) if m.contains("cannot create")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("secret-c-value"), "{err}");
    let err = f.sink.promote("okx", "mm-1", "key-b").await.unwrap_err();
    assert!(
        matches!(&err, SinkError::Write(m) if m.contains("cannot rename")),
        "{err:?}"
    );
    let err = f
        .sink
        .promote("okx", "mm-2", "key-first")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SinkError::Write(m) if m.contains("cannot rename")),
        "{err:?}"
    );
    let err = f.sink.discard_pending("okx", "mm-1").await.unwrap_err();
    assert!(matches!(err, SinkError::Write(_)), "{err:?}");

    assert_eq!(f.files(), before, "no file added, moved or removed");
    assert_eq!(
        f.api_key_in("mm-1.age"),
        "key-a",
        "the old secret is still current"
    );
    assert_eq!(f.api_key_in("mm-1.pending.age"), "key-b");
    assert_eq!(f.api_key_in("mm-2.pending.age"), "key-first");
}

#[tokio::test]
async fn preflight_creates_a_private_folder_and_fails_on_a_read_only_one() {
    let f = Fixture::new();
    f.sink.preflight().await.unwrap();
    assert_eq!(mode(&f.dir()), 0o700);
    assert_eq!(
        std::fs::read_dir(f.dir()).unwrap().count(),
        0,
        "the probe file is removed"
    );

    let _read_only = ReadOnly::make(&f.dir());
    let err = f.sink.preflight().await.unwrap_err();
    assert!(matches!(err, SinkError::Write(_)), "{err:?}");
}

/// A folder no file can be created in, renamed in or removed from, for as
/// long as the guard lives. Tests run as root in CI, and root ignores mode
/// bits: there the folder is made immutable (`chattr +i`, which binds root
/// too); elsewhere 0500 is enough. Either way the guard checks that a write
/// really fails, so a test relying on it cannot pass vacuously.
struct ReadOnly {
    dir: PathBuf,
    immutable: bool,
}

/// `FS_IMMUTABLE_FL` from linux/fs.h (libc does not export it).
const FS_IMMUTABLE_FL: libc::c_int = 0x10;

impl ReadOnly {
    fn make(dir: &Path) -> ReadOnly {
        // SAFETY: geteuid has no preconditions.
        let immutable = unsafe { libc::geteuid() } == 0;
        if immutable {
            set_immutable(dir, true);
        } else {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        }
        let probe = dir.join("probe");
        assert!(
            std::fs::write(&probe, b"x").is_err(),
            "could not make {} read-only",
            dir.display()
        );
        ReadOnly {
            dir: dir.to_path_buf(),
            immutable,
        }
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.immutable {
            set_immutable(&self.dir, false);
        } else {
            let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        }
    }
}

fn set_immutable(dir: &Path, on: bool) {
    use std::os::fd::AsRawFd;
    let handle = File::open(dir).unwrap();
    let mut flags: libc::c_int = 0;
    // SAFETY: FS_IOC_{GET,SET}FLAGS read and write one int through the
    // pointer (the kernel takes an int whatever the ioctl number says),
    // which points at a live local.
    unsafe {
        assert_eq!(
            libc::ioctl(handle.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags),
            0,
            "FS_IOC_GETFLAGS on {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        );
        if on {
            flags |= FS_IMMUTABLE_FL;
        } else {
            flags &= !FS_IMMUTABLE_FL;
        }
        assert_eq!(
            libc::ioctl(handle.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags),
            0,
            "FS_IOC_SETFLAGS on {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        );
    }
}

#[tokio::test]
async fn every_missing_folder_on_the_path_is_created_private() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ops").join("keys").join("rotated");
    let recipient = Identity::generate().to_public().to_string();
    let sink = AgeSink::new(dir.clone(), &[("r".into(), recipient)]).unwrap();
    sink.preflight().await.unwrap();
    sink.store_pending(&secret("mm-1", "k", "s")).await.unwrap();
    for folder in [
        root.path().join("ops"),
        root.path().join("ops/keys"),
        dir.clone(),
        dir.join("okx"),
    ] {
        assert_eq!(mode(&folder), 0o700, "{}", folder.display());
    }
}
