//! Reopening an existing log: recover the chain head, cut off the partial
//! record a crash left behind, refuse anything that looks like tampering.

use crate::record::{Hex32, Signer, TORN_TAIL_REPAIRED};
use crate::verify::{ChainChecker, scan};
use keyrevoke_core::store::{AuditEvent, AuditKind, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// What [`crate::AuditLog::open`] cut off the end of an existing log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TornTailRepair {
    /// 1-based line number of the partial record.
    pub line: u64,
    /// Byte offset the file was truncated to.
    pub offset: u64,
    pub bytes_dropped: u64,
    /// SHA-256 of the dropped bytes, kept in the repair record so the cut
    /// can be matched against a backup.
    pub dropped_sha256: String,
    /// Seq of the `run` record that documents the repair.
    pub repair_seq: u64,
}

/// The state of an existing log after the scan (and any truncation).
pub(crate) struct Recovered {
    pub last_seq: u64,
    pub last_hash: Hex32,
    pub records: u64,
    /// A torn tail that was cut off and still has to be documented.
    pub torn: Option<TornTail>,
}

pub(crate) struct TornTail {
    pub line: u64,
    pub offset: u64,
    pub bytes: u64,
    pub sha256: Hex32,
}

impl TornTail {
    /// The `run` record appended right after the cut.
    pub(crate) fn event(&self) -> AuditEvent {
        AuditEvent {
            kind: Some(AuditKind::Run),
            outcome: Some(TORN_TAIL_REPAIRED.to_string()),
            message: Some(format!(
                "repaired a torn tail: dropped {} bytes of line {} (from byte offset {}), \
                 an incomplete record left by an interrupted write; sha256 of the dropped bytes: {}",
                self.bytes,
                self.line,
                self.offset,
                self.sha256.as_str()
            )),
            ..AuditEvent::default()
        }
    }
}

/// Read the whole chain of `file` (opened for read and append), checking
/// every record. A torn or garbage last line is truncated away and reported
/// in `torn`; any other damage refuses the open, naming the line.
pub(crate) fn recover(
    file: &mut File,
    path: &Path,
    signer: Option<Signer>,
) -> Result<Recovered, StoreError> {
    let io_error = |what: &str, e: io::Error| {
        StoreError::Audit(format!(
            "{}: cannot {what} the audit log: {e}",
            path.display()
        ))
    };
    let has_signer = signer.is_some();
    file.seek(SeekFrom::Start(0))
        .map_err(|e| io_error("read", e))?;
    let scan = scan(&*file, ChainChecker::new(signer)).map_err(|e| io_error("read", e))?;

    // Checked before any repair: a refused open must leave the file as it was.
    if !has_signer && scan.checker.is_signed() {
        return Err(StoreError::Audit(format!(
            "{}: the audit log is HMAC-signed; open it with its signing key \
             (unsigned records appended now would break its signature)",
            path.display()
        )));
    }

    let mut torn = None;
    if let Some(damage) = scan.damage {
        if !(damage.is_last_line && damage.problem.is_interrupted_write()) {
            return Err(StoreError::Audit(format!(
                "{}:{}: {}; refusing to append to a damaged audit log \
                 (keep it as evidence, check it with `keyrevoke audit verify`, and start a new log file)",
                path.display(),
                damage.line,
                damage.problem
            )));
        }
        let (bytes, sha256) = hash_from(file, damage.offset).map_err(|e| io_error("read", e))?;
        // Durable before anything is appended after the cut, so that a crash
        // now cannot leave the new records behind the old garbage.
        file.set_len(damage.offset)
            .and_then(|()| file.sync_data())
            .map_err(|e| io_error("truncate", e))?;
        torn = Some(TornTail {
            line: damage.line,
            offset: damage.offset,
            bytes,
            sha256,
        });
    }

    let checker = scan.checker;
    Ok(Recovered {
        last_seq: checker.last_seq(),
        last_hash: checker.last_hash(),
        records: checker.records(),
        torn,
    })
}

/// Length and SHA-256 of everything from `offset` to the end of the file.
fn hash_from(file: &mut File, offset: u64) -> io::Result<(u64, Hex32)> {
    file.seek(SeekFrom::Start(offset))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let digest = hasher.finalize();
    Ok((total, Hex32::from_bytes(&digest)))
}
