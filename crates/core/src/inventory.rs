//! Inventory files: CSV with a header row, or JSON Lines, with the fields
//! `exchange, api_key, api_secret, passphrase, account, via, label`.
//!
//! The inventory is streamed, never loaded whole. Every row remembers where it
//! sits in the file ([`SourceRef`]) so a worker can read it again, secrets and
//! all, when its turn comes; nothing secret is kept in between.

use crate::exchange::{ExchangeId, ExchangeSet};
use crate::key::KeyMaterial;
use crate::secret::Secret;
use crate::store::SourceRef;
use serde::Deserialize;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const FIELDS: [&str; 7] = [
    "exchange",
    "api_key",
    "api_secret",
    "passphrase",
    "account",
    "via",
    "label",
];
const EXCHANGE: usize = 0;
const API_KEY: usize = 1;
const API_SECRET: usize = 2;
const PASSPHRASE: usize = 3;
const ACCOUNT: usize = 4;
const VIA: usize = 5;
const LABEL: usize = 6;

/// A field longer than this is refused: no real key, secret or label is.
pub const MAX_FIELD_BYTES: usize = 8 * 1024;
/// A record longer than this is refused before it is parsed.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A problem with the input, naming where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub file: PathBuf,
    /// 1-based line, when the problem is on a line.
    pub line: Option<u64>,
    pub field: Option<String>,
    pub message: String,
}

impl InputError {
    pub fn new(
        file: &Path,
        line: Option<u64>,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        InputError {
            file: file.to_path_buf(),
            line,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for InputError {}

/// A secret field as written: a value, or where to find it.
#[derive(Clone)]
pub enum SecretSpec {
    Value(Secret),
    Env(String),
    File(PathBuf),
}

impl fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSpec::Value(_) => f.write_str("Value([redacted])"),
            SecretSpec::Env(n) => write!(f, "Env({n})"),
            SecretSpec::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

impl SecretSpec {
    /// `env:NAME` and `file:PATH` are references (a relative path is taken
    /// from the folder of the file that names it); anything else is the value.
    pub fn parse(raw: &str, base_dir: &Path) -> SecretSpec {
        if let Some(name) = raw.strip_prefix("env:") {
            SecretSpec::Env(name.trim().to_string())
        } else if let Some(path) = raw.strip_prefix("file:") {
            let p = Path::new(path.trim());
            SecretSpec::File(if p.is_absolute() {
                p.to_path_buf()
            } else {
                base_dir.join(p)
            })
        } else {
            SecretSpec::Value(Secret::new(raw.to_string()))
        }
    }

    pub fn resolve(&self) -> Result<Secret, String> {
        let value = match self {
            SecretSpec::Value(s) => return Ok(s.clone()),
            SecretSpec::Env(name) => Zeroizing::new(
                std::env::var(name)
                    .map_err(|_| format!("environment variable `{name}` is not set"))?,
            ),
            SecretSpec::File(path) => Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read secret file `{}`: {e}", path.display()))?,
            ),
        };
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err("the referenced secret is empty".to_string());
        }
        Ok(Secret::new(trimmed.to_string()))
    }
}

/// One inventory row, parsed but with secret references not yet resolved.
#[derive(Clone, Debug)]
pub struct Row {
    pub source: SourceRef,
    pub exchange: ExchangeId,
    pub api_key: String,
    pub api_secret: Option<SecretSpec>,
    pub passphrase: Option<SecretSpec>,
    pub account: Option<String>,
    pub via: Option<String>,
    pub label: Option<String>,
}

impl Row {
    /// Resolve secret references into key material.
    pub fn material(&self, file: &Path) -> Result<KeyMaterial, Vec<InputError>> {
        let mut errors = Vec::new();
        let mut resolve = |spec: &Option<SecretSpec>, field: &str| match spec {
            None => None,
            Some(s) => match s.resolve() {
                Ok(v) => Some(v),
                Err(msg) => {
                    errors.push(InputError::new(
                        file,
                        Some(self.source.line),
                        Some(field),
                        msg,
                    ));
                    None
                }
            },
        };
        let api_secret = resolve(&self.api_secret, "api_secret");
        let passphrase = resolve(&self.passphrase, "passphrase");
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(KeyMaterial {
            exchange: self.exchange,
            api_key: self.api_key.clone(),
            api_secret,
            passphrase,
            account: self.account.clone(),
            label: self.label.clone(),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// By extension; otherwise by the first non-blank byte.
    pub fn detect(path: &Path) -> std::io::Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv") => return Ok(Format::Csv),
            Some("jsonl" | "ndjson" | "json") => return Ok(Format::JsonLines),
            _ => {}
        }
        let mut head = [0u8; 512];
        let n = File::open(path)?.read(&mut head)?;
        let body = head[..n].strip_prefix(UTF8_BOM).unwrap_or(&head[..n]);
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        Ok(if first == Some(&b'{') {
            Format::JsonLines
        } else {
            Format::Csv
        })
    }
}

/// Maps the file's columns to [`FIELDS`].
#[derive(Debug)]
struct Columns {
    /// For each column of the file, the index into FIELDS.
    field_of_column: Vec<usize>,
    /// A ready CSV field splitter, reset for each record: building one
    /// compiles its state machine, which cost more than the parse itself
    /// when done once per row. (A clone of a built `csv_core::Reader`
    /// misparses, as csv-core 0.1.13 shows: hence one shared reader.)
    splitter: std::sync::Mutex<csv_core::Reader>,
}

/// An opened inventory: streams rows, and re-reads one row by its position.
pub struct Inventory {
    path: PathBuf,
    base_dir: PathBuf,
    format: Format,
    columns: Option<Columns>,
    /// Byte offset where rows start (after a BOM, and for CSV, the header).
    body_start: u64,
    /// Lines before the first row (the CSV header).
    header_lines: u64,
    file: File,
    /// The exchanges rows may name: the connectors registered with the
    /// program.
    exchanges: ExchangeSet,
}

impl Inventory {
    /// Open the inventory at `path`, whose rows may name `exchanges`.
    pub fn open(path: &Path, exchanges: &ExchangeSet) -> Result<Inventory, InputError> {
        let io_err =
            |e: std::io::Error| InputError::new(path, None, None, format!("cannot read: {e}"));
        let format = Format::detect(path).map_err(io_err)?;
        let mut file = File::open(path).map_err(io_err)?;
        let mut bom = [0u8; 3];
        let n = read_up_to(&mut file, &mut bom).map_err(io_err)?;
        let bom_len = if n == 3 && bom == UTF8_BOM { 3 } else { 0 };
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut inv = Inventory {
            path: path.to_path_buf(),
            base_dir,
            format,
            columns: None,
            body_start: bom_len,
            header_lines: 0,
            file,
            exchanges: exchanges.clone(),
        };
        if format == Format::Csv {
            inv.read_csv_header()?;
        }
        Ok(inv)
    }

    /// The SHA-256 of the file's bytes, in hex: which inventory a job was
    /// planned from (workers must read the same one).
    pub fn sha256(&self) -> std::io::Result<String> {
        use sha2::{Digest, Sha256};
        let mut file = File::open(&self.path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> Format {
        self.format
    }

    fn read_csv_header(&mut self) -> Result<(), InputError> {
        let path = self.path.clone();
        let err = |msg: String| InputError::new(&path, Some(1), None, msg);
        self.file
            .seek(SeekFrom::Start(self.body_start))
            .map_err(|e| err(format!("cannot read: {e}")))?;
        let mut reader = BufReader::new(&self.file);
        let mut line = Vec::new();
        // The header is one physical line; a quoted newline in a header is not
        // a header anyone means.
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| err(format!("cannot read: {e}")))?;
        if n == 0 {
            return Err(err(
                "the file is empty: expected a header row naming the columns".into(),
            ));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| err("the header row is not valid UTF-8".into()))?;
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let mut rec = csv::StringRecord::new();
        rdr.read_record(&mut rec)
            .map_err(|e| err(format!("the header row is not valid CSV: {e}")))?;
        let mut field_of_column = Vec::new();
        let mut problems = Vec::new();
        for name in rec.iter() {
            let name = name.trim().to_ascii_lowercase();
            match FIELDS.iter().position(|f| *f == name) {
                Some(i) if field_of_column.contains(&i) => {
                    problems.push(format!("column `{name}` appears twice"))
                }
                Some(i) => field_of_column.push(i),
                None => problems.push(format!(
                    "unknown column `{name}` (expected: {})",
                    FIELDS.join(", ")
                )),
            }
        }
        for required in [EXCHANGE, API_KEY] {
            if !field_of_column.contains(&required) {
                problems.push(format!("missing column `{}`", FIELDS[required]));
            }
        }
        if !problems.is_empty() {
            return Err(err(format!("bad header: {}", problems.join("; "))));
        }
        self.columns = Some(Columns {
            field_of_column,
            splitter: std::sync::Mutex::new(csv_core::Reader::new()),
        });
        self.body_start += n as u64;
        self.header_lines = 1;
        Ok(())
    }

    /// Stream every row in file order. Each item is a row or the problems
    /// found on one record.
    pub fn rows(&self) -> Result<RowIter<'_>, InputError> {
        let mut file = self
            .file
            .try_clone()
            .map_err(|e| InputError::new(&self.path, None, None, format!("cannot read: {e}")))?;
        file.seek(SeekFrom::Start(self.body_start))
            .map_err(|e| InputError::new(&self.path, None, None, format!("cannot read: {e}")))?;
        Ok(RowIter {
            inv: self,
            reader: BufReader::with_capacity(256 * 1024, file),
            offset: self.body_start,
            line: self.header_lines,
            done: false,
        })
    }

    /// Read the row at `source` again (for its secrets).
    pub fn row_at(&self, source: SourceRef) -> Result<Row, Vec<InputError>> {
        let len = (source.len as usize).min(MAX_RECORD_BYTES);
        let mut buf = Zeroizing::new(vec![0u8; len]);
        self.file
            .read_exact_at(&mut buf, source.offset)
            .map_err(|e| {
                vec![InputError::new(
                    &self.path,
                    Some(source.line),
                    None,
                    format!(
                        "cannot re-read the row (was the inventory changed during the job?): {e}"
                    ),
                )]
            })?;
        self.parse_record(&buf, source)
    }

    fn parse_record(&self, bytes: &[u8], source: SourceRef) -> Result<Row, Vec<InputError>> {
        match self.format {
            Format::JsonLines => self.parse_json(bytes, source),
            Format::Csv => {
                let columns = self.columns.as_ref().expect("CSV inventories have columns");
                let problem =
                    |msg: &str| vec![InputError::new(&self.path, Some(source.line), None, msg)];
                match split_csv_record(&columns.splitter, bytes) {
                    SplitRecord::One(rec) => self.parse_csv(&rec, source),
                    SplitRecord::Empty => Err(problem("empty record")),
                    SplitRecord::More => Err(problem(
                        "malformed CSV: this record runs into the next (a quote left open?)",
                    )),
                }
            }
        }
    }

    fn parse_csv(&self, rec: &csv::ByteRecord, source: SourceRef) -> Result<Row, Vec<InputError>> {
        let columns = self.columns.as_ref().expect("CSV inventories have columns");
        let line = Some(source.line);
        if rec.len() != columns.field_of_column.len() {
            return Err(vec![InputError::new(
                &self.path,
                line,
                None,
                format!(
                    "expected {} fields as in the header, found {}",
                    columns.field_of_column.len(),
                    rec.len()
                ),
            )]);
        }
        let mut values: [Option<Zeroizing<String>>; 7] = Default::default();
        let mut errors = Vec::new();
        for (col, raw) in rec.iter().enumerate() {
            let field = columns.field_of_column[col];
            match std::str::from_utf8(raw) {
                Ok(text) => values[field] = Some(Zeroizing::new(text.to_string())),
                Err(_) => errors.push(InputError::new(
                    &self.path,
                    line,
                    Some(FIELDS[field]),
                    "not valid UTF-8",
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.build_row(values, source)
    }

    fn parse_json(&self, bytes: &[u8], source: SourceRef) -> Result<Row, Vec<InputError>> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct JsonRow {
            exchange: Option<String>,
            api_key: Option<String>,
            api_secret: Option<String>,
            passphrase: Option<String>,
            account: Option<String>,
            via: Option<String>,
            label: Option<String>,
        }
        let line = Some(source.line);
        let text = std::str::from_utf8(bytes)
            .map_err(|_| vec![InputError::new(&self.path, line, None, "not valid UTF-8")])?;
        let parsed: JsonRow = serde_json::from_str(text).map_err(|e| {
            // serde_json quotes a mistyped value (a secret given as a number,
            // say): keep the message, drop the value; the column says where.
            vec![InputError::new(
                &self.path,
                line,
                None,
                format!(
                    "not a valid JSON object: {}",
                    without_quoted_values(&e.to_string())
                ),
            )]
        })?;
        let values = [
            parsed.exchange,
            parsed.api_key,
            parsed.api_secret,
            parsed.passphrase,
            parsed.account,
            parsed.via,
            parsed.label,
        ]
        .map(|v| v.map(Zeroizing::new));
        self.build_row(values, source)
    }

    fn build_row(
        &self,
        values: [Option<Zeroizing<String>>; 7],
        source: SourceRef,
    ) -> Result<Row, Vec<InputError>> {
        let line = Some(source.line);
        let mut errors = Vec::new();
        let text = |i: usize| -> Option<&str> {
            values[i]
                .as_ref()
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v
                && v.len() > MAX_FIELD_BYTES
            {
                errors.push(InputError::new(
                    &self.path,
                    line,
                    Some(FIELDS[i]),
                    format!("longer than {MAX_FIELD_BYTES} bytes"),
                ));
            }
        }
        let exchange = match text(EXCHANGE) {
            None => {
                errors.push(InputError::new(&self.path, line, Some("exchange"), "empty"));
                None
            }
            Some(e) => match self.exchanges.parse(e) {
                Ok(x) => Some(x),
                Err(err) => {
                    errors.push(InputError::new(
                        &self.path,
                        line,
                        Some("exchange"),
                        err.to_string(),
                    ));
                    None
                }
            },
        };
        let api_key = match text(API_KEY) {
            None => {
                errors.push(InputError::new(&self.path, line, Some("api_key"), "empty"));
                None
            }
            Some(k) if k.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                errors.push(InputError::new(
                    &self.path,
                    line,
                    Some("api_key"),
                    "contains whitespace or control characters",
                ));
                None
            }
            Some(k) => Some(k.to_string()),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let secret = |i: usize| text(i).map(|v| SecretSpec::parse(v, &self.base_dir));
        Ok(Row {
            source,
            exchange: exchange.expect("checked above"),
            api_key: api_key.expect("checked above"),
            api_secret: secret(API_SECRET),
            passphrase: secret(PASSPHRASE),
            account: text(ACCOUNT).map(str::to_string),
            via: text(VIA).map(str::to_string),
            label: text(LABEL).map(str::to_string),
        })
    }
}

/// serde (TOML and JSON alike) reports a wrong type as "invalid type:
/// integer `the value`, ...":
/// drop the quoted value, which may be a secret. Field names in "unknown
/// field" messages are kept: they are the point of the message.
pub(crate) fn without_quoted_values(message: &str) -> String {
    if !(message.starts_with("invalid type")
        || message.starts_with("invalid value")
        || message.starts_with("invalid length"))
    {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '`' {
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out.replace(" ,", ",")
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let m = file.read(&mut buf[n..])?;
        if m == 0 {
            break;
        }
        n += m;
    }
    Ok(n)
}

/// Splits the file into records: one physical line, or for CSV several when
/// a quoted field holds a line break. Tracks the exact byte range and first
/// line of each record so errors name the right line and rows can be re-read.
pub struct RowIter<'a> {
    inv: &'a Inventory,
    reader: BufReader<File>,
    offset: u64,
    line: u64,
    done: bool,
}

impl RowIter<'_> {
    /// Append one physical line to `buf`, keeping at most `MAX_RECORD_BYTES`
    /// of it (the rest is consumed and counted, and its quotes followed by
    /// `quotes`). Returns bytes consumed.
    fn read_line_capped(
        &mut self,
        buf: &mut Vec<u8>,
        quotes: &mut QuoteState,
    ) -> std::io::Result<usize> {
        let mut consumed = 0;
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(consumed);
            }
            let (chunk, found) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            quotes.feed(chunk);
            let room = (MAX_RECORD_BYTES + 1).saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let n = chunk.len();
            self.reader.consume(n);
            consumed += n;
            if found {
                return Ok(consumed);
            }
        }
    }
}

/// Where a CSV record's bytes leave the parser, read as it reads them: a
/// quote opens a quoted field only at the start of a field (a quote in
/// `John "JJ` is data), and inside one a doubled quote is an escaped quote.
/// Counting every quote instead joined the next rows into one record. Fed
/// chunk by chunk, it follows a record longer than what is kept of it, so
/// that an over-long quoted field is one record however many lines it spans.
#[derive(Clone, Copy, PartialEq)]
enum QuoteState {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

impl QuoteState {
    fn feed(&mut self, bytes: &[u8]) {
        use QuoteState::*;
        for &b in bytes {
            *self = match (*self, b) {
                (Quoted, b'"') => QuoteInQuoted,
                (Quoted, _) => Quoted,
                (QuoteInQuoted, b'"') => Quoted,
                (FieldStart, b'"') => Quoted,
                (_, b',' | b'\n' | b'\r') => FieldStart,
                _ => Unquoted,
            };
        }
    }

    /// Inside a quoted field: the record goes on on the next line.
    fn open(self) -> bool {
        self == QuoteState::Quoted
    }
}

impl Iterator for RowIter<'_> {
    type Item = Result<Row, Vec<InputError>>;

    fn next(&mut self) -> Option<Self::Item> {
        let inv = self.inv;
        loop {
            if self.done {
                return None;
            }
            let mut buf = Zeroizing::new(Vec::new());
            let start = self.offset;
            let first_line = self.line + 1;
            let mut consumed = 0usize;
            let mut quotes = QuoteState::FieldStart;
            loop {
                match self.read_line_capped(&mut buf, &mut quotes) {
                    Ok(0) => {
                        self.done = true;
                        break;
                    }
                    Ok(n) => {
                        consumed += n;
                        self.line += 1;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(vec![InputError::new(
                            &inv.path,
                            Some(first_line),
                            None,
                            format!("cannot read: {e}"),
                        )]));
                    }
                }
                // An over-long record is read to its end too (only its
                // first bytes are kept), so that the rows after it are read
                // from their own start: one error for it, none for its lines.
                if inv.format != Format::Csv || !quotes.open() {
                    break;
                }
            }
            self.offset += consumed as u64;
            if consumed == 0 {
                return None;
            }
            if buf.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let source = SourceRef {
                offset: start,
                len: consumed.min(u32::MAX as usize) as u32,
                line: first_line,
            };
            if consumed > MAX_RECORD_BYTES && !quotes.open() {
                let lines = match self.line - first_line {
                    0 => String::new(),
                    more => format!(" (lines {first_line}-{})", first_line + more),
                };
                return Some(Err(vec![InputError::new(
                    &inv.path,
                    Some(first_line),
                    None,
                    format!("record longer than {MAX_RECORD_BYTES} bytes{lines}"),
                )]));
            }
            if inv.format == Format::Csv && quotes.open() {
                return Some(Err(vec![InputError::new(
                    &inv.path,
                    Some(first_line),
                    None,
                    "malformed CSV: a quoted field is never closed",
                )]));
            }
            return Some(inv.parse_record(&buf, source));
        }
    }
}

/// One CSV field as written: quoted (quotes doubled) when it holds a comma,
/// a quote or a line break. For the CSV files keyrevoke writes.
pub fn csv_field(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\"")).into()
    } else {
        value.into()
    }
}

/// What one record's bytes split into.
enum SplitRecord {
    One(csv::ByteRecord),
    Empty,
    /// Something other than blank space follows the first record: the
    /// record splitter and the CSV parser disagree on where it ends, so
    /// the row is refused rather than half of it silently dropped.
    More,
}

/// Splits one record's bytes into fields (quotes and doubled quotes
/// undone). The bytes should hold exactly one record: the record splitter
/// above found where it ends.
fn split_csv_record(splitter: &std::sync::Mutex<csv_core::Reader>, bytes: &[u8]) -> SplitRecord {
    use csv_core::ReadRecordResult;
    let mut reader = splitter.lock().unwrap_or_else(|e| e.into_inner());
    reader.reset();
    // Fields never outgrow their record; one more byte and a few more ends
    // than needed keep the loop below to a single pass in practice.
    let mut out = Zeroizing::new(vec![0u8; bytes.len() + 1]);
    let mut ends = vec![0usize; 16];
    let (mut input, mut written, mut fields) = (bytes, 0, 0);
    loop {
        let (result, read, wrote, ended) =
            reader.read_record(input, &mut out[written..], &mut ends[fields..]);
        input = &input[read..];
        written += wrote;
        fields += ended;
        match result {
            // Empty input tells the reader the record is complete.
            ReadRecordResult::InputEmpty => input = &[],
            ReadRecordResult::OutputFull => {
                let grown = out.len() * 2;
                out.resize(grown, 0);
            }
            ReadRecordResult::OutputEndsFull => {
                let grown = ends.len() * 2;
                ends.resize(grown, 0);
            }
            ReadRecordResult::Record => break,
            ReadRecordResult::End => return SplitRecord::Empty,
        }
    }
    if !input.iter().all(u8::is_ascii_whitespace) {
        return SplitRecord::More;
    }
    let mut record = csv::ByteRecord::with_capacity(written, fields);
    let mut start = 0;
    for &end in &ends[..fields] {
        record.push_field(&out[start..end]);
        start = end;
    }
    SplitRecord::One(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The exchanges these tests' rows name.
    fn known() -> ExchangeSet {
        ExchangeSet::new(
            ["binance", "bybit", "okx", "kucoin"]
                .map(|id| crate::exchange::ExchangeName::new(id, &[])),
        )
    }

    fn write(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        File::create(&path).unwrap().write_all(bytes).unwrap();
        (dir, path)
    }

    fn all(path: &Path) -> (Vec<Row>, Vec<InputError>) {
        let inv = Inventory::open(path, &known()).unwrap();
        let mut rows = Vec::new();
        let mut errs = Vec::new();
        for r in inv.rows().unwrap() {
            match r {
                Ok(row) => rows.push(row),
                Err(e) => errs.extend(e),
            }
        }
        (rows, errs)
    }

    #[test]
    fn csv_with_bom_crlf_quotes_and_blank_lines() {
        let text = "\u{feff}exchange,api_key,api_secret,label\r\nbybit,K1,S1,\"Alice, main\"\r\n\r\nbybit,K2,,plain\r\n";
        let (_d, path) = write("inv.csv", text.as_bytes());
        let (rows, errs) = all(&path);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].label.as_deref(), Some("Alice, main"));
        assert_eq!(rows[0].source.line, 2);
        assert_eq!(rows[1].source.line, 4);
        assert!(rows[1].api_secret.is_none());
        // Each row can be read again from its recorded position.
        let inv = Inventory::open(&path, &known()).unwrap();
        for r in &rows {
            let again = inv.row_at(r.source).unwrap();
            assert_eq!(again.api_key, r.api_key);
            assert_eq!(again.label, r.label);
        }
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_data_and_no_row_is_lost() {
        // A quote opens a quoted field only at a field's start: counting
        // every quote once merged these rows and dropped two keys unseen.
        let text = "exchange,api_key,api_secret,label\nbybit,K1,S1,John \"JJ\nbybit,K2,S2,x\"y\nbybit,K3,S3,\"quoted \"\"q\"\" label\"\nbybit,K4,S4,plain\n";
        let (_d, path) = write("inv.csv", text.as_bytes());
        let (rows, errs) = all(&path);
        assert!(errs.is_empty(), "{errs:?}");
        let keys: Vec<&str> = rows.iter().map(|r| r.api_key.as_str()).collect();
        assert_eq!(keys, ["K1", "K2", "K3", "K4"]);
        assert_eq!(rows[0].label.as_deref(), Some("John \"JJ"));
        assert_eq!(rows[1].label.as_deref(), Some("x\"y"));
        assert_eq!(rows[2].label.as_deref(), Some("quoted \"q\" label"));
        assert_eq!(rows[3].source.line, 5);
    }

    #[test]
    fn a_quoted_field_may_span_lines() {
        let text =
            "exchange,api_key,api_secret,label\nbybit,K1,S1,\"two\nlines\"\nbybit,K2,S2,after\n";
        let (_d, path) = write("inv.csv", text.as_bytes());
        let (rows, errs) = all(&path);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].label.as_deref(), Some("two\nlines"));
        assert_eq!(rows[1].source.line, 4);
    }

    #[test]
    fn csv_errors_name_line_and_field() {
        let mut text =
            b"exchange,api_key,api_secret\nbitmex,K1,S\nbybit,,S\nbybit,K3,\xff\xfe\nbybit,K4\n"
                .to_vec();
        text.extend_from_slice(b"bybit,K5,S5\n");
        let (_d, path) = write("inv.csv", &text);
        let (rows, errs) = all(&path);
        assert_eq!(rows.len(), 1, "only K5 is valid");
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            shown[0].contains("inv.csv:2: field `exchange`: unknown exchange `bitmex`"),
            "{shown:?}"
        );
        assert!(shown[1].contains(":3: field `api_key`: empty"), "{shown:?}");
        assert!(
            shown[2].contains(":4: field `api_secret`: not valid UTF-8"),
            "{shown:?}"
        );
        assert!(shown[3].contains(":5: expected 3 fields"), "{shown:?}");
    }

    #[test]
    fn a_bad_header_is_one_clear_error() {
        let (_d, path) = write("inv.csv", b"exchange,key,secret\nbybit,K,S\n");
        let err = Inventory::open(&path, &known()).err().unwrap().to_string();
        assert!(err.contains("inv.csv:1"), "{err}");
        assert!(err.contains("unknown column `key`"), "{err}");
        assert!(err.contains("missing column `api_key`"), "{err}");
    }

    #[test]
    fn json_lines_rows_and_errors() {
        let text = "{\"exchange\":\"bybit\",\"api_key\":\"K1\",\"api_secret\":\"env:NOPE_NOT_SET_123\"}\n\n{\"exchange\":\"bybit\",\"api_key\":\"K2\",\"colour\":\"red\"}\n{not json\n";
        let (_d, path) = write("inv.jsonl", text.as_bytes());
        let (rows, errs) = all(&path);
        assert_eq!(rows.len(), 1);
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].line, Some(3));
        assert!(
            errs[0].message.contains("unknown field `colour`"),
            "{}",
            errs[0]
        );
        assert_eq!(errs[1].line, Some(4));
        let unresolved = rows[0].material(&path).unwrap_err();
        assert_eq!(unresolved[0].field.as_deref(), Some("api_secret"));
        assert!(unresolved[0].message.contains("NOPE_NOT_SET_123"));
        let inv = Inventory::open(&path, &known()).unwrap();
        assert_eq!(inv.row_at(rows[0].source).unwrap().api_key, "K1");
    }

    #[test]
    fn a_mistyped_secret_in_json_lines_is_not_echoed_in_the_error() {
        let text = "{\"exchange\":\"bybit\",\"api_key\":\"K1\",\"api_secret\":987654321987}\n";
        let (_d, path) = write("inv.jsonl", text.as_bytes());
        let (rows, errs) = all(&path);
        assert!(rows.is_empty());
        let shown = errs[0].to_string();
        assert!(shown.contains("invalid type"), "{shown}");
        assert!(!shown.contains("987654321987"), "the value leaked: {shown}");
    }

    #[test]
    fn secret_references_resolve_from_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.txt"), "file-secret\n").unwrap();
        let spec = SecretSpec::parse("file:s.txt", dir.path());
        assert_eq!(spec.resolve().unwrap().expose(), "file-secret");
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("KEYREVOKE_TEST_SECRET_REF", "env-secret") };
        let spec = SecretSpec::parse("env:KEYREVOKE_TEST_SECRET_REF", dir.path());
        assert_eq!(spec.resolve().unwrap().expose(), "env-secret");
        assert_eq!(
            format!("{:?}", SecretSpec::parse("plain", dir.path())),
            "Value([redacted])"
        );
    }

    #[test]
    fn an_over_long_quoted_field_is_one_error_and_the_next_row_is_read() {
        let mut text = b"exchange,api_key,label\nbybit,K1,\"".to_vec();
        for _ in 0..2000 {
            text.extend(std::iter::repeat_n(b'x', 500));
            text.push(b'\n');
        }
        text.extend(b"end\"\nbybit,K2,fine\n");
        let (_d, path) = write("inv.csv", &text);
        let (rows, errs) = all(&path);
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            errs.len(),
            1,
            "one error for the record; the first: {:?}",
            &shown[..shown.len().min(3)]
        );
        assert!(
            shown[0].contains(":2: record longer than") && shown[0].contains("lines 2-2002"),
            "{shown:?}"
        );
        assert_eq!(rows.len(), 1, "the row after it is read");
        assert_eq!(rows[0].api_key, "K2");
    }

    #[test]
    fn huge_fields_are_refused() {
        let mut text = b"exchange,api_key,label\nbybit,K1,".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_FIELD_BYTES + 1));
        text.push(b'\n');
        let (_d, path) = write("inv.csv", &text);
        let (rows, errs) = all(&path);
        assert!(rows.is_empty());
        assert_eq!(errs[0].field.as_deref(), Some("label"));
    }
}
