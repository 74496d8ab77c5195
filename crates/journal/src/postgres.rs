//! The shared journal: many workers on many machines share one job in
//! PostgreSQL. Rows are namespaced by a job name, so one database can hold
//! many jobs.
//!
//! Workers coordinate only through leases. `claim` takes unfinished rows
//! that nobody holds or whose lease has expired (a dead worker's), with
//! `FOR UPDATE SKIP LOCKED` so concurrent claims never wait on, or take,
//! each other's rows. Lease times are the server's clock, never a worker's.

use crate::codec::{
    DEFAULT_LEASE, TIMING_COLUMNS, claimed_in_order, db_error, decode_entry, decode_timing,
    first_occurrences, new_owner_id, parse_exchange,
};
use crate::group_commit::{CommitStats, GroupCommit, TransitionWriter};
use crate::schema::{
    POSTGRES_DDL, POSTGRES_MIGRATIONS, POSTGRES_RATE_ACCOUNT_COLUMN, SCHEMA_VERSION,
    UNFINISHED_STATES_SQL, entry_select_list, migration_from,
};
use async_trait::async_trait;
use keyrevoke_core::exchange::ExchangeId;
use keyrevoke_core::model::State;
use keyrevoke_core::store::{
    Counts, EnqueueStats, EntryId, JobEntry, JobStore, KeyTiming, NewEntry, StoreError, Transition,
};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const POOL_SIZE: u32 = 8;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Rows per enqueue statement (sent as arrays, so no bind limit applies).
const ENQUEUE_ROWS_PER_STATEMENT: usize = 5000;
/// Serializes schema creation between workers starting at once
/// (`CREATE TABLE IF NOT EXISTS` races otherwise). "keyrevok" in ASCII.
const SCHEMA_LOCK_KEY: i64 = 0x6b65_7972_6576_6f6b;
/// The advisory-lock class of [`JobStore::hold_exclusively`] ("krev"); the
/// second key is the job name's hash.
const HOLD_LOCK_CLASS: i32 = 0x6b72_6576;

/// A job journal in PostgreSQL, shared by any number of workers.
pub struct PgJournal {
    pool: PgPool,
    job: Arc<str>,
    owner: Arc<str>,
    lease: Duration,
    commits: GroupCommit,
    /// The connection holding the job (see [`JobStore::hold_exclusively`]).
    holder: tokio::sync::Mutex<Option<sqlx::PgConnection>>,
}

impl PgJournal {
    /// Connects to `url` as a new worker of job `job`, creating the tables
    /// if needed. Leases last [`DEFAULT_LEASE`] unless renewed by `record`.
    pub async fn connect(url: &str, job: &str) -> Result<PgJournal, StoreError> {
        Self::connect_with_lease(url, job, DEFAULT_LEASE).await
    }

    /// As [`PgJournal::connect`], with leases lasting `lease`. A worker
    /// that stops renewing (it died, or it hangs) loses its entries to
    /// other workers after that long.
    pub async fn connect_with_lease(
        url: &str,
        job: &str,
        lease: Duration,
    ) -> Result<PgJournal, StoreError> {
        if job.trim().is_empty() {
            return Err(StoreError::Journal("empty job name".into()));
        }
        if lease.is_zero() {
            return Err(StoreError::Journal(
                "lease duration must be positive".into(),
            ));
        }
        // Errors name neither the URL nor its password.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Journal(format!("invalid PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db_error("connecting to PostgreSQL"))?;
        prepare_schema(&pool, job).await?;

        let job: Arc<str> = job.into();
        let owner: Arc<str> = new_owner_id().into();
        let commits = GroupCommit::spawn(PgTransitionWriter {
            pool: pool.clone(),
            job: job.clone(),
            owner: owner.clone(),
            lease,
        });
        Ok(PgJournal {
            pool,
            job,
            owner,
            lease,
            commits,
            holder: tokio::sync::Mutex::new(None),
        })
    }

    pub fn job(&self) -> &str {
        &self.job
    }

    /// This worker's lease owner id (host/pid/random).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Closes the connections and waits for them.
    pub async fn close(self) {
        let PgJournal { pool, commits, .. } = self;
        drop(commits);
        pool.close().await;
    }

    /// How many commits `record` has made for how many transitions: their
    /// ratio is the group-commit batch size.
    pub fn commit_stats(&self) -> &CommitStats {
        self.commits.stats()
    }

    /// Removes every row of this job (tests clean up after themselves).
    #[cfg(test)]
    pub(crate) async fn delete_job(&self) -> Result<(), StoreError> {
        for table in ["keyrevoke_entries", "keyrevoke_passes", "keyrevoke_jobs"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE job = $1"))
                .bind(&*self.job)
                .execute(&self.pool)
                .await
                .map_err(db_error("deleting a test job"))?;
        }
        sqlx::query("DELETE FROM keyrevoke_meta WHERE left(key, length($1)) = $1")
            .bind(format!("job:{}:", self.job))
            .execute(&self.pool)
            .await
            .map_err(db_error("deleting a test job"))?;
        Ok(())
    }

    /// Where the job's inventory digest lives: a row of the key-value
    /// `keyrevoke_meta` per job, so that no table changes shape.
    fn planned_inventory_key(&self) -> String {
        format!("job:{}:inventory_sha256", self.job)
    }

    /// Where the job's named records live in `keyrevoke_meta`.
    fn record_prefix(&self) -> String {
        format!("job:{}:record:", self.job)
    }

    fn lease_seconds(&self) -> f64 {
        self.lease.as_secs_f64()
    }
}

async fn prepare_schema(pool: &PgPool, job: &str) -> Result<(), StoreError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(db_error("preparing the journal"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SCHEMA_LOCK_KEY)
        .execute(&mut *tx)
        .await
        .map_err(db_error("locking the journal schema"))?;
    for ddl in POSTGRES_DDL {
        sqlx::query(ddl)
            .execute(&mut *tx)
            .await
            .map_err(db_error("creating the journal tables"))?;
    }
    let has_rate_account: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'keyrevoke_entries'
           AND column_name = 'rate_account')",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error("reading the journal's columns"))?;
    if !has_rate_account {
        sqlx::query(POSTGRES_RATE_ACCOUNT_COLUMN)
            .execute(&mut *tx)
            .await
            .map_err(db_error("adding the rate_account column"))?;
    }
    sqlx::query(
        "INSERT INTO keyrevoke_meta (key, value) VALUES ('schema_version', $1)
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(SCHEMA_VERSION.to_string())
    .execute(&mut *tx)
    .await
    .map_err(db_error("writing journal metadata"))?;
    let version: String =
        sqlx::query_scalar("SELECT value FROM keyrevoke_meta WHERE key = 'schema_version'")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error("reading journal metadata"))?;
    // Under the schema lock: one worker migrates, the others then see the
    // new version.
    let migration = migration_from(&version, POSTGRES_MIGRATIONS).map_err(StoreError::Journal)?;
    if !migration.is_empty() {
        for sql in migration {
            sqlx::query(sql)
                .execute(&mut *tx)
                .await
                .map_err(db_error("migrating the journal"))?;
        }
        sqlx::query("UPDATE keyrevoke_meta SET value = $1 WHERE key = 'schema_version'")
            .bind(SCHEMA_VERSION.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error("migrating the journal"))?;
    }
    sqlx::query("INSERT INTO keyrevoke_jobs (job) VALUES ($1) ON CONFLICT (job) DO NOTHING")
        .bind(job)
        .execute(&mut *tx)
        .await
        .map_err(db_error("registering the job"))?;
    tx.commit().await.map_err(db_error("preparing the journal"))
}

/// Applies group-committed transitions (see [`crate::group_commit`]): one
/// array-bound UPDATE per round, all rounds in one transaction.
struct PgTransitionWriter {
    pool: PgPool,
    job: Arc<str>,
    owner: Arc<str>,
    lease: Duration,
}

#[async_trait]
impl TransitionWriter for PgTransitionWriter {
    async fn commit_rounds(
        &self,
        rounds: &[Vec<Transition>],
    ) -> Result<Vec<HashSet<EntryId>>, StoreError> {
        // Our lease is renewed while the entry is unfinished and dropped
        // once it is terminal; a lease another worker took over is left
        // alone.
        let sql = format!(
            "UPDATE keyrevoke_entries e SET
                state = v.state,
                route = v.route,
                attempts = v.attempts,
                code = v.code,
                message = v.message,
                probe = COALESCE(v.probe, e.probe),
                lease_expires = CASE
                    WHEN e.lease_owner IS DISTINCT FROM $9 THEN e.lease_expires
                    WHEN v.state IN {UNFINISHED_STATES_SQL} THEN now() + make_interval(secs => $10)
                    ELSE NULL END,
                lease_owner = CASE
                    WHEN e.lease_owner IS DISTINCT FROM $9 THEN e.lease_owner
                    WHEN v.state IN {UNFINISHED_STATES_SQL} THEN e.lease_owner
                    ELSE NULL END,
                updated_at = now(),
                finished_at = CASE WHEN v.state IN {UNFINISHED_STATES_SQL}
                    THEN NULL ELSE now() END
             FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[],
                         $5::text[], $6::text[], $7::text[])
                  AS v (id, state, route, attempts, code, message, probe)
             WHERE e.id = v.id AND e.job = $8
             RETURNING e.id"
        );
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_error("recording transitions"))?;
        let mut landed = Vec::with_capacity(rounds.len());
        for round in rounds {
            let rows = sqlx::query(&sql)
                .bind(round.iter().map(|t| t.id).collect::<Vec<i64>>())
                .bind(round.iter().map(|t| t.state.as_str()).collect::<Vec<_>>())
                .bind(
                    round
                        .iter()
                        .map(|t| t.route.map(|r| r.as_str()))
                        .collect::<Vec<_>>(),
                )
                .bind(
                    round
                        .iter()
                        .map(|t| i64::from(t.attempts))
                        .collect::<Vec<_>>(),
                )
                .bind(round.iter().map(|t| t.code.clone()).collect::<Vec<_>>())
                .bind(round.iter().map(|t| t.message.clone()).collect::<Vec<_>>())
                .bind(round.iter().map(|t| t.probe.clone()).collect::<Vec<_>>())
                .bind(&*self.job)
                .bind(&*self.owner)
                .bind(self.lease.as_secs_f64())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error("recording transitions"))?;
            let ids = rows
                .iter()
                .map(|row| row.try_get::<i64, _>(0))
                .collect::<Result<HashSet<_>, _>>()
                .map_err(db_error("recording transitions"))?;
            landed.push(ids);
        }
        tx.commit()
            .await
            .map_err(db_error("committing transitions"))?;
        Ok(landed)
    }
}

#[async_trait]
impl JobStore for PgJournal {
    async fn enqueue(&self, pass: i64, batch: &[NewEntry]) -> Result<EnqueueStats, StoreError> {
        let (unique, repeats) = first_occurrences(batch);
        let mut stats = EnqueueStats {
            duplicates: repeats,
            ..EnqueueStats::default()
        };
        // See the SQLite twin for why this upsert tells inserted, resumed
        // and duplicate rows apart.
        let unfinished = format!("keyrevoke_entries.state IN {UNFINISHED_STATES_SQL}");
        let sql = format!(
            "INSERT INTO keyrevoke_entries (job, exchange, fingerprint, action, masked, label,
                state, source_offset, source_len, source_line, rank, enqueued_pass, seen_pass,
                rate_account)
             SELECT $1, u.exchange, u.fingerprint, u.action, u.masked, u.label,
                'pending', u.source_offset, u.source_len, u.source_line, u.rank, $2, $2,
                u.rate_account
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::text[])
                  AS u (exchange, fingerprint, action, masked, label,
                        source_offset, source_len, source_line, rank, rate_account)
             ON CONFLICT (job, exchange, fingerprint, action) DO UPDATE SET
                seen_pass = EXCLUDED.seen_pass,
                rate_account = CASE WHEN {unfinished}
                    THEN EXCLUDED.rate_account ELSE keyrevoke_entries.rate_account END,
                rank = CASE WHEN {unfinished}
                    THEN EXCLUDED.rank ELSE keyrevoke_entries.rank END,
                source_offset = CASE WHEN {unfinished}
                    THEN EXCLUDED.source_offset ELSE keyrevoke_entries.source_offset END,
                source_len = CASE WHEN {unfinished}
                    THEN EXCLUDED.source_len ELSE keyrevoke_entries.source_len END,
                source_line = CASE WHEN {unfinished}
                    THEN EXCLUDED.source_line ELSE keyrevoke_entries.source_line END,
                updated_at = CASE WHEN {unfinished}
                    THEN now() ELSE keyrevoke_entries.updated_at END
             WHERE keyrevoke_entries.seen_pass < EXCLUDED.seen_pass
             RETURNING enqueued_pass = seen_pass"
        );
        let mut tx = self.pool.begin().await.map_err(db_error("enqueueing"))?;
        for chunk in unique.chunks(ENQUEUE_ROWS_PER_STATEMENT) {
            let column =
                |f: fn(&NewEntry) -> String| chunk.iter().map(|e| f(e)).collect::<Vec<_>>();
            let number = |f: fn(&NewEntry) -> i64| chunk.iter().map(|e| f(e)).collect::<Vec<_>>();
            let rows = sqlx::query(&sql)
                .bind(&*self.job)
                .bind(pass)
                .bind(column(|e| e.exchange.as_str().to_string()))
                .bind(column(|e| e.fingerprint.as_str().to_string()))
                .bind(column(|e| e.action.as_str().to_string()))
                .bind(column(|e| e.masked.clone()))
                .bind(chunk.iter().map(|e| e.label.clone()).collect::<Vec<_>>())
                .bind(number(|e| e.source.offset as i64))
                .bind(number(|e| i64::from(e.source.len)))
                .bind(number(|e| e.source.line as i64))
                .bind(number(|e| i64::from(e.rank)))
                .bind(
                    chunk
                        .iter()
                        .map(|e| e.rate_account.clone())
                        .collect::<Vec<_>>(),
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error("enqueueing"))?;
            for row in &rows {
                let inserted: bool = row.try_get(0).map_err(db_error("enqueueing"))?;
                if inserted {
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
        // The job row's counter is bumped under its row lock, so concurrent
        // workers get distinct, increasing passes.
        sqlx::query_scalar(
            "WITH next AS (
                INSERT INTO keyrevoke_jobs (job, last_pass) VALUES ($1, 1)
                ON CONFLICT (job) DO UPDATE SET last_pass = keyrevoke_jobs.last_pass + 1
                RETURNING last_pass)
             INSERT INTO keyrevoke_passes (job, pass)
             SELECT $1, last_pass FROM next
             RETURNING pass",
        )
        .bind(&*self.job)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error("starting an enqueue pass"))
    }

    async fn claim(&self, exchange: ExchangeId, limit: usize) -> Result<Vec<JobEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // MATERIALIZED: the locking subquery runs exactly once. A key whose
        // rate-limit account another live worker holds is passed over; the
        // accounts of the keys found are leased to this worker (in account
        // order, so that two claims lock them in the same order), and only
        // keys of accounts it now holds, or of their own account, are taken.
        // Keys of accounts it already holds come first: a worker takes a new
        // account only when its own cannot fill the claim, leaving the rest
        // to other workers.
        // Two workers after the same free account: the second waits for the
        // first's insert, then finds the account held and takes none of it.
        let sql = format!(
            "WITH claimable AS MATERIALIZED (
                SELECT c.id, c.rate_account FROM keyrevoke_entries c
                WHERE c.job = $1 AND c.exchange = $2 AND c.state IN {UNFINISHED_STATES_SQL}
                  AND (c.lease_expires IS NULL OR c.lease_expires <= now())
                  AND NOT EXISTS (
                    SELECT 1 FROM keyrevoke_account_leases a
                    WHERE a.job = c.job AND a.exchange = c.exchange
                      AND a.account = c.rate_account
                      AND a.owner <> $4 AND a.expires > now())
                ORDER BY EXISTS (
                    SELECT 1 FROM keyrevoke_account_leases m
                    WHERE m.job = c.job AND m.exchange = c.exchange
                      AND m.account = c.rate_account AND m.owner = $4) DESC,
                  c.rank, c.source_offset
                LIMIT $3
                FOR UPDATE OF c SKIP LOCKED),
             held AS (
                INSERT INTO keyrevoke_account_leases (job, exchange, account, owner, expires)
                SELECT DISTINCT $1, $2, rate_account, $4, now() + make_interval(secs => $5)
                FROM claimable WHERE rate_account IS NOT NULL
                ORDER BY 3
                ON CONFLICT (job, exchange, account) DO UPDATE
                SET owner = EXCLUDED.owner, expires = EXCLUDED.expires
                WHERE keyrevoke_account_leases.owner = EXCLUDED.owner
                   OR keyrevoke_account_leases.expires <= now()
                RETURNING account)
             UPDATE keyrevoke_entries e
             SET lease_owner = $4, lease_expires = now() + make_interval(secs => $5),
                 started_at = COALESCE(e.started_at, now())
             FROM claimable c
             WHERE e.id = c.id
               AND (c.rate_account IS NULL OR c.rate_account IN (SELECT account FROM held))
             RETURNING e.rank, {columns}",
            columns = entry_select_list(Some("e")),
        );
        let rows = sqlx::query(&sql)
            .bind(&*self.job)
            .bind(exchange.as_str())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(&*self.owner)
            .bind(self.lease_seconds())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("claiming entries"))?;
        claimed_in_order(&rows)
    }

    async fn record(&self, t: Transition) -> Result<(), StoreError> {
        self.commits.submit(t).await
    }

    async fn release(&self, ids: &[EntryId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE keyrevoke_entries SET lease_owner = NULL, lease_expires = NULL
             WHERE job = $1 AND lease_owner = $2 AND id = ANY($3)",
        )
        .bind(&*self.job)
        .bind(&*self.owner)
        .bind(ids)
        .execute(&self.pool)
        .await
        .map_err(db_error("releasing leases"))?;
        Ok(())
    }

    async fn renew(&self, ids: &[EntryId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_error("renewing leases"))?;
        sqlx::query(
            "UPDATE keyrevoke_entries SET lease_expires = now() + make_interval(secs => $4)
             WHERE job = $1 AND lease_owner = $2 AND id = ANY($3)",
        )
        .bind(&*self.job)
        .bind(&*self.owner)
        .bind(ids)
        .bind(self.lease_seconds())
        .execute(&mut *tx)
        .await
        .map_err(db_error("renewing leases"))?;
        // The accounts this worker holds: kept while they have unfinished
        // keys, dropped once none is left (nothing to hand over).
        sqlx::query(&format!(
            "DELETE FROM keyrevoke_account_leases a
             WHERE a.job = $1 AND a.owner = $2 AND NOT EXISTS (
                SELECT 1 FROM keyrevoke_entries e
                WHERE e.job = a.job AND e.exchange = a.exchange
                  AND e.rate_account = a.account AND e.state IN {UNFINISHED_STATES_SQL})"
        ))
        .bind(&*self.job)
        .bind(&*self.owner)
        .execute(&mut *tx)
        .await
        .map_err(db_error("renewing account leases"))?;
        sqlx::query(
            "UPDATE keyrevoke_account_leases SET expires = now() + make_interval(secs => $3)
             WHERE job = $1 AND owner = $2",
        )
        .bind(&*self.job)
        .bind(&*self.owner)
        .bind(self.lease_seconds())
        .execute(&mut *tx)
        .await
        .map_err(db_error("renewing account leases"))?;
        tx.commit().await.map_err(db_error("renewing leases"))
    }

    fn lease(&self) -> Option<Duration> {
        Some(self.lease)
    }

    async fn put_record(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO keyrevoke_meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(format!("{}{name}", self.record_prefix()))
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(db_error("recording a named record"))?;
        Ok(())
    }

    async fn records(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let own = self.record_prefix();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM keyrevoke_meta WHERE left(key, length($1)) = $1 ORDER BY key",
        )
        .bind(format!("{own}{prefix}"))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("reading named records"))?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| (k[own.len()..].to_string(), v))
            .collect())
    }

    async fn hold_exclusively(&self) -> Result<bool, StoreError> {
        // A session-level advisory lock on a connection kept out of the
        // pool for the life of this journal: PostgreSQL releases it when
        // the process (and so the connection) ends, however it ends.
        let mut holder = self.holder.lock().await;
        if holder.is_some() {
            return Ok(true);
        }
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("taking a connection to hold the job"))?;
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(HOLD_LOCK_CLASS)
            .bind(&*self.job)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error("holding the job"))?;
        if held {
            *holder = Some(conn.detach());
        }
        Ok(held)
    }

    async fn planned_inventory(&self) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM keyrevoke_meta WHERE key = $1")
            .bind(self.planned_inventory_key())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("reading the job's inventory digest"))
    }

    async fn set_planned_inventory(&self, sha256: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO keyrevoke_meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(self.planned_inventory_key())
        .bind(sha256)
        .execute(&self.pool)
        .await
        .map_err(db_error("recording the job's inventory digest"))?;
        Ok(())
    }

    async fn exchanges_with_work(&self) -> Result<Vec<ExchangeId>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT exchange FROM keyrevoke_entries
             WHERE job = $1 AND state IN {UNFINISHED_STATES_SQL}
             ORDER BY exchange"
        ))
        .bind(&*self.job)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("listing exchanges with work"))?;
        names.iter().map(|n| parse_exchange(n)).collect()
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let rows = sqlx::query_as::<_, (String, String, i64)>(
            "SELECT exchange, state, COUNT(*) FROM keyrevoke_entries
             WHERE job = $1 GROUP BY exchange, state",
        )
        .bind(&*self.job)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("counting entries"))?;
        Ok(crate::codec::counts_from(rows))
    }

    async fn list(&self, exchange: ExchangeId, state: State) -> Result<Vec<JobEntry>, StoreError> {
        let sql = format!(
            "SELECT {columns} FROM keyrevoke_entries
             WHERE job = $1 AND exchange = $2 AND state = $3
             ORDER BY source_line, id",
            columns = entry_select_list(None),
        );
        let rows = sqlx::query(&sql)
            .bind(&*self.job)
            .bind(exchange.as_str())
            .bind(state.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("listing entries"))?;
        rows.iter().map(decode_entry).collect()
    }

    async fn timings(&self) -> Result<Vec<KeyTiming>, StoreError> {
        // The server's clock, as Unix milliseconds, like SQLite's columns.
        let rows = sqlx::query(&format!(
            "SELECT {TIMING_COLUMNS},
                (extract(epoch FROM started_at) * 1000)::int8 AS started_ms,
                (extract(epoch FROM finished_at) * 1000)::int8 AS finished_ms
             FROM keyrevoke_entries WHERE job = $1
"
        ))
        .bind(&*self.job)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("reading key timings"))?;
        rows.iter()
            .map(|row| {
                let millis = |col: &'static str| -> Result<Option<i64>, StoreError> {
                    row.try_get(col).map_err(db_error("reading key timings"))
                };
                decode_timing(row, millis("started_ms")?, millis("finished_ms")?)
            })
            .collect()
    }
}

/// These run only against a real server: set `KEYREVOKE_TEST_PG_URL`, e.g.
/// to what `.ci/pg-setup.sh` prints (skipped without it, failed in CI: see
/// [`crate::test_pg_url`]). Each test uses its own job name, so they can
/// share one database and run in parallel.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{self, new_entry, transition};
    use std::sync::atomic::Ordering;

    use crate::test_server::{TEST_PG_URL_VAR as URL_VAR, test_pg_url as server_url};

    fn unique_job(test: &str) -> String {
        format!("test-{test}-{:016x}", rand::random::<u64>())
    }

    async fn worker(url: &str, job: &str, lease: Duration) -> PgJournal {
        PgJournal::connect_with_lease(url, job, lease)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {URL_VAR}: {e}"))
    }

    /// Runs a shared scenario against a fresh job, then deletes the job.
    /// Its leases the default or `$lease`.
    macro_rules! shared_scenario {
        ($name:ident) => {
            shared_scenario!($name, DEFAULT_LEASE);
        };
        ($name:ident, $lease:expr) => {
            #[tokio::test]
            async fn $name() {
                let Some(url) = server_url(stringify!($name)) else {
                    return;
                };
                let journal = worker(&url, &unique_job(stringify!($name)), $lease).await;
                test_support::$name(&journal).await;
                journal.delete_job().await.unwrap();
            }
        };
    }

    #[tokio::test]
    async fn one_process_holds_a_job_until_its_connection_ends() {
        let Some(url) = server_url("one_process_holds_a_job_until_its_connection_ends") else {
            return;
        };
        let job = unique_job("hold");
        let first = worker(&url, &job, DEFAULT_LEASE).await;
        let second = worker(&url, &job, DEFAULT_LEASE).await;
        let other_job = worker(&url, &unique_job("hold-other"), DEFAULT_LEASE).await;
        assert!(first.hold_exclusively().await.unwrap());
        assert!(first.hold_exclusively().await.unwrap(), "held again by its holder");
        assert!(!second.hold_exclusively().await.unwrap(), "held by the first");
        assert!(other_job.hold_exclusively().await.unwrap(), "another job is free");
        first.delete_job().await.unwrap();
        drop(first);
        // The holder's connection closes asynchronously once dropped.
        let mut held = false;
        for _ in 0..50 {
            if second.hold_exclusively().await.unwrap() {
                held = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(held, "free once the holder is gone");
        second.delete_job().await.unwrap();
        other_job.delete_job().await.unwrap();
    }

    /// A journal of schema version 1 in a schema of its own (the tables of
    /// the shared test database stay at the current version for the tests
    /// running beside this one).
    #[tokio::test]
    async fn a_version_1_journal_is_migrated_and_keeps_its_outcomes() {
        let Some(url) = server_url("a_version_1_journal_is_migrated") else {
            return;
        };
        let schema = format!("kr_migration_{:016x}", rand::random::<u64>());
        let admin = PgPool::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let separator = if url.contains('?') { '&' } else { '?' };
        let isolated = format!("{url}{separator}options=-c%20search_path%3D{schema}");
        let job = unique_job("migration");
        {
            let journal = worker(&isolated, &job, DEFAULT_LEASE).await;
            let pass = journal.begin_pass().await.unwrap();
            journal
                .enqueue(
                    pass,
                    &[
                        new_entry(ExchangeId::new("okx"), "old-finished-key", 0, 0),
                        new_entry(ExchangeId::new("okx"), "old-pending-key1", 1, 50),
                    ],
                )
                .await
                .unwrap();
            let id = journal.claim(ExchangeId::new("okx"), 1).await.unwrap()[0].id;
            journal
                .record(transition(id, State::Revoked))
                .await
                .unwrap();
            journal.close().await;
        }
        for sql in [
            "ALTER TABLE keyrevoke_entries DROP COLUMN started_at, DROP COLUMN finished_at",
            "UPDATE keyrevoke_meta SET value = '1' WHERE key = 'schema_version'",
        ] {
            sqlx::query(&sql.replace("keyrevoke_", &format!("{schema}.keyrevoke_")))
                .execute(&admin)
                .await
                .unwrap();
        }
        let updated_ms: i64 = sqlx::query_scalar(&format!(
            "SELECT (extract(epoch FROM updated_at) * 1000)::int8
             FROM {schema}.keyrevoke_entries WHERE state = 'revoked'"
        ))
        .fetch_one(&admin)
        .await
        .unwrap();

        let journal = worker(&isolated, &job, DEFAULT_LEASE).await;
        let mut timings = journal.timings().await.unwrap();
        timings.sort_by_key(|t| t.state != State::Revoked);
        assert_eq!(timings.len(), 2, "no key lost in the migration");
        assert_eq!(
            (
                timings[0].state,
                timings[0].started_at,
                timings[0].finished_at
            ),
            (State::Revoked, None, Some(updated_ms)),
            "a finished v1 key's outcome time is its last write; its start is unknown"
        );
        assert_eq!(
            (timings[1].started_at, timings[1].finished_at),
            (None, None)
        );
        let version: String = sqlx::query_scalar(&format!(
            "SELECT value FROM {schema}.keyrevoke_meta WHERE key = 'schema_version'"
        ))
        .fetch_one(&admin)
        .await
        .unwrap();
        assert_eq!(version, SCHEMA_VERSION.to_string());
        journal.close().await;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await
            .unwrap();
    }

    shared_scenario!(enqueue_merges_duplicates_and_resumes_earlier_passes);
    shared_scenario!(claims_follow_rank_then_inventory_order);
    shared_scenario!(claims_skip_finished_and_leased_entries);
    shared_scenario!(counts_and_lists_report_states);
    shared_scenario!(timings_keep_the_first_claim_and_the_outcome_time);
    shared_scenario!(released_entries_can_be_claimed_again);
    shared_scenario!(record_updates_fields_and_keeps_the_last_probe);
    shared_scenario!(named_records_keep_the_last_value_by_name);
    shared_scenario!(an_unknown_id_fails_only_its_own_record);
    shared_scenario!(
        renewed_leases_stay_released_ones_come_back,
        test_support::SHORT_LEASE
    );

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pg_two_thousand_concurrent_records_all_land_in_shared_commits() {
        let Some(url) = server_url("pg_two_thousand_concurrent_records") else {
            return;
        };
        let journal = Arc::new(worker(&url, &unique_job("records"), DEFAULT_LEASE).await);
        test_support::concurrent_records_all_land(journal.clone(), 2000).await;
        let commits = journal.commit_stats().commits.load(Ordering::Relaxed);
        assert!(
            commits < 1000,
            "2000 concurrent records took {commits} commits: group commit is not grouping"
        );
        journal.delete_job().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_workers_claiming_at_once_never_get_the_same_entry() {
        let Some(url) = server_url("two_workers_claiming_at_once") else {
            return;
        };
        let job = unique_job("two-workers");
        let first = Arc::new(worker(&url, &job, DEFAULT_LEASE).await);
        let second = Arc::new(worker(&url, &job, DEFAULT_LEASE).await);
        assert_ne!(
            first.owner(),
            second.owner(),
            "each connect is its own worker"
        );

        let total = 3000u64;
        let pass = first.begin_pass().await.unwrap();
        let batch: Vec<NewEntry> = (0..total)
            .map(|i| {
                new_entry(
                    ExchangeId::new("bybit"),
                    &format!("shared-key-{i:06}"),
                    (i % 7) as u32,
                    i,
                )
            })
            .collect();
        first.enqueue(pass, &batch).await.unwrap();

        let drain = |journal: Arc<PgJournal>| {
            tokio::spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let claimed = journal.claim(ExchangeId::new("bybit"), 25).await.unwrap();
                    if claimed.is_empty() {
                        return ids;
                    }
                    ids.extend(claimed.iter().map(|e| e.id));
                }
            })
        };
        let (a, b) = tokio::join!(drain(first.clone()), drain(second.clone()));
        let (a, b) = (a.unwrap(), b.unwrap());
        let a_ids: HashSet<EntryId> = a.iter().copied().collect();
        let both: Vec<EntryId> = b.iter().copied().filter(|id| a_ids.contains(id)).collect();
        assert!(
            both.is_empty(),
            "{} entries were claimed by both workers",
            both.len()
        );
        assert_eq!(
            (a.len() + b.len()) as u64,
            total,
            "together the workers must claim every entry exactly once"
        );
        assert!(
            !a.is_empty() && !b.is_empty(),
            "both workers should have got work ({} / {})",
            a.len(),
            b.len()
        );
        first.delete_job().await.unwrap();
    }

    #[tokio::test]
    async fn a_worker_that_renews_its_leases_keeps_them() {
        let Some(url) = server_url("a_worker_that_renews_its_leases_keeps_them") else {
            return;
        };
        let job = unique_job("renew");
        let slow = worker(&url, &job, Duration::from_millis(300)).await;
        let other = worker(&url, &job, DEFAULT_LEASE).await;
        let pass = slow.begin_pass().await.unwrap();
        let batch: Vec<NewEntry> = (0..3)
            .map(|i| new_entry(ExchangeId::new("okx"), &format!("renew-key-{i:04}"), 0, i))
            .collect();
        slow.enqueue(pass, &batch).await.unwrap();
        let held = slow.claim(ExchangeId::new("okx"), 10).await.unwrap();
        let ids: Vec<EntryId> = held.iter().map(|e| e.id).collect();
        // Waiting for budget far longer than one lease, renewing meanwhile.
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            slow.renew(&ids).await.unwrap();
        }
        assert!(
            other
                .claim(ExchangeId::new("okx"), 10)
                .await
                .unwrap()
                .is_empty(),
            "renewed leases must not be taken over"
        );
    }

    #[tokio::test]
    async fn a_dead_worker_expired_leases_are_taken_over() {
        let Some(url) = server_url("a_dead_worker_expired_leases_are_taken_over") else {
            return;
        };
        let job = unique_job("takeover");
        let short_lived = worker(&url, &job, Duration::from_millis(300)).await;
        let survivor = worker(&url, &job, DEFAULT_LEASE).await;
        let pass = short_lived.begin_pass().await.unwrap();
        let batch: Vec<NewEntry> = (0..5)
            .map(|i| {
                new_entry(
                    ExchangeId::new("okx"),
                    &format!("takeover-key-{i:04}"),
                    0,
                    i,
                )
            })
            .collect();
        short_lived.enqueue(pass, &batch).await.unwrap();

        let held = short_lived.claim(ExchangeId::new("okx"), 10).await.unwrap();
        assert_eq!(held.len(), 5);
        assert!(
            survivor
                .claim(ExchangeId::new("okx"), 10)
                .await
                .unwrap()
                .is_empty(),
            "a live lease must not be taken over"
        );

        // The first worker "dies": it stops renewing and its leases run out.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let taken = survivor.claim(ExchangeId::new("okx"), 10).await.unwrap();
        let held_ids: Vec<EntryId> = held.iter().map(|e| e.id).collect();
        let taken_ids: Vec<EntryId> = taken.iter().map(|e| e.id).collect();
        assert_eq!(
            taken_ids, held_ids,
            "expired leases must pass to the survivor"
        );

        // Back from the dead, the first worker gets nothing of them, and its
        // late record does not take the survivor's lease back.
        assert!(
            short_lived
                .claim(ExchangeId::new("okx"), 10)
                .await
                .unwrap()
                .is_empty()
        );
        short_lived
            .record(transition(held_ids[0], State::InFlight))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(
            short_lived
                .claim(ExchangeId::new("okx"), 10)
                .await
                .unwrap()
                .is_empty(),
            "the survivor's leases (60 s) must still hold"
        );
        short_lived.delete_job().await.unwrap();
    }

    #[tokio::test]
    async fn record_renews_the_lease_of_an_unfinished_entry() {
        let Some(url) = server_url("record_renews_the_lease") else {
            return;
        };
        let job = unique_job("renew");
        let holder = worker(&url, &job, Duration::from_millis(800)).await;
        let other = worker(&url, &job, DEFAULT_LEASE).await;
        let pass = holder.begin_pass().await.unwrap();
        holder
            .enqueue(
                pass,
                &[new_entry(ExchangeId::new("gate"), "renewed-key-0001", 0, 0)],
            )
            .await
            .unwrap();
        let id = holder.claim(ExchangeId::new("gate"), 1).await.unwrap()[0].id;
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            holder.record(transition(id, State::Unknown)).await.unwrap();
        }
        assert!(
            other
                .claim(ExchangeId::new("gate"), 1)
                .await
                .unwrap()
                .is_empty(),
            "1.2 s after claiming with an 0.8 s lease, records must have kept it"
        );
        holder.delete_job().await.unwrap();
    }

    #[tokio::test]
    async fn jobs_in_one_database_do_not_see_each_other() {
        let Some(url) = server_url("jobs_in_one_database_do_not_see_each_other") else {
            return;
        };
        let one = worker(&url, &unique_job("job-one"), DEFAULT_LEASE).await;
        let two = worker(&url, &unique_job("job-two"), DEFAULT_LEASE).await;
        let pass = one.begin_pass().await.unwrap();
        one.enqueue(
            pass,
            &[new_entry(
                ExchangeId::new("kraken"),
                "job-one-key-001",
                0,
                0,
            )],
        )
        .await
        .unwrap();
        assert!(
            two.claim(ExchangeId::new("kraken"), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(two.counts().await.unwrap().by_exchange.is_empty());
        assert!(two.exchanges_with_work().await.unwrap().is_empty());
        assert_eq!(
            two.begin_pass().await.unwrap(),
            1,
            "each job numbers its own passes"
        );
        one.delete_job().await.unwrap();
        two.delete_job().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_passes_get_distinct_increasing_numbers() {
        let Some(url) = server_url("concurrent_passes") else {
            return;
        };
        let job = unique_job("passes");
        let a = Arc::new(worker(&url, &job, DEFAULT_LEASE).await);
        let b = Arc::new(worker(&url, &job, DEFAULT_LEASE).await);
        let spawn = |j: Arc<PgJournal>| {
            tokio::spawn(async move {
                let mut passes = Vec::new();
                for _ in 0..20 {
                    passes.push(j.begin_pass().await.unwrap());
                }
                passes
            })
        };
        let (pa, pb) = tokio::join!(spawn(a.clone()), spawn(b.clone()));
        let (pa, pb) = (pa.unwrap(), pb.unwrap());
        assert!(
            pa.windows(2).all(|w| w[0] < w[1]),
            "passes must increase: {pa:?}"
        );
        let mut all: Vec<i64> = pa.into_iter().chain(pb).collect();
        all.sort();
        all.dedup();
        assert_eq!(
            all,
            (1..=40).collect::<Vec<_>>(),
            "40 passes, no repeats, no gaps"
        );
        a.delete_job().await.unwrap();
    }
}
