//! Checking a log: the per-line chain rules, the streaming scan that
//! [`crate::AuditLog::open`] also uses, and the public [`verify`].

use crate::record::{Hex32, Signer, StoredRecord, TORN_TAIL_REPAIRED};
use keyrevoke_core::Secret;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// What [`verify`] found in a sound log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub records: u64,
    /// 0 for an empty log.
    pub last_seq: u64,
    /// The chain head; [`crate::GENESIS_PREV`] for an empty log.
    pub last_hash: String,
    /// Every record carries an `hmac` (and, when a key was given, every one
    /// checked). False for an empty log.
    pub signed: bool,
    /// How many torn-tail repair records the log holds (each marks a crash
    /// mid-write that a later open cut off).
    pub repairs: u64,
}

/// Why a line breaks the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("empty line")]
    EmptyLine,
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("not an audit record: {0}")]
    NotARecord(String),
    #[error("hash mismatch: the record was edited")]
    HashMismatch,
    #[error("not in canonical form: the record was re-encoded or edited")]
    NotCanonical,
    #[error(
        "seq gap: expected seq {expected}, found {found}: a record was deleted, or records were reordered"
    )]
    SeqGap { expected: u64, found: u64 },
    #[error(
        "seq out of order: expected seq {expected}, found {found}: a record was inserted, or records were reordered"
    )]
    SeqOutOfOrder { expected: u64, found: u64 },
    #[error(
        "prev mismatch: prev is not the hash of the record before: a record was deleted, inserted or replaced"
    )]
    PrevMismatch,
    #[error(
        "prev mismatch: the first record's prev is not 64 zeros: the beginning of the log was cut off or replaced"
    )]
    FirstPrevNotGenesis,
    #[error("hmac missing: the record is not signed, but a signing key was given")]
    HmacMissing,
    #[error("hmac mismatch: the record was altered, or signed with another key")]
    HmacMismatch,
    #[error("hmac is not 64 lowercase hex digits: the record was edited")]
    HmacMalformed,
    #[error("hmac missing: the records before this one are signed")]
    SignatureDropped,
    #[error("unexpected hmac: the records before this one are not signed")]
    SignatureAppeared,
    #[error(
        "torn last line: {bytes} bytes without a trailing newline (an interrupted write); opening the log for append repairs it"
    )]
    TornLastLine { bytes: u64 },
}

impl Problem {
    /// Damage an interrupted append can leave as the very last line: a line
    /// without its newline, or garbage a file system exposed after a crash
    /// (zeros, a partial block). A line that parses as JSON but breaks the
    /// chain is an edit, not a crash, and is never cut off.
    pub(crate) fn is_interrupted_write(&self) -> bool {
        matches!(
            self,
            Problem::TornLastLine { .. } | Problem::InvalidJson(_) | Problem::EmptyLine
        )
    }
}

/// A log that fails verification, or cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{}:{line}: {problem}", path.display())]
    Record {
        path: PathBuf,
        /// 1-based.
        line: u64,
        problem: Problem,
    },
    #[error("{}: cannot read the audit log: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("{0}")]
    BadKey(String),
}

impl VerifyError {
    /// The 1-based line at fault, if the error is about a line.
    pub fn line(&self) -> Option<u64> {
        match self {
            VerifyError::Record { line, .. } => Some(*line),
            _ => None,
        }
    }

    pub fn problem(&self) -> Option<&Problem> {
        match self {
            VerifyError::Record { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// Check that `path` is an intact chain: every line a canonical record whose
/// hash matches its content, seq 1, 2, 3… without gaps, each `prev` the hash
/// of the line before, and (with a key) every `hmac` valid.
///
/// # Errors
///
/// [`VerifyError::Record`] for the first line that breaks the chain (its
/// Display reads `audit.jsonl:17: hash mismatch: the record was edited`),
/// [`VerifyError::Unreadable`] when the file cannot be read, and
/// [`VerifyError::BadKey`] for an empty key.
pub fn verify(path: &Path, signing_key: Option<&Secret>) -> Result<VerifyReport, VerifyError> {
    let signer = signing_key
        .map(Signer::new)
        .transpose()
        .map_err(VerifyError::BadKey)?;
    let unreadable = |source| VerifyError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(unreadable)?;
    let scan = scan(file, ChainChecker::new(signer)).map_err(unreadable)?;
    match scan.damage {
        Some(damage) => Err(VerifyError::Record {
            path: path.to_path_buf(),
            line: damage.line,
            problem: damage.problem,
        }),
        None => Ok(scan.checker.report()),
    }
}

/// The chain rules, applied one line at a time.
pub(crate) struct ChainChecker {
    signer: Option<Signer>,
    last_seq: u64,
    last_hash: Hex32,
    records: u64,
    repairs: u64,
    /// Whether the first record carried an hmac; all others must agree.
    signed: Option<bool>,
    scratch: Vec<u8>,
}

impl ChainChecker {
    pub(crate) fn new(signer: Option<Signer>) -> ChainChecker {
        ChainChecker {
            signer,
            last_seq: 0,
            last_hash: Hex32::GENESIS,
            records: 0,
            repairs: 0,
            signed: None,
            scratch: Vec::with_capacity(1024),
        }
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub(crate) fn last_hash(&self) -> Hex32 {
        self.last_hash
    }

    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    pub(crate) fn is_signed(&self) -> bool {
        self.signed == Some(true)
    }

    pub(crate) fn report(&self) -> VerifyReport {
        VerifyReport {
            records: self.records,
            last_seq: self.last_seq,
            last_hash: self.last_hash.as_str().to_string(),
            signed: self.is_signed(),
            repairs: self.repairs,
        }
    }

    /// Check one line (without its `\n`) as the next record of the chain.
    pub(crate) fn check_line(&mut self, line: &[u8]) -> Result<(), Problem> {
        if line.is_empty() {
            return Err(Problem::EmptyLine);
        }
        let record: StoredRecord<'_> = serde_json::from_slice(line).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => Problem::NotARecord(e.to_string()),
                Category::Io | Category::Syntax | Category::Eof => {
                    Problem::InvalidJson(e.to_string())
                }
            }
        })?;

        // Content first: an edited record is reported as such, even when the
        // edit also breaks the numbering.
        let computed = record.rehash(&mut self.scratch);
        if Hex32::parse(&record.hash) != Some(computed) {
            return Err(Problem::HashMismatch);
        }
        if self.scratch.as_slice() != line {
            return Err(Problem::NotCanonical);
        }

        let expected = self.last_seq + 1;
        if record.seq > expected {
            return Err(Problem::SeqGap {
                expected,
                found: record.seq,
            });
        }
        if record.seq < expected {
            return Err(Problem::SeqOutOfOrder {
                expected,
                found: record.seq,
            });
        }
        if Hex32::parse(&record.prev) != Some(self.last_hash) {
            return Err(if self.last_seq == 0 {
                Problem::FirstPrevNotGenesis
            } else {
                Problem::PrevMismatch
            });
        }

        let has_hmac = record.hmac.is_some();
        match (&self.signer, record.hmac.as_deref()) {
            (Some(_), None) => return Err(Problem::HmacMissing),
            (Some(signer), Some(hmac)) => {
                if !signer.verifies(&computed, hmac) {
                    return Err(Problem::HmacMismatch);
                }
            }
            (None, Some(hmac)) if Hex32::parse(hmac).is_none() => {
                return Err(Problem::HmacMalformed);
            }
            (None, _) => match self.signed {
                Some(true) if !has_hmac => return Err(Problem::SignatureDropped),
                Some(false) if has_hmac => return Err(Problem::SignatureAppeared),
                _ => {}
            },
        }
        self.signed.get_or_insert(has_hmac);

        if record.kind.as_deref() == Some("run")
            && record.outcome.as_deref() == Some(TORN_TAIL_REPAIRED)
        {
            self.repairs += 1;
        }
        self.last_seq = record.seq;
        self.last_hash = computed;
        self.records += 1;
        Ok(())
    }
}

/// The first line that breaks the chain.
pub(crate) struct Damage {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset where the line starts.
    pub offset: u64,
    pub problem: Problem,
    /// Nothing follows this line.
    pub is_last_line: bool,
}

pub(crate) struct Scan {
    pub checker: ChainChecker,
    /// Set when a line breaks the chain; scanning stops there.
    pub damage: Option<Damage>,
}

/// Run `checker` over every line of `log`, streaming: a log of millions of
/// records is never held in memory.
pub(crate) fn scan(log: impl Read, mut checker: ChainChecker) -> io::Result<Scan> {
    let mut reader = BufReader::with_capacity(1 << 20, log);
    let mut line = Vec::with_capacity(1024);
    let mut offset = 0u64;
    let mut line_no = 0u64;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(Scan {
                checker,
                damage: None,
            });
        }
        line_no += 1;
        let problem = match line.strip_suffix(b"\n") {
            None => Some(Problem::TornLastLine { bytes: read as u64 }),
            Some(content) => checker.check_line(content).err(),
        };
        if let Some(problem) = problem {
            let is_last_line = reader.fill_buf()?.is_empty();
            return Ok(Scan {
                checker,
                damage: Some(Damage {
                    line: line_no,
                    offset,
                    problem,
                    is_last_line,
                }),
            });
        }
        offset += read as u64;
    }
}
