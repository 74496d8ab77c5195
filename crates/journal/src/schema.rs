//! Table layouts of both engines.
//!
//! One row per (exchange, fingerprint, action). No column holds a secret:
//! keys are known by their SHA-256 fingerprint and a masked form only.
//!
//! `enqueued_pass` and `seen_pass` let one upsert tell the three enqueue
//! outcomes apart: a row it inserted has `enqueued_pass = seen_pass = pass`;
//! a row it updated came from an earlier pass (`enqueued_pass < pass`); a row
//! it left alone was already seen by this pass (a duplicate).
//!
//! The claim index is partial (non-terminal states only) and holds
//! `lease_expires`, so a claim reads only unfinished rows, in claim order,
//! and can skip leased ones without touching the table: it stays fast when
//! most of a million-row job is done or leased.

/// Bumped when a table changes shape; a journal written by a newer schema is
/// refused rather than misread, an older one is migrated on open.
///
/// - 1: the first layout.
/// - 2: `started_at` (a key's first claim) and `finished_at` (when its
///   outcome was recorded) on entries, for the report's timeline, per-exchange
///   durations and slowest keys. `updated_at` could not serve: it also moves
///   on enqueue and on every non-terminal record, and no column held when
///   work on a key began. A version 1 journal gains both columns;
///   `finished_at` is filled from `updated_at` for keys already finished
///   (their last write was the outcome), `started_at` stays empty for them.
pub const SCHEMA_VERSION: i64 = 2;

/// Added to PostgreSQL journals without a version bump: a nullable column
/// that binaries of the same version neither read nor need (their rows
/// leave it empty and are claimed as before), so a journal shared with
/// them stays readable by both. Run only when the column is missing.
pub const POSTGRES_RATE_ACCOUNT_COLUMN: &str =
    "ALTER TABLE keyrevoke_entries ADD COLUMN IF NOT EXISTS rate_account TEXT";

/// Statements that bring a journal of the previous version to
/// [`SCHEMA_VERSION`], for each engine: `(from_version, statements)`.
pub const SQLITE_MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "ALTER TABLE entries ADD COLUMN started_at INTEGER",
        "ALTER TABLE entries ADD COLUMN finished_at INTEGER",
        "UPDATE entries SET finished_at = updated_at
         WHERE state NOT IN ('pending', 'in_flight', 'unknown')",
    ],
)];

pub const POSTGRES_MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "ALTER TABLE keyrevoke_entries ADD COLUMN IF NOT EXISTS started_at TIMESTAMPTZ",
        "ALTER TABLE keyrevoke_entries ADD COLUMN IF NOT EXISTS finished_at TIMESTAMPTZ",
        "UPDATE keyrevoke_entries SET finished_at = updated_at
         WHERE state NOT IN ('pending', 'in_flight', 'unknown') AND finished_at IS NULL",
    ],
)];

/// The statements that migrate a journal at `version` to
/// [`SCHEMA_VERSION`], or why it cannot be opened.
pub fn migration_from(
    version: &str,
    migrations: &'static [(i64, &'static [&'static str])],
) -> Result<Vec<&'static str>, String> {
    let version: i64 = version
        .parse()
        .map_err(|_| format!("journal schema version {version:?} is not a number"))?;
    if !(1..=SCHEMA_VERSION).contains(&version) {
        return Err(format!(
            "journal schema version {version} is not the supported {SCHEMA_VERSION}"
        ));
    }
    Ok(migrations
        .iter()
        .filter(|(from, _)| *from >= version)
        .flat_map(|(_, statements)| statements.iter().copied())
        .collect())
}

/// The states a worker may still act on, as an SQL list. Must match
/// [`keyrevoke_core::model::State::is_terminal`] (checked by a test).
pub const UNFINISHED_STATES_SQL: &str = "('pending', 'in_flight', 'unknown')";

/// Columns of `entries` that make up a [`keyrevoke_core::store::JobEntry`].
pub const ENTRY_COLUMNS: &[&str] = &[
    "id",
    "exchange",
    "fingerprint",
    "masked",
    "label",
    "action",
    "state",
    "route",
    "attempts",
    "code",
    "message",
    "probe",
    "source_offset",
    "source_len",
    "source_line",
];

/// `ENTRY_COLUMNS` as a select list, each qualified by `table` if given.
pub fn entry_select_list(table: Option<&str>) -> String {
    ENTRY_COLUMNS
        .iter()
        .map(|c| match table {
            Some(t) => format!("{t}.{c}"),
            None => (*c).to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite: one job per file, so no job column. Times are Unix milliseconds.
pub const SQLITE_DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )",
    // AUTOINCREMENT: pass numbers never repeat, even after rows are deleted.
    "CREATE TABLE IF NOT EXISTS passes (
        pass       INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS entries (
        id            INTEGER PRIMARY KEY,
        exchange      TEXT    NOT NULL,
        fingerprint   TEXT    NOT NULL,
        action        TEXT    NOT NULL,
        masked        TEXT    NOT NULL,
        label         TEXT,
        state         TEXT    NOT NULL,
        route         TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        code          TEXT,
        message       TEXT,
        probe         TEXT,
        source_offset INTEGER NOT NULL,
        source_len    INTEGER NOT NULL,
        source_line   INTEGER NOT NULL,
        rank          INTEGER NOT NULL,
        enqueued_pass INTEGER NOT NULL,
        seen_pass     INTEGER NOT NULL,
        lease_owner   TEXT,
        lease_expires INTEGER,
        updated_at    INTEGER NOT NULL,
        started_at    INTEGER,
        finished_at   INTEGER,
        UNIQUE (exchange, fingerprint, action)
    )",
    "CREATE INDEX IF NOT EXISTS entries_claimable
        ON entries (exchange, rank, source_offset, lease_expires)
        WHERE state IN ('pending', 'in_flight', 'unknown')",
    // Serves list() (ordered by line) and counts() (a covering scan).
    "CREATE INDEX IF NOT EXISTS entries_by_state
        ON entries (exchange, state, source_line)",
];

/// PostgreSQL: many jobs share the tables, told apart by `job`. Times are
/// the server's, so that workers with skewed clocks agree on lease expiry.
pub const POSTGRES_DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS keyrevoke_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS keyrevoke_jobs (
        job        TEXT PRIMARY KEY,
        last_pass  BIGINT      NOT NULL DEFAULT 0,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )",
    "CREATE TABLE IF NOT EXISTS keyrevoke_passes (
        job        TEXT        NOT NULL,
        pass       BIGINT      NOT NULL,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (job, pass)
    )",
    "CREATE TABLE IF NOT EXISTS keyrevoke_entries (
        id            BIGSERIAL PRIMARY KEY,
        job           TEXT   NOT NULL,
        exchange      TEXT   NOT NULL,
        fingerprint   TEXT   NOT NULL,
        action        TEXT   NOT NULL,
        masked        TEXT   NOT NULL,
        label         TEXT,
        state         TEXT   NOT NULL,
        route         TEXT,
        attempts      BIGINT NOT NULL DEFAULT 0,
        code          TEXT,
        message       TEXT,
        probe         TEXT,
        source_offset BIGINT NOT NULL,
        source_len    BIGINT NOT NULL,
        source_line   BIGINT NOT NULL,
        rank          BIGINT NOT NULL,
        enqueued_pass BIGINT NOT NULL,
        seen_pass     BIGINT NOT NULL,
        lease_owner   TEXT,
        lease_expires TIMESTAMPTZ,
        updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
        started_at    TIMESTAMPTZ,
        finished_at   TIMESTAMPTZ,
        UNIQUE (job, exchange, fingerprint, action)
    )",
    "CREATE INDEX IF NOT EXISTS keyrevoke_entries_claimable
        ON keyrevoke_entries (job, exchange, rank, source_offset, lease_expires)
        WHERE state IN ('pending', 'in_flight', 'unknown')",
    "CREATE INDEX IF NOT EXISTS keyrevoke_entries_by_state
        ON keyrevoke_entries (job, exchange, state, source_line)",
    // A `panic` job's discovery journal (keys found, pages listed), in
    // the order appended: a run resumed from any machine lists nothing
    // recorded again (JobStore::discovery_lines).
    "CREATE TABLE IF NOT EXISTS keyrevoke_discovery (
        seq  BIGSERIAL PRIMARY KEY,
        job  TEXT NOT NULL,
        kind TEXT NOT NULL,
        line TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS keyrevoke_discovery_by_job
        ON keyrevoke_discovery (job, seq)",
    // Which worker spends each shared rate-limit account's budget: one at a
    // time, so that workers together never exceed it (README, "Workers").
    // A lease lapses when its worker stops renewing it (it died); it is
    // dropped when the account has no unfinished key left.
    "CREATE TABLE IF NOT EXISTS keyrevoke_account_leases (
        job      TEXT        NOT NULL,
        exchange TEXT        NOT NULL,
        account  TEXT        NOT NULL,
        owner    TEXT        NOT NULL,
        expires  TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (job, exchange, account)
    )",
];

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::model::State;

    #[test]
    fn an_older_journal_is_migrated_and_a_newer_one_refused() {
        assert_eq!(
            migration_from("1", SQLITE_MIGRATIONS).unwrap().len(),
            3,
            "version 1 gains started_at, finished_at and the backfill"
        );
        assert!(migration_from("2", SQLITE_MIGRATIONS).unwrap().is_empty());
        let newer = migration_from("3", POSTGRES_MIGRATIONS).unwrap_err();
        assert!(newer.contains("not the supported 2"), "{newer}");
        assert!(migration_from("x", POSTGRES_MIGRATIONS).is_err());
    }

    #[test]
    fn the_unfinished_state_list_matches_the_model() {
        let unfinished: Vec<String> = State::ALL
            .iter()
            .filter(|s| !s.is_terminal())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(
            UNFINISHED_STATES_SQL,
            format!("({})", unfinished.join(", ")),
            "schema's unfinished-state list drifted from State::is_terminal"
        );
        for (_, statements) in SQLITE_MIGRATIONS.iter().chain(POSTGRES_MIGRATIONS) {
            for sql in statements.iter().filter(|s| s.contains("state NOT IN")) {
                assert!(
                    sql.contains(&format!("state NOT IN {UNFINISHED_STATES_SQL}")),
                    "a migration's finished-state test differs from UNFINISHED_STATES_SQL: {sql}"
                );
            }
        }
        // The partial indexes must use the same predicate as the queries,
        // or the planners will not pick them.
        for ddl in SQLITE_DDL.iter().chain(POSTGRES_DDL) {
            if ddl.contains("_claimable") {
                assert!(
                    ddl.contains(&format!("WHERE state IN {UNFINISHED_STATES_SQL}")),
                    "claim index predicate differs from UNFINISHED_STATES_SQL: {ddl}"
                );
            }
        }
    }
}
