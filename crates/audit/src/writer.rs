//! The appending side: [`AuditLog`] and its group-commit writer thread.
//!
//! Every `append` sends its event to one writer thread. The thread takes
//! whatever has queued up, stamps seq/time/prev/hash(/hmac) on each event,
//! writes the batch in one `write`, `fdatasync`s, and only then answers each
//! waiter. While one batch syncs the next one queues, so the cost of a sync
//! is shared by every record that arrived during it.
//!
//! The writer is a plain OS thread rather than a tokio task because its work
//! (write, fdatasync) blocks; a dedicated thread keeps that off the runtime's
//! workers and lets the log be opened outside a runtime.

use crate::record::{Chain, Hex32, Signer};
use crate::repair::{Recovered, TornTailRepair, recover};
use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use keyrevoke_core::Secret;
use keyrevoke_core::store::{AuditEvent, AuditSink, StoreError};
use serde::Serialize;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, oneshot};

/// Requests that may wait for the writer; beyond this, `append` waits for
/// room (backpressure instead of unbounded memory).
const QUEUE_CAPACITY: usize = 16 * 1024;
/// Most records in one group commit (about 4 MB of lines).
const MAX_BATCH: usize = 16 * 1024;

/// The end of the chain: the last durable record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    /// 0 when the log holds no record.
    pub seq: u64,
    /// Hex SHA-256 of the last record; [`crate::GENESIS_PREV`] when empty.
    pub hash: String,
}

/// What [`AuditLog::open`] found and did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenReport {
    pub path: PathBuf,
    /// The file did not exist and was created (mode 0600).
    pub created: bool,
    /// Intact records found in the existing file (0 when created).
    pub existing_records: u64,
    /// The chain head once open returns (after any repair record).
    pub head: ChainHead,
    /// Records appended from now on carry an `hmac`.
    pub signed: bool,
    /// Set when a torn last line was cut off and a repair record appended.
    pub repaired: Option<TornTailRepair>,
}

/// The hash-chained audit trail, open for appending. See the crate docs for
/// the record format.
pub struct AuditLog {
    requests: mpsc::Sender<Request>,
    shared: Arc<Shared>,
    writer_stopped: oneshot::Receiver<()>,
    path: PathBuf,
    /// The descriptor the writer thread writes to, so that tests can make
    /// it fail underneath the writer.
    #[cfg(test)]
    pub(crate) raw_fd: std::os::unix::io::RawFd,
}

struct Request {
    /// Records appended together, in order, and acknowledged together.
    events: Vec<AuditEvent>,
    durable: oneshot::Sender<Result<(), StoreError>>,
}

/// What the writer thread publishes to the handle.
struct Shared {
    head: Mutex<ChainHead>,
    /// Set once a write or sync failed: every later append gets this.
    failure: Mutex<Option<String>>,
}

/// Never let a poisoned lock turn into a panic: the data behind these locks
/// is always consistent (single assignments).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AuditLog {
    /// Open the log at `path` for appending, creating it (mode 0600) if
    /// absent. An existing log is read in full: its chain is checked, a torn
    /// last line is cut off and documented by a `run` record, and damage
    /// anywhere else refuses the open. With `signing_key`, every record
    /// appended carries an `hmac`; an existing log must then be signed with
    /// the same key (and an unsigned one must be opened without a key).
    ///
    /// This reads the whole file synchronously; from async code, call it on
    /// a blocking thread (`tokio::task::spawn_blocking`) for large logs.
    ///
    /// # Errors
    ///
    /// [`StoreError::Audit`] when the file cannot be created, opened, locked
    /// (another writer holds it), read, repaired or synced; when it is not a
    /// regular file; when any line but a torn last one breaks the chain (the
    /// message names `path:line`); or when the key does not match the log's
    /// signing mode.
    pub fn open(
        path: &Path,
        signing_key: Option<Secret>,
    ) -> Result<(AuditLog, OpenReport), StoreError> {
        let signer = signing_key
            .as_ref()
            .map(Signer::new)
            .transpose()
            .map_err(StoreError::Audit)?;
        drop(signing_key);
        let failed = |what: &str, e: io::Error| {
            StoreError::Audit(format!(
                "{}: cannot {what} the audit log: {e}",
                path.display()
            ))
        };

        let (mut file, created) = open_file(path)?;
        lock_exclusively(&file, path)?;
        let recovered = if created {
            Recovered {
                last_seq: 0,
                last_hash: Hex32::GENESIS,
                records: 0,
                torn: None,
            }
        } else {
            recover(&mut file, path, signer.clone())?
        };
        let signed = signer.is_some();
        let mut chain = Chain::resume(recovered.last_seq, recovered.last_hash, signer);

        let mut clock = Clock::default();
        let repaired = match &recovered.torn {
            None => None,
            Some(torn) => {
                let mut line = Vec::new();
                chain.append(clock.now(), &torn.event(), &mut line);
                file.write_all(&line)
                    .and_then(|()| file.sync_data())
                    .map_err(|e| failed("write the repair record to", e))?;
                Some(TornTailRepair {
                    line: torn.line,
                    offset: torn.offset,
                    bytes_dropped: torn.bytes,
                    dropped_sha256: torn.sha256.as_str().to_string(),
                    repair_seq: chain.last_seq(),
                })
            }
        };
        if created {
            // The new file's directory entry must survive a crash too.
            sync_parent_dir(path).map_err(|e| failed("sync the directory of", e))?;
        }
        let durable_len = file.metadata().map_err(|e| failed("stat", e))?.len();

        let head = ChainHead {
            seq: chain.last_seq(),
            hash: chain.last_hash().as_str().to_string(),
        };
        let shared = Arc::new(Shared {
            head: Mutex::new(head.clone()),
            failure: Mutex::new(None),
        });
        let (requests, queue) = mpsc::channel(QUEUE_CAPACITY);
        let (stopped_tx, writer_stopped) = oneshot::channel();
        #[cfg(test)]
        let raw_fd = file.as_raw_fd();
        let writer = Writer {
            file,
            durable_len,
            chain,
            clock,
            shared: Arc::clone(&shared),
            path: path.to_path_buf(),
        };
        std::thread::Builder::new()
            .name("keyrevoke-audit".to_string())
            .spawn(move || writer.run(queue, stopped_tx))
            .map_err(|e| failed("start the writer thread for", e))?;

        let report = OpenReport {
            path: path.to_path_buf(),
            created,
            existing_records: recovered.records,
            head,
            signed,
            repaired,
        };
        let log = AuditLog {
            requests,
            shared,
            writer_stopped,
            path: path.to_path_buf(),
            #[cfg(test)]
            raw_fd,
        };
        Ok((log, report))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last durable record's seq and hash.
    pub fn head(&self) -> ChainHead {
        lock(&self.shared.head).clone()
    }

    /// Hex hash of the last durable record, for the run's final report.
    pub fn last_hash(&self) -> String {
        self.head().hash
    }

    pub fn last_seq(&self) -> u64 {
        self.head().seq
    }

    /// Write what is queued, stop the writer and close the file. Returns
    /// the final chain head.
    ///
    /// # Errors
    ///
    /// The write or sync failure that closed the trail, if one did.
    pub async fn close(self) -> Result<ChainHead, StoreError> {
        let AuditLog {
            requests,
            shared,
            writer_stopped,
            ..
        } = self;
        // With the last sender gone the writer drains the queue and exits.
        drop(requests);
        // An error here only means the thread is gone; `shared` tells why.
        let _ = writer_stopped.await;
        if let Some(failure) = lock(&shared.failure).clone() {
            return Err(StoreError::Audit(failure));
        }
        let head = lock(&shared.head).clone();
        Ok(head)
    }

    fn stopped_error(&self) -> StoreError {
        StoreError::Audit(lock(&self.shared.failure).clone().unwrap_or_else(|| {
            format!(
                "{}: the audit writer has stopped; no further record is accepted",
                self.path.display()
            )
        }))
    }
}

#[async_trait]
impl AuditSink for AuditLog {
    /// Returns once the record is on disk (after `fdatasync`), or with the
    /// error that closed the trail.
    async fn append(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.append_all(vec![event]).await
    }

    /// One request for all: they share one write and one `fdatasync`.
    async fn append_all(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        let (durable, is_durable) = oneshot::channel();
        if self
            .requests
            .send(Request { events, durable })
            .await
            .is_err()
        {
            return Err(self.stopped_error());
        }
        match is_durable.await {
            Ok(result) => result,
            Err(_) => Err(self.stopped_error()),
        }
    }
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("head", &self.head())
            .finish_non_exhaustive()
    }
}

/// Create with mode 0600, or open the existing regular file; both for read
/// (recovery) and append.
fn open_file(path: &Path) -> Result<(File, bool), StoreError> {
    let create = OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    let cannot_open = |e: io::Error| {
        StoreError::Audit(format!(
            "{}: cannot open the audit log: {e}",
            path.display()
        ))
    };
    match create {
        Ok(file) => Ok((file, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Refuse devices and pipes before opening them: reading one to
            // recover the chain could block or never end.
            let meta = fs::metadata(path).map_err(cannot_open)?;
            if !meta.is_file() {
                return Err(StoreError::Audit(format!(
                    "{}: the audit log must be a regular file",
                    path.display()
                )));
            }
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(path)
                .map_err(cannot_open)?;
            Ok((file, false))
        }
        Err(e) => Err(cannot_open(e)),
    }
}

/// Two writers appending to one log would interleave two chains; an
/// advisory lock held for the life of the writer keeps a second keyrevoke
/// (or a second `AuditLog` in this process) out.
fn lock_exclusively(file: &File, path: &Path) -> Result<(), StoreError> {
    // SAFETY: flock on a descriptor we own for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::WouldBlock {
        Err(StoreError::Audit(format!(
            "{}: the audit log is already open for writing (by another keyrevoke run, or another AuditLog in this one)",
            path.display()
        )))
    } else {
        Err(StoreError::Audit(format!(
            "{}: cannot lock the audit log: {err}",
            path.display()
        )))
    }
}

fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// RFC 3339 UTC with milliseconds, formatted once per millisecond: at tens
/// of thousands of records a second most records share their millisecond.
#[derive(Default)]
struct Clock {
    millis: Option<i64>,
    text: String,
}

impl Clock {
    fn now(&mut self) -> &str {
        let now = Utc::now();
        let millis = now.timestamp_millis();
        if self.millis != Some(millis) {
            self.text = now.to_rfc3339_opts(SecondsFormat::Millis, true);
            self.millis = Some(millis);
        }
        &self.text
    }
}

struct Writer {
    file: File,
    /// File length after the last successful sync.
    durable_len: u64,
    chain: Chain,
    clock: Clock,
    shared: Arc<Shared>,
    path: PathBuf,
}

impl Writer {
    fn run(mut self, mut queue: mpsc::Receiver<Request>, stopped: oneshot::Sender<()>) {
        let mut batch: Vec<Request> = Vec::with_capacity(1024);
        let mut lines: Vec<u8> = Vec::with_capacity(1 << 20);
        while let Some(first) = queue.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }

            lines.clear();
            for event in batch.iter().flat_map(|r| &r.events) {
                self.chain.append(self.clock.now(), event, &mut lines);
            }
            match self.commit(&lines) {
                Ok(()) => {
                    *lock(&self.shared.head) = ChainHead {
                        seq: self.chain.last_seq(),
                        hash: self.chain.last_hash().as_str().to_string(),
                    };
                    for request in batch.drain(..) {
                        // The caller may have given up waiting; the record
                        // is durable all the same.
                        let _ = request.durable.send(Ok(()));
                    }
                }
                Err(failure) => {
                    self.fail_closed(failure, &mut batch, &mut queue);
                    break;
                }
            }
        }
        // Close the file (and release its lock) before reporting the stop.
        drop(self.file);
        let _ = stopped.send(());
    }

    /// One write for the whole batch, then fdatasync: nothing is
    /// acknowledged before it is on disk.
    fn commit(&mut self, lines: &[u8]) -> Result<(), String> {
        let path = self.path.display();
        if let Err(e) = self.file.write_all(lines) {
            // Best effort: leave the file ending on a record boundary. If
            // this fails too, the next open cuts the torn tail instead.
            let _ = self.file.set_len(self.durable_len);
            return Err(format!(
                "{path}: cannot write the audit log: {e}; the audit trail is closed and every later record is refused"
            ));
        }
        if let Err(e) = self.file.sync_data() {
            return Err(format!(
                "{path}: cannot sync the audit log to disk: {e}; the audit trail is closed and every later record is refused"
            ));
        }
        self.durable_len += lines.len() as u64;
        Ok(())
    }

    /// Fail closed: publish the failure before closing the queue, so that
    /// every append from now on, queued or not, reports it.
    fn fail_closed(
        &mut self,
        failure: String,
        batch: &mut Vec<Request>,
        queue: &mut mpsc::Receiver<Request>,
    ) {
        *lock(&self.shared.failure) = Some(failure.clone());
        queue.close();
        let refuse = |request: Request| {
            let _ = request
                .durable
                .send(Err(StoreError::Audit(failure.clone())));
        };
        batch.drain(..).for_each(&refuse);
        while let Ok(request) = queue.try_recv() {
            refuse(request);
        }
    }
}
