//! The embedded journal: one SQLite file per job, one worker process.
//!
//! Durability: WAL with `synchronous=FULL`, so a commit is on disk (the WAL
//! fsynced) before it returns. Every write goes through one connection;
//! reads use their own connections, which WAL lets run beside the writer.

use crate::codec::{
    DEFAULT_LEASE, TIMING_COLUMNS, claimed_in_order, db_error, decode_entry, decode_timing,
    first_occurrences, new_owner_id, now_millis, parse_exchange,
};
use crate::group_commit::{CommitStats, GroupCommit, TransitionWriter};
use crate::schema::{
    SCHEMA_VERSION, SQLITE_DDL, SQLITE_MIGRATIONS, UNFINISHED_STATES_SQL, entry_select_list,
    migration_from,
};
use async_trait::async_trait;
use keyrevoke_core::exchange::ExchangeId;
use keyrevoke_core::model::State;
use keyrevoke_core::store::{
    Counts, EnqueueStats, EntryId, JobEntry, JobStore, KeyTiming, NewEntry, StoreError, Transition,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a writer waits for SQLite's lock (e.g. a checkpoint or an
/// operator's `sqlite3` shell) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const READ_CONNECTIONS: u32 = 4;
/// The writer's page cache: twice SQLite's default, so the hot pages of the
/// indexes stay in memory, and bounded, so memory stays flat however large
/// the job (64 MiB made peak RSS grow from 37 to 54 MiB between 20,000 and
/// 100,000 keys; enqueue and claims are no slower for it, the OS page cache
/// serves the rest).
const WRITER_CACHE_KIB: u32 = 4 * 1024;
/// Rows per multi-row statement; keeps binds under SQLite's 32,766 limit.
const ENQUEUE_ROWS_PER_STATEMENT: usize = 1000;
const RECORD_ROWS_PER_STATEMENT: usize = 2000;
const RELEASE_IDS_PER_STATEMENT: usize = 10_000;
/// Write transactions take the write lock up front, so that one never has
/// to upgrade from a read lock (which SQLite may refuse with SQLITE_BUSY).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// A job journal in one SQLite file.
/// Named records live in `meta` under this prefix, apart from the
/// journal's own keys (`schema_version`).
const RECORD_PREFIX: &str = "record:";

pub struct SqliteJournal {
    path: PathBuf,
    /// One connection: SQLite serializes writers anyway, and one connection
    /// means this process never waits on itself for the lock.
    writer: SqlitePool,
    readers: SqlitePool,
    owner: Arc<str>,
    lease: Duration,
    commits: GroupCommit,
    _exclusive: ExclusiveLock,
}

impl SqliteJournal {
    /// Opens (creating if absent, mode 0600) the journal at `path`.
    ///
    /// Refuses a journal that another open [`SqliteJournal`] (in any
    /// process) holds: opening clears every lease, which is only safe when
    /// this is the sole worker.
    pub async fn open(path: &Path) -> Result<SqliteJournal, StoreError> {
        Self::open_with_lease(path, DEFAULT_LEASE).await
    }

    /// As [`SqliteJournal::open`], with claims leased for `lease` (tests of
    /// lease expiry wait out a short one).
    pub async fn open_with_lease(
        path: &Path,
        lease: Duration,
    ) -> Result<SqliteJournal, StoreError> {
        create_private_file(path)?;
        let exclusive = ExclusiveLock::acquire(path)?;

        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                options
                    .clone()
                    .pragma("cache_size", format!("-{WRITER_CACHE_KIB}")),
            )
            .await
            .map_err(db_error("opening the journal"))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(db_error("opening the journal for reading"))?;

        prepare_schema(&writer).await?;
        // A previous run of this (sole) worker is gone, and its leases with it.
        sqlx::query(
            "UPDATE entries SET lease_owner = NULL, lease_expires = NULL
             WHERE lease_owner IS NOT NULL",
        )
        .execute(&writer)
        .await
        .map_err(db_error("clearing stale leases"))?;

        let owner: Arc<str> = new_owner_id().into();
        let commits = GroupCommit::spawn(SqliteTransitionWriter {
            pool: writer.clone(),
            owner: owner.clone(),
            lease,
        });
        Ok(SqliteJournal {
            path: path.to_path_buf(),
            writer,
            readers,
            owner,
            lease,
            commits,
            _exclusive: exclusive,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This journal's lease owner id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Closes the connections and waits for them, checkpointing the WAL.
    /// Dropping the journal also closes them, in the background.
    pub async fn close(self) {
        let SqliteJournal {
            writer,
            readers,
            commits,
            _exclusive,
            ..
        } = self;
        // The writer task ends once every submitter is gone.
        drop(commits);
        readers.close().await;
        writer.close().await;
        drop(_exclusive);
    }

    /// How many commits `record` has made for how many transitions: their
    /// ratio is the group-commit batch size.
    pub fn commit_stats(&self) -> &CommitStats {
        self.commits.stats()
    }

    /// Set (`Some`: renew until then) or clear (`None`: release) this
    /// journal's own leases on `ids`, in one transaction.
    async fn update_own_leases(
        &self,
        ids: &[EntryId],
        expires: Option<i64>,
        doing: &'static str,
    ) -> Result<(), StoreError> {
        let mut tx = self
            .writer
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db_error(doing))?;
        for chunk in ids.chunks(RELEASE_IDS_PER_STATEMENT) {
            let mut query = QueryBuilder::<Sqlite>::new("UPDATE entries SET ");
            match expires {
                Some(t) => query.push("lease_expires = ").push_bind(t),
                None => query.push("lease_owner = NULL, lease_expires = NULL"),
            };
            query
                .push(" WHERE lease_owner = ")
                .push_bind(&*self.owner)
                .push(" AND id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            query.push(")");
            query
                .build()
                .persistent(false)
                .execute(&mut *tx)
                .await
                .map_err(db_error(doing))?;
        }
        tx.commit().await.map_err(db_error(doing))
    }

    fn lease_millis(&self) -> i64 {
        self.lease.as_millis() as i64
    }
}

/// Creates the journal file readable by its owner only, before SQLite does
/// (SQLite would create it with the umask's mode, usually 0644). The WAL and
/// shared-memory files SQLite adds later copy this file's mode.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            StoreError::Journal(format!("cannot create journal {}: {e}", path.display()))
        })?;
    if let Ok(meta) = file.metadata() {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "journal is readable by other users; consider chmod 600"
            );
        }
    }
    Ok(())
}

/// An exclusive `flock` on `<journal>.lock`, held while the journal is open.
///
/// A separate file, because closing any descriptor of the database file
/// itself would drop the POSIX locks SQLite holds on it.
struct ExclusiveLock {
    _file: File,
}

impl ExclusiveLock {
    fn acquire(journal: &Path) -> Result<Self, StoreError> {
        let mut lock_path = journal.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| {
                StoreError::Journal(format!("cannot create {}: {e}", lock_path.display()))
            })?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            return Err(StoreError::Journal(
                if err.kind() == io::ErrorKind::WouldBlock {
                    format!(
                        "journal {} is already open in another keyrevoke process \
                         (SQLite journals take one worker; use PostgreSQL for several)",
                        journal.display()
                    )
                } else {
                    format!("cannot lock {}: {err}", lock_path.display())
                },
            ));
        }
        Ok(ExclusiveLock { _file: file })
    }
}

async fn prepare_schema(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut tx = pool
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(db_error("preparing the journal"))?;
    for ddl in SQLITE_DDL {
        sqlx::query(ddl)
            .execute(&mut *tx)
            .await
            .map_err(db_error("creating the journal tables"))?;
    }
    sqlx::query(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?), ('created_at', ?)",
    )
    .bind(SCHEMA_VERSION.to_string())
    .bind(now_millis().to_string())
    .execute(&mut *tx)
    .await
    .map_err(db_error("writing journal metadata"))?;
    let version: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'schema_version'")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("reading journal metadata"))?;
    let migration = migration_from(&version, SQLITE_MIGRATIONS).map_err(StoreError::Journal)?;
    if !migration.is_empty() {
        for sql in migration {
            sqlx::query(sql)
                .execute(&mut *tx)
                .await
                .map_err(db_error("migrating the journal"))?;
        }
        sqlx::query("UPDATE meta SET value = ? WHERE key = 'schema_version'")
            .bind(SCHEMA_VERSION.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error("migrating the journal"))?;
    }
    tx.commit().await.map_err(db_error("preparing the journal"))
}

/// Applies group-committed transitions (see [`crate::group_commit`]).
struct SqliteTransitionWriter {
    pool: SqlitePool,
    owner: Arc<str>,
    lease: Duration,
}

#[async_trait]
impl TransitionWriter for SqliteTransitionWriter {
    async fn commit_rounds(
        &self,
        rounds: &[Vec<Transition>],
    ) -> Result<Vec<HashSet<EntryId>>, StoreError> {
        let now = now_millis();
        let lease_expires = now + self.lease.as_millis() as i64;
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db_error("recording transitions"))?;
        let mut landed = Vec::with_capacity(rounds.len());
        for round in rounds {
            let mut ids = HashSet::with_capacity(round.len());
            for chunk in round.chunks(RECORD_ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::<Sqlite>::new(
                    "WITH v (id, state, route, attempts, code, message, probe) AS (",
                );
                query.push_values(chunk, |mut row, t| {
                    row.push_bind(t.id)
                        .push_bind(t.state.as_str())
                        .push_bind(t.route.map(|r| r.as_str()))
                        .push_bind(i64::from(t.attempts))
                        .push_bind(t.code.as_deref())
                        .push_bind(t.message.as_deref())
                        .push_bind(t.probe.as_deref());
                });
                // Our lease is renewed while the entry is unfinished and
                // dropped once it is terminal; another owner's lease is
                // left alone.
                query.push(format!(
                    ") UPDATE entries SET
                        state = v.state,
                        route = v.route,
                        attempts = v.attempts,
                        code = v.code,
                        message = v.message,
                        probe = COALESCE(v.probe, entries.probe),
                        lease_expires = CASE
                            WHEN entries.lease_owner IS NOT {owner} THEN entries.lease_expires
                            WHEN v.state IN {UNFINISHED_STATES_SQL} THEN {lease_expires}
                            ELSE NULL END,
                        lease_owner = CASE
                            WHEN entries.lease_owner IS NOT {owner} THEN entries.lease_owner
                            WHEN v.state IN {UNFINISHED_STATES_SQL} THEN entries.lease_owner
                            ELSE NULL END,
                        updated_at = {now},
                        finished_at = CASE WHEN v.state IN {UNFINISHED_STATES_SQL}
                            THEN NULL ELSE {now} END
                     FROM v WHERE entries.id = v.id",
                    owner = sql_text_literal(&self.owner),
                ));
                // No RETURNING: sqlx hands each returned row across threads
                // on its own, which cost more than the update. Ids within a
                // round are distinct, so a full count means all landed.
                let updated = query
                    .build()
                    .persistent(false)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error("recording transitions"))?
                    .rows_affected();
                if updated == chunk.len() as u64 {
                    ids.extend(chunk.iter().map(|t| t.id));
                } else {
                    ids.extend(existing_ids(&mut tx, chunk).await?);
                }
            }
            landed.push(ids);
        }
        tx.commit()
            .await
            .map_err(db_error("committing transitions"))?;
        Ok(landed)
    }
}

/// Which of the chunk's ids name an entry (when an update matched fewer).
async fn existing_ids(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    chunk: &[Transition],
) -> Result<Vec<EntryId>, StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new("SELECT id FROM entries WHERE id IN (");
    let mut list = query.separated(", ");
    for t in chunk {
        list.push_bind(t.id);
    }
    query.push(")");
    query
        .build_query_scalar::<i64>()
        .persistent(false)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error("recording transitions"))
}

/// The ids `claim` takes, in claim order. Binds: exchange, now, limit.
fn claimable_ids_sql() -> String {
    format!(
        "SELECT id FROM entries
         WHERE exchange = ? AND state IN {UNFINISHED_STATES_SQL}
           AND (lease_expires IS NULL OR lease_expires <= ?)
         ORDER BY rank, source_offset
         LIMIT ?"
    )
}

/// Quotes our own generated owner id for inlining into SQL (it is never
/// user input, but quote it properly all the same).
fn sql_text_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[async_trait]
impl JobStore for SqliteJournal {
    async fn enqueue(&self, pass: i64, batch: &[NewEntry]) -> Result<EnqueueStats, StoreError> {
        let (unique, repeats) = first_occurrences(batch);
        let mut stats = EnqueueStats {
            duplicates: repeats,
            ..EnqueueStats::default()
        };
        let now = now_millis();
        let mut tx = self
            .writer
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db_error("enqueueing"))?;
        for chunk in unique.chunks(ENQUEUE_ROWS_PER_STATEMENT) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "INSERT INTO entries (exchange, fingerprint, action, masked, label, state,
                    source_offset, source_len, source_line, rank,
                    enqueued_pass, seen_pass, updated_at) ",
            );
            query.push_values(chunk, |mut row, e| {
                row.push_bind(e.exchange.as_str())
                    .push_bind(e.fingerprint.as_str())
                    .push_bind(e.action.as_str())
                    .push_bind(e.masked.as_str())
                    .push_bind(e.label.as_deref())
                    .push_bind(State::Pending.as_str())
                    .push_bind(e.source.offset as i64)
                    .push_bind(i64::from(e.source.len))
                    .push_bind(e.source.line as i64)
                    .push_bind(i64::from(e.rank))
                    .push_bind(pass)
                    .push_bind(pass)
                    .push_bind(now);
            });
            // An earlier pass's row: note this pass saw it and, unless it is
            // finished, take the (possibly rewritten) inventory's position.
            // A row this pass already saw is not touched and not returned.
            query.push(format!(
                " ON CONFLICT (exchange, fingerprint, action) DO UPDATE SET
                    seen_pass = excluded.seen_pass,
                    rank = CASE WHEN {unfinished} THEN excluded.rank ELSE entries.rank END,
                    source_offset = CASE WHEN {unfinished}
                        THEN excluded.source_offset ELSE entries.source_offset END,
                    source_len = CASE WHEN {unfinished}
                        THEN excluded.source_len ELSE entries.source_len END,
                    source_line = CASE WHEN {unfinished}
                        THEN excluded.source_line ELSE entries.source_line END,
                    updated_at = CASE WHEN {unfinished}
                        THEN excluded.updated_at ELSE entries.updated_at END
                 WHERE entries.seen_pass < excluded.seen_pass
                 RETURNING enqueued_pass = seen_pass",
                unfinished = format_args!("entries.state IN {UNFINISHED_STATES_SQL}"),
            ));
            let rows = query
                .build()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error("enqueueing"))?;
            for row in &rows {
                let inserted: i64 = row.try_get(0).map_err(db_error("enqueueing"))?;
                if inserted != 0 {
                    stats.inserted += 1;
                } else {
                    stats.resumed += 1;
                }
            }
            stats.duplicates += (chunk.len() - rows.len()) as u64;
        }
        tx.commit().await.map_err(db_error("enqueueing"))?;
        Ok(stats)
    }

    async fn begin_pass(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("INSERT INTO passes (started_at) VALUES (?) RETURNING pass")
            .bind(now_millis())
            .fetch_one(&self.writer)
            .await
            .map_err(db_error("starting an enqueue pass"))
    }

    async fn claim(&self, exchange: ExchangeId, limit: usize) -> Result<Vec<JobEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = now_millis();
        let sql = format!(
            "UPDATE entries SET lease_owner = ?, lease_expires = ?,
                started_at = COALESCE(started_at, {now})
             WHERE id IN ({claimable})
             RETURNING rank, {columns}",
            claimable = claimable_ids_sql(),
            columns = entry_select_list(None),
        );
        let rows = sqlx::query(&sql)
            .bind(&*self.owner)
            .bind(now + self.lease_millis())
            .bind(exchange.as_str())
            .bind(now)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.writer)
            .await
            .map_err(db_error("claiming entries"))?;
        claimed_in_order(&rows)
    }

    async fn record(&self, t: Transition) -> Result<(), StoreError> {
        self.commits.submit(t).await
    }

    async fn release(&self, ids: &[EntryId]) -> Result<(), StoreError> {
        self.update_own_leases(ids, None, "releasing leases").await
    }

    async fn renew(&self, ids: &[EntryId]) -> Result<(), StoreError> {
        let expires = now_millis() + self.lease_millis();
        self.update_own_leases(ids, Some(expires), "renewing leases")
            .await
    }

    async fn exchanges_with_work(&self) -> Result<Vec<ExchangeId>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT exchange FROM entries WHERE state IN {UNFINISHED_STATES_SQL}
             ORDER BY exchange"
        ))
        .fetch_all(&self.readers)
        .await
        .map_err(db_error("listing exchanges with work"))?;
        names.iter().map(|n| parse_exchange(n)).collect()
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let rows = sqlx::query_as::<_, (String, String, i64)>(
            "SELECT exchange, state, COUNT(*) FROM entries GROUP BY exchange, state",
        )
        .fetch_all(&self.readers)
        .await
        .map_err(db_error("counting entries"))?;
        Ok(crate::codec::counts_from(rows))
    }

    async fn list(&self, exchange: ExchangeId, state: State) -> Result<Vec<JobEntry>, StoreError> {
        let sql = format!(
            "SELECT {columns} FROM entries WHERE exchange = ? AND state = ?
             ORDER BY source_line, id",
            columns = entry_select_list(None),
        );
        let rows = sqlx::query(&sql)
            .bind(exchange.as_str())
            .bind(state.as_str())
            .fetch_all(&self.readers)
            .await
            .map_err(db_error("listing entries"))?;
        rows.iter().map(decode_entry).collect()
    }

    async fn put_record(&self, name: &str, value: &str) -> Result<(), StoreError> {
        // The writer connection commits with synchronous=FULL: durable on Ok.
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?, ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(format!("{RECORD_PREFIX}{name}"))
        .bind(value)
        .execute(&self.writer)
        .await
        .map_err(db_error("recording a named record"))?;
        Ok(())
    }

    async fn records(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
        )
        .bind(format!("{RECORD_PREFIX}{prefix}"))
        .fetch_all(&self.readers)
        .await
        .map_err(db_error("reading named records"))?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| (k[RECORD_PREFIX.len()..].to_string(), v))
            .collect())
    }

    async fn timings(&self) -> Result<Vec<KeyTiming>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TIMING_COLUMNS}, started_at, finished_at FROM entries
"
        ))
        .fetch_all(&self.readers)
        .await
        .map_err(db_error("reading key timings"))?;
        rows.iter()
            .map(|row| {
                let millis = |col: &'static str| -> Result<Option<i64>, StoreError> {
                    row.try_get(col).map_err(db_error("reading key timings"))
                };
                decode_timing(row, millis("started_at")?, millis("finished_at")?)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{self, new_entry, transition};
    use std::sync::atomic::Ordering;
    use tempfile::TempDir;

    async fn fresh_journal() -> (TempDir, SqliteJournal) {
        fresh_journal_with_lease(DEFAULT_LEASE).await
    }

    async fn fresh_journal_with_lease(lease: Duration) -> (TempDir, SqliteJournal) {
        let dir = tempfile::tempdir().expect("temp dir");
        let journal = SqliteJournal::open_with_lease(&dir.path().join("job.db"), lease)
            .await
            .expect("open a new journal");
        (dir, journal)
    }

    /// One shared scenario (crate::test_support) on a fresh journal, its
    /// leases the default or `$lease`.
    macro_rules! shared_scenario {
        ($name:ident) => {
            shared_scenario!($name, DEFAULT_LEASE);
        };
        ($name:ident, $lease:expr) => {
            #[tokio::test]
            async fn $name() {
                let (_dir, journal) = fresh_journal_with_lease($lease).await;
                test_support::$name(&journal).await;
            }
        };
    }

    shared_scenario!(enqueue_merges_duplicates_and_resumes_earlier_passes);
    shared_scenario!(claims_follow_rank_then_inventory_order);
    shared_scenario!(claims_skip_finished_and_leased_entries);
    shared_scenario!(counts_and_lists_report_states);
    shared_scenario!(timings_keep_the_first_claim_and_the_outcome_time);
    shared_scenario!(released_entries_can_be_claimed_again);
    shared_scenario!(
        renewed_leases_stay_released_ones_come_back,
        test_support::SHORT_LEASE
    );
    shared_scenario!(an_unknown_id_fails_only_its_own_record);
    shared_scenario!(record_updates_fields_and_keeps_the_last_probe);
    shared_scenario!(named_records_keep_the_last_value_by_name);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_thousand_concurrent_records_all_land_in_shared_commits() {
        let (_dir, journal) = fresh_journal().await;
        let journal = Arc::new(journal);
        test_support::concurrent_records_all_land(journal.clone(), 2000).await;
        let commits = journal.commit_stats().commits.load(Ordering::Relaxed);
        assert!(
            commits < 1000,
            "2000 concurrent records took {commits} commits: group commit is not grouping"
        );
    }

    /// A SIGKILL test cannot catch a weaker setting (the killed process's
    /// writes stay in the page cache); losing the machine would.
    #[tokio::test]
    async fn commits_are_synced_in_full() {
        let (_dir, journal) = fresh_journal().await;
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&journal.writer)
            .await
            .unwrap();
        assert_eq!(
            level, 2,
            "PRAGMA synchronous on the connection that commits is {level}, not FULL (2)"
        );
    }

    #[tokio::test]
    async fn the_journal_file_is_created_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.db");
        let journal = SqliteJournal::open(&path).await.unwrap();
        // Write something so that SQLite creates its WAL file too.
        let pass = journal.begin_pass().await.unwrap();
        journal
            .enqueue(
                pass,
                &[new_entry(ExchangeId::new("bybit"), "mode-check-key", 0, 0)],
            )
            .await
            .unwrap();
        for file in ["job.db", "job.db-wal", "job.db-shm", "job.db.lock"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap_or_else(|e| panic!("{file} should exist: {e}"))
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{file} has mode {mode:o}, expected 600");
        }
    }

    /// Rewrites a journal file as schema `version` wrote it: without the
    /// columns version 2 added, with that version in `meta`.
    async fn downgrade_to(path: &Path, version: &str) {
        let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        for sql in [
            "ALTER TABLE entries DROP COLUMN started_at",
            "ALTER TABLE entries DROP COLUMN finished_at",
        ] {
            sqlx::query(sql).execute(&raw).await.unwrap();
        }
        sqlx::query("UPDATE meta SET value = ? WHERE key = 'schema_version'")
            .bind(version)
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
    }

    #[tokio::test]
    async fn a_version_1_journal_is_migrated_and_keeps_its_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.db");
        {
            let journal = SqliteJournal::open(&path).await.unwrap();
            let pass = journal.begin_pass().await.unwrap();
            journal
                .enqueue(
                    pass,
                    &[
                        new_entry(ExchangeId::new("bybit"), "old-finished-key", 0, 0),
                        new_entry(ExchangeId::new("bybit"), "old-pending-key1", 1, 50),
                    ],
                )
                .await
                .unwrap();
            let id = journal.claim(ExchangeId::new("bybit"), 1).await.unwrap()[0].id;
            journal
                .record(transition(id, State::Revoked))
                .await
                .unwrap();
            journal.close().await;
        }
        downgrade_to(&path, "1").await;
        let updated_at: i64 = {
            let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            let t = sqlx::query_scalar("SELECT updated_at FROM entries WHERE state = 'revoked'")
                .fetch_one(&raw)
                .await
                .unwrap();
            raw.close().await;
            t
        };

        let journal = SqliteJournal::open(&path)
            .await
            .expect("a v1 journal opens");
        let mut timings = journal.timings().await.unwrap();
        timings.sort_by_key(|t| t.state != State::Revoked);
        assert_eq!(timings.len(), 2, "no key lost in the migration");
        assert_eq!(timings[0].state, State::Revoked);
        assert_eq!(
            (timings[0].started_at, timings[0].finished_at),
            (None, Some(updated_at)),
            "a finished v1 key's outcome time is its last write; its start is unknown"
        );
        assert_eq!(
            (timings[1].started_at, timings[1].finished_at),
            (None, None)
        );
        let version: String =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'schema_version'")
                .fetch_one(&journal.readers)
                .await
                .unwrap();
        assert_eq!(version, SCHEMA_VERSION.to_string());
        // And it works on as a version 2 journal.
        let claimed = journal.claim(ExchangeId::new("bybit"), 5).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let pending = journal
            .timings()
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.state == State::Pending)
            .unwrap();
        assert!(
            pending.started_at.is_some(),
            "a claim after migration is recorded"
        );
    }

    #[tokio::test]
    async fn a_journal_from_a_newer_keyrevoke_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.db");
        SqliteJournal::open(&path).await.unwrap().close().await;
        downgrade_to(&path, "3").await;
        let refused = SqliteJournal::open(&path).await.err().expect("refused");
        assert!(
            refused.to_string().contains("schema version 3"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn a_recorded_transition_survives_closing_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.db");
        let (id, first_pass) = {
            let journal = SqliteJournal::open(&path).await.unwrap();
            let pass = journal.begin_pass().await.unwrap();
            journal
                .enqueue(
                    pass,
                    &[new_entry(ExchangeId::new("bitget"), "durable-key-01", 0, 0)],
                )
                .await
                .unwrap();
            let id = journal.claim(ExchangeId::new("bitget"), 1).await.unwrap()[0].id;
            journal
                .record(transition(id, State::Revoked))
                .await
                .unwrap();
            // Dropped, not closed: as after a crash, nothing flushes later.
            (id, pass)
        };
        let journal = SqliteJournal::open(&path).await.expect("reopen");
        let revoked = journal
            .list(ExchangeId::new("bitget"), State::Revoked)
            .await
            .unwrap();
        assert_eq!(
            revoked.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![id],
            "the revoked state recorded before reopening must be there after it"
        );
        let next_pass = journal.begin_pass().await.unwrap();
        assert!(
            next_pass > first_pass,
            "pass numbers must keep increasing across opens"
        );
    }

    #[tokio::test]
    async fn reopening_releases_the_previous_run_leases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.db");
        let journal = SqliteJournal::open(&path).await.unwrap();
        let pass = journal.begin_pass().await.unwrap();
        journal
            .enqueue(
                pass,
                &[new_entry(
                    ExchangeId::new("coinbase"),
                    "leased-key-0001",
                    0,
                    0,
                )],
            )
            .await
            .unwrap();
        assert_eq!(
            journal
                .claim(ExchangeId::new("coinbase"), 10)
                .await
                .unwrap()
                .len(),
            1
        );
        journal.close().await;

        let journal = SqliteJournal::open(&path).await.unwrap();
        assert_eq!(
            journal
                .claim(ExchangeId::new("coinbase"), 10)
                .await
                .unwrap()
                .len(),
            1,
            "the sole worker's old leases must not block the new run"
        );
    }

    #[tokio::test]
    async fn a_journal_cannot_be_opened_twice_at_once() {
        let (dir, _journal) = fresh_journal().await;
        let err = match SqliteJournal::open(&dir.path().join("job.db")).await {
            Ok(_) => panic!("a second open would clear the first one's leases"),
            Err(e) => e,
        };
        assert!(
            err.to_string().contains("already open"),
            "unhelpful error: {err}"
        );
    }

    #[tokio::test]
    async fn claim_reads_the_claimable_index_in_order() {
        let (_dir, journal) = fresh_journal().await;
        let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {}", claimable_ids_sql()))
            .bind("bybit")
            .bind(0i64)
            .bind(10i64)
            .fetch_all(&journal.readers)
            .await
            .unwrap();
        let plan: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains("entries_claimable"),
            "claim does not use the claimable index:\n{plan}"
        );
        assert!(
            !plan.contains("TEMP B-TREE"),
            "claim sorts instead of reading the index in order:\n{plan}"
        );
    }

    /// 1,000,000 entries, most finished: a claim must still take milliseconds.
    /// `cargo test --release -p keyrevoke-journal -- --ignored --nocapture claim_stays_fast`
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "slow: builds a million-row journal"]
    async fn claim_stays_fast_at_a_million_rows() {
        let (_dir, journal) = fresh_journal().await;
        let pass = journal.begin_pass().await.unwrap();
        let started = std::time::Instant::now();
        for chunk in 0..100u64 {
            let batch: Vec<NewEntry> = (chunk * 10_000..(chunk + 1) * 10_000)
                .map(|i| {
                    let exchange =
                        ExchangeId::new(["binance", "bybit", "okx", "kucoin"][(i % 4) as usize]);
                    new_entry(
                        exchange,
                        &format!("million-{i:08}"),
                        (i / 40) as u32,
                        i * 50,
                    )
                })
                .collect();
            journal.enqueue(pass, &batch).await.unwrap();
        }
        println!("enqueued 1,000,000 rows in {:?}", started.elapsed());
        // Finish the first 900,000 (ranks 0..22,500) directly, as a long run would.
        sqlx::query("UPDATE entries SET state = 'revoked' WHERE rank < 22500")
            .execute(&journal.writer)
            .await
            .unwrap();
        let mut slowest = std::time::Duration::ZERO;
        for _ in 0..20 {
            let started = std::time::Instant::now();
            let claimed = journal.claim(ExchangeId::new("bybit"), 100).await.unwrap();
            slowest = slowest.max(started.elapsed());
            assert_eq!(claimed.len(), 100);
            assert!(claimed.iter().all(|e| e.state == State::Pending));
        }
        println!("slowest of 20 claims of 100 at 1,000,000 rows: {slowest:?}");
        assert!(
            slowest < std::time::Duration::from_millis(50),
            "claim took {slowest:?} at a million rows"
        );
    }
}
