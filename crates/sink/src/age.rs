//! The embedded sink: one age-encrypted file per key, encrypted to the
//! operator's X25519 recipients, so keyrevoke can write secrets it can
//! never read back.
//!
//! `<dir>/<exchange>/<label>.age` is the current secret, `<label>.pending.age`
//! the one being rotated in, `<label>.previous.age` the one it replaced.
//! Every write goes to a temporary file in the same folder, created 0600,
//! is synced, renamed over its target and the folder synced: a crash
//! leaves the old file or the new one, never a torn or readable one.

use crate::{RotatedSecret, SecretSink, SinkError, check_name};
use async_trait::async_trait;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// The three stages of a label's secret, as file names.
#[derive(Clone, Copy)]
enum Stage {
    Current,
    Pending,
    Previous,
}

impl Stage {
    fn file_name(self, label: &str) -> String {
        match self {
            Stage::Current => format!("{label}.age"),
            Stage::Pending => format!("{label}.pending.age"),
            Stage::Previous => format!("{label}.previous.age"),
        }
    }
}

#[derive(Clone)]
pub struct AgeSink {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    recipients: Vec<::age::x25519::Recipient>,
}

impl AgeSink {
    /// `recipients` pairs each recipient with where it was written (for
    /// the error that names a bad one). Nothing is touched on disk yet.
    pub fn new(dir: PathBuf, recipients: &[(String, String)]) -> Result<Self, SinkError> {
        let recipients = recipients
            .iter()
            .map(|(place, text)| {
                text.parse::<::age::x25519::Recipient>().map_err(|why| {
                    SinkError::Config(format!(
                        "{place}: `{text}` is not an age X25519 recipient ({why})"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if recipients.is_empty() {
            return Err(SinkError::Config(
                "sink.recipients: no recipient to encrypt to".into(),
            ));
        }
        Ok(AgeSink {
            inner: Arc::new(Inner { dir, recipients }),
        })
    }

    /// Run filesystem work (fsyncs included) off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, SinkError> + Send + 'static,
    ) -> Result<T, SinkError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| SinkError::Write(format!("age sink task failed: {e}")))?
    }
}

impl Inner {
    fn exchange_dir(&self, exchange: &str) -> PathBuf {
        self.dir.join(exchange)
    }

    fn path(&self, exchange: &str, label: &str, stage: Stage) -> PathBuf {
        self.exchange_dir(exchange).join(stage.file_name(label))
    }

    fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, SinkError> {
        let recipients = self.recipients.iter().map(|r| r as &dyn ::age::Recipient);
        let encryptor = ::age::Encryptor::with_recipients(recipients)
            .map_err(|e| SinkError::Config(format!("age cannot encrypt to the recipients: {e}")))?;
        let mut out = Vec::with_capacity(plaintext.len() + 256);
        encryptor
            .wrap_output(&mut out)
            .and_then(|mut w| w.write_all(plaintext).and_then(|()| w.finish()))
            .map_err(|e| SinkError::Write(format!("age encryption failed: {e}")))?;
        Ok(out)
    }
}

fn write_error(what: &str, path: &Path, e: std::io::Error) -> SinkError {
    SinkError::Write(format!("cannot {what} `{}`: {e}", path.display()))
}

/// Create `dir` and any missing ancestor, each 0700 from the start, and
/// sync the folder holding each new one: a secret's file is durable only
/// once every folder on its path is.
fn create_private_dir(dir: &Path) -> Result<(), SinkError> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !exists(at)? {
        missing.push(at);
        match at.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => at = parent,
            _ => break,
        }
    }
    for new_dir in missing.into_iter().rev() {
        match DirBuilder::new().mode(DIR_MODE).create(new_dir) {
            Ok(()) => {}
            // Another run created it meanwhile.
            Err(e) if e.kind() == ErrorKind::AlreadyExists && new_dir.is_dir() => continue,
            Err(e) => return Err(write_error("create folder", new_dir, e)),
        }
        sync_dir(holder(new_dir))?;
    }
    Ok(())
}

/// The folder that holds `path` (`.` for a bare relative name).
fn holder(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// A rename or removal is durable once the folder holding it is synced.
fn sync_dir(dir: &Path) -> Result<(), SinkError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| write_error("sync folder", dir, e))
}

/// Write `bytes` to `target` atomically: a new 0600 file beside it, synced,
/// renamed over it, the folder synced. On failure the temporary file is
/// removed and `target` is as it was.
fn write_atomically(target: &Path, bytes: &[u8]) -> Result<(), SinkError> {
    let dir = holder(target);
    let name = target.file_name().expect("a sink file has a name");
    let temp = dir.join(format!(
        ".{}.{}.{:016x}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        rand::random::<u64>()
    ));
    let written = (|| {
        // create_new: never through a link or over a file someone placed
        // there; the mode applies at creation, so no moment is readable.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&temp)
            .map_err(|e| write_error("create", &temp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| write_error("write", &temp, e))?;
        std::fs::rename(&temp, target).map_err(|e| write_error("rename into", target, e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
        return written;
    }
    sync_dir(dir)
}

fn exists(path: &Path) -> Result<bool, SinkError> {
    path.try_exists()
        .map_err(|e| write_error("look at", path, e))
}

#[async_trait]
impl SecretSink for AgeSink {
    fn describe(&self) -> String {
        format!("age files under {}", self.inner.dir.display())
    }

    fn location(&self, exchange: &str, label: &str) -> String {
        self.inner
            .path(exchange, label, Stage::Current)
            .display()
            .to_string()
    }

    /// The folder exists (or is created 0700) and takes a file: one is
    /// written the way secrets are, then removed.
    async fn preflight(&self) -> Result<(), SinkError> {
        self.blocking(|inner| {
            create_private_dir(&inner.dir)?;
            let probe = inner.dir.join(".keyrevoke-preflight");
            write_atomically(&probe, b"preflight")?;
            std::fs::remove_file(&probe).map_err(|e| write_error("remove", &probe, e))?;
            sync_dir(&inner.dir)
        })
        .await
    }

    async fn store_pending(&self, secret: &RotatedSecret) -> Result<(), SinkError> {
        check_name("exchange", &secret.exchange)?;
        check_name("label", &secret.label)?;
        let plaintext = secret.plaintext();
        let ciphertext = self.inner.encrypt(plaintext.as_bytes())?;
        let (exchange, label) = (secret.exchange.clone(), secret.label.clone());
        self.blocking(move |inner| {
            create_private_dir(&inner.exchange_dir(&exchange))?;
            write_atomically(&inner.path(&exchange, &label, Stage::Pending), &ciphertext)
        })
        .await
    }

    /// current → previous, then pending → current. A crash between the two
    /// renames leaves pending and previous with no current; the repeat
    /// finishes the second rename. The files cannot be decrypted here, so
    /// `api_key` is not checked: the journal's order says which is which.
    async fn promote(&self, exchange: &str, label: &str, _api_key: &str) -> Result<(), SinkError> {
        check_name("exchange", exchange)?;
        check_name("label", label)?;
        let (exchange, label) = (exchange.to_string(), label.to_string());
        self.blocking(move |inner| {
            let pending = inner.path(&exchange, &label, Stage::Pending);
            let current = inner.path(&exchange, &label, Stage::Current);
            if !exists(&pending)? {
                return if exists(&current)? {
                    Ok(())
                } else {
                    Err(SinkError::Write(format!(
                        "nothing to promote: neither `{}` nor `{}` exists",
                        pending.display(),
                        current.display()
                    )))
                };
            }
            if exists(&current)? {
                let previous = inner.path(&exchange, &label, Stage::Previous);
                std::fs::rename(&current, &previous)
                    .map_err(|e| write_error("rename into", &previous, e))?;
            }
            std::fs::rename(&pending, &current)
                .map_err(|e| write_error("rename into", &current, e))?;
            sync_dir(&inner.exchange_dir(&exchange))
        })
        .await
    }

    async fn discard_pending(&self, exchange: &str, label: &str) -> Result<(), SinkError> {
        check_name("exchange", exchange)?;
        check_name("label", label)?;
        let (exchange, label) = (exchange.to_string(), label.to_string());
        self.blocking(move |inner| {
            let pending = inner.path(&exchange, &label, Stage::Pending);
            match std::fs::remove_file(&pending) {
                Ok(()) => sync_dir(&inner.exchange_dir(&exchange)),
                // Nothing pending: none written, or no folder it could be
                // in (a path that is not a folder holds no file).
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                    Ok(())
                }
                Err(e) => Err(write_error("remove", &pending, e)),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests;
