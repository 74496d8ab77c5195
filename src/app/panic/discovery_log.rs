//! The discovery journal: what each credential's listing found, page by
//! page, durable before the next page is asked for.
//!
//! Two append-only files in the run's folder, both mode 0600:
//! - `discovered.jsonl`: one inventory row per key found (`exchange`,
//!   `api_key`, `account`, `via`, `label`; never a secret). It is an
//!   ordinary inventory: the revocation reads it like any other, and
//!   `keyrevoke revoke` accepts it as is.
//! - `discovery.jsonl`: one record per page listed (credential, page, the
//!   next cursor, the sub accounts it named).
//!
//! A page's keys are written before its record: a crash between the two
//! lists that one page again, and the keys it returns are already known, so
//! none is written twice. Replaying the records rebuilds what each
//! credential still has to list, so a resumed run never lists again a page
//! that was recorded.
//!
//! A journal that machines share (PostgreSQL) keeps the same lines too,
//! each page's in one transaction before the files are written: a run
//! resumed in another folder rebuilds both files from it, byte for byte,
//! so the journal's entries still find their rows by offset.

use keyrevoke_core::discovery::{Page, PageRequest};
use keyrevoke_core::store::DiscoveryLine;
use keyrevoke_core::{ExchangeId, JobStore};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const KEYS_FILE: &str = "discovered.jsonl";
pub const PAGES_FILE: &str = "discovery.jsonl";

/// One discovered key as an inventory row.
#[derive(Serialize, Deserialize)]
struct KeyRow {
    exchange: ExchangeId,
    api_key: String,
    account: String,
    /// The credential that found the key, and that will delete it.
    via: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
}

/// One page listed.
#[derive(Serialize, Deserialize)]
struct PageRecord {
    credential: String,
    page: PageRequest,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    accounts: Vec<String>,
    /// Keys the page returned (including ones already known).
    #[serde(default)]
    keys: u64,
}

pub struct DiscoveryLog {
    keys_path: PathBuf,
    keys: File,
    pages: File,
    known: HashSet<(ExchangeId, String)>,
    /// Per credential, the pages still to list, in order.
    pending: BTreeMap<String, VecDeque<PageRequest>>,
    /// The shared journal that keeps these lines too, if it does.
    shared: Option<Arc<dyn JobStore>>,
}

impl DiscoveryLog {
    /// Open (or resume) the journal in `dir` for these credentials (names),
    /// each starting from the first page of its sub accounts.
    /// When `store` keeps the discovery journal, both files are rebuilt
    /// from it first.
    pub async fn open_with(
        dir: &Path,
        credentials: &[String],
        store: Arc<dyn JobStore>,
    ) -> io::Result<DiscoveryLog> {
        let Some(lines) = store.discovery_lines().await.map_err(io::Error::other)? else {
            return Self::open_files(dir, credentials);
        };
        let (mut keys, mut pages) = (String::new(), String::new());
        let mut known = HashSet::new();
        for line in lines {
            match line {
                DiscoveryLine::Key(l) => {
                    // A retried append may have left a line twice.
                    let row: KeyRow = serde_json::from_str(&l).map_err(corrupt(KEYS_FILE))?;
                    if known.insert((row.exchange, row.api_key)) {
                        keys.push_str(&l);
                        keys.push('\n');
                    }
                }
                DiscoveryLine::Page(l) => {
                    pages.push_str(&l);
                    pages.push('\n');
                }
            }
        }
        write_private(&dir.join(KEYS_FILE), &keys)?;
        write_private(&dir.join(PAGES_FILE), &pages)?;
        let mut log = Self::open_files(dir, credentials)?;
        log.shared = Some(store);
        Ok(log)
    }

    fn open_files(dir: &Path, credentials: &[String]) -> io::Result<DiscoveryLog> {
        let keys_path = dir.join(KEYS_FILE);
        let pages_path = dir.join(PAGES_FILE);
        let key_lines = read_complete_lines(&keys_path)?;
        let page_lines = read_complete_lines(&pages_path)?;
        let mut log = DiscoveryLog {
            keys: append_private(&keys_path)?,
            pages: append_private(&pages_path)?,
            keys_path,
            known: HashSet::new(),
            pending: credentials
                .iter()
                .map(|c| (c.clone(), VecDeque::from([PageRequest::start()])))
                .collect(),
            shared: None,
        };
        for line in key_lines {
            let row: KeyRow = serde_json::from_str(&line).map_err(corrupt(KEYS_FILE))?;
            log.known.insert((row.exchange, row.api_key));
        }
        for line in page_lines {
            let record: PageRecord = serde_json::from_str(&line).map_err(corrupt(PAGES_FILE))?;
            log.advance(&record);
        }
        Ok(log)
    }

    /// The next page `credential` has to list; none once it is done.
    pub fn next_page(&self, credential: &str) -> Option<PageRequest> {
        self.pending.get(credential)?.front().cloned()
    }

    /// Record a listed page: its new keys first, then the page itself, each
    /// durable before this returns (in the shared journal first, when there
    /// is one). Returns how many keys were new.
    pub async fn record(
        &mut self,
        credential: &str,
        exchange: ExchangeId,
        request: &PageRequest,
        page: &Page,
    ) -> io::Result<u64> {
        let mut lines = Vec::new();
        for k in &page.keys {
            if !self.known.insert((exchange, k.api_key.clone())) {
                continue;
            }
            let row = KeyRow {
                exchange,
                api_key: k.api_key.clone(),
                account: k.account.clone(),
                via: credential.to_string(),
                label: k.label.clone(),
            };
            lines.push(DiscoveryLine::Key(
                serde_json::to_string(&row).expect("a row serializes"),
            ));
        }
        let new = lines.len() as u64;
        let record = PageRecord {
            credential: credential.to_string(),
            page: request.clone(),
            next: page.next.clone(),
            accounts: page.accounts.clone(),
            keys: page.keys.len() as u64,
        };
        lines.push(DiscoveryLine::Page(
            serde_json::to_string(&record).expect("a record serializes"),
        ));
        if let Some(store) = &self.shared {
            store
                .append_discovery(&lines)
                .await
                .map_err(io::Error::other)?;
        }
        let (mut rows, mut page_line) = (String::new(), String::new());
        for line in &lines {
            let (text, into) = match line {
                DiscoveryLine::Key(l) => (l, &mut rows),
                DiscoveryLine::Page(l) => (l, &mut page_line),
            };
            into.push_str(text);
            into.push('\n');
        }
        if !rows.is_empty() {
            self.keys.write_all(rows.as_bytes())?;
            self.keys.sync_data()?;
        }
        self.pages.write_all(page_line.as_bytes())?;
        self.pages.sync_data()?;
        self.advance(&record);
        Ok(new)
    }

    /// What a recorded page changes: it is done, its sub accounts' keys are
    /// to be listed, and its listing continues from the next cursor.
    fn advance(&mut self, record: &PageRecord) {
        let Some(queue) = self.pending.get_mut(&record.credential) else {
            // A credential no longer in the config: nothing left to list.
            return;
        };
        let Some(at) = queue.iter().position(|p| *p == record.page) else {
            // Not pending: a line a retried append left twice.
            return;
        };
        queue.remove(at);
        // A cursor that repeats the one asked for would list forever.
        if let Some(next) = record
            .next
            .as_ref()
            .filter(|n| Some(*n) != record.page.cursor.as_ref())
        {
            queue.push_front(record.page.continued(next.clone()));
        }
        for account in &record.accounts {
            let p = PageRequest::keys_of(account);
            if !queue.contains(&p) {
                queue.push_back(p);
            }
        }
    }

    pub fn keys_path(&self) -> &Path {
        &self.keys_path
    }
}

fn corrupt(file: &'static str) -> impl Fn(serde_json::Error) -> io::Error {
    move |e| io::Error::new(io::ErrorKind::InvalidData, format!("{file}: {e}"))
}

/// Replace the file with `text`, mode 0600, durably.
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_data()
}

fn append_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// The file's complete lines; a torn last line (a crash in mid-write) is
/// cut off the file, since its page will be listed again.
fn read_complete_lines(path: &Path) -> io::Result<Vec<String>> {
    let mut text = String::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_string(&mut text)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    }
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(complete as u64)?;
        f.sync_data()?;
    }
    Ok(text[..complete]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::discovery::FoundKey;

    fn page(keys: &[&str], accounts: &[&str], next: Option<&str>) -> Page {
        Page {
            keys: keys
                .iter()
                .map(|k| FoundKey {
                    api_key: k.to_string(),
                    account: "sub1".into(),
                    label: None,
                })
                .collect(),
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            next: next.map(str::to_string),
            reply: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_reopened_log_continues_after_the_last_recorded_page() {
        let dir = tempfile::tempdir().unwrap();
        let creds = vec!["m".to_string()];
        let mut log = DiscoveryLog::open_files(dir.path(), &creds).unwrap();
        let start = log.next_page("m").unwrap();
        assert_eq!(start, PageRequest::start());
        log.record(
            "m",
            ExchangeId::new("bybit"),
            &start,
            &page(&[], &["sub1", "sub2"], None),
        )
        .await
        .unwrap();
        let first = log.next_page("m").unwrap();
        assert_eq!(first, PageRequest::keys_of("sub1"));
        log.record(
            "m",
            ExchangeId::new("bybit"),
            &first,
            &page(&["K1", "K2"], &[], Some("2")),
        )
        .await
        .unwrap();
        drop(log);

        let mut log = DiscoveryLog::open_files(dir.path(), &creds).unwrap();
        assert_eq!(
            log.next_page("m").unwrap(),
            PageRequest::keys_of("sub1").continued("2".into()),
            "the listing goes on from the recorded cursor"
        );
        // The same keys again (a page listed twice after a crash) are not new.
        let again = log.next_page("m").unwrap();
        let new = log
            .record(
                "m",
                ExchangeId::new("bybit"),
                &again,
                &page(&["K2", "K3"], &[], None),
            )
            .await
            .unwrap();
        assert_eq!(new, 1);
        assert_eq!(log.next_page("m").unwrap(), PageRequest::keys_of("sub2"));
        let rows = std::fs::read_to_string(dir.path().join(KEYS_FILE)).unwrap();
        assert_eq!(rows.lines().count(), 3, "{rows}");
    }

    #[tokio::test]
    async fn a_page_recorded_twice_is_listed_on_from_once() {
        // A shared journal's retried append may leave a page's lines twice.
        let dir = tempfile::tempdir().unwrap();
        let creds = vec!["m".to_string()];
        let mut log = DiscoveryLog::open_files(dir.path(), &creds).unwrap();
        let start = log.next_page("m").unwrap();
        log.record(
            "m",
            ExchangeId::new("bybit"),
            &start,
            &page(&[], &[], Some("2")),
        )
        .await
        .unwrap();
        drop(log);
        let pages = dir.path().join(PAGES_FILE);
        let line = std::fs::read_to_string(&pages).unwrap();
        std::fs::write(&pages, format!("{line}{line}")).unwrap();
        let mut log = DiscoveryLog::open_files(dir.path(), &creds).unwrap();
        let next = log.next_page("m").unwrap();
        assert_eq!(next, PageRequest::start().continued("2".into()));
        log.record("m", ExchangeId::new("bybit"), &next, &page(&[], &[], None))
            .await
            .unwrap();
        assert_eq!(log.next_page("m"), None, "the second page is listed once");
    }

    #[tokio::test]
    async fn a_torn_last_line_is_cut_and_its_page_listed_again() {
        let dir = tempfile::tempdir().unwrap();
        let creds = vec!["m".to_string()];
        let mut log = DiscoveryLog::open_files(dir.path(), &creds).unwrap();
        let start = log.next_page("m").unwrap();
        log.record(
            "m",
            ExchangeId::new("bybit"),
            &start,
            &page(&[], &["sub1"], None),
        )
        .await
        .unwrap();
        drop(log);
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(PAGES_FILE))
            .unwrap();
        f.write_all(br#"{"credential":"m","page":{"kind":"sub_acc"#)
            .unwrap();
        let log = DiscoveryLog::open_files(dir.path(), &creds).unwrap();
        assert_eq!(log.next_page("m").unwrap(), PageRequest::keys_of("sub1"));
        let text = std::fs::read_to_string(dir.path().join(PAGES_FILE)).unwrap();
        assert!(text.ends_with('\n') && text.lines().count() == 1, "{text}");
    }
}
