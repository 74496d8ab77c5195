//! What both engines share: turning rows into [`JobEntry`]s, merging a
//! batch's repeated keys, worker ids, clocks and error wording.

use keyrevoke_core::exchange::ExchangeId;
use keyrevoke_core::model::{Action, Route, State};
use keyrevoke_core::secret::Fingerprint;
use keyrevoke_core::store::{Counts, JobEntry, KeyTiming, NewEntry, SourceRef, StoreError};
use sqlx::{ColumnIndex, Decode, Row, Type};
use std::collections::HashSet;
use std::str::FromStr;

/// How long a claim holds an entry unless `record` renews it.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// Wraps a database error with what the journal was doing.
pub fn db_error(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        if server_unreachable(&e) {
            StoreError::Unavailable(format!("{doing}: {e}"))
        } else {
            StoreError::Journal(format!("{doing}: {e}"))
        }
    }
}

/// Errors that say the server is gone for now, not that the request was
/// wrong: a lost or refused connection, no connection free in time, or the
/// server shutting down or starting (SQLSTATE classes 08, connection
/// exception, and 57P, operator intervention: 57P01 admin shutdown, 57P02
/// crash shutdown, 57P03 cannot connect now).
fn server_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => true,
        // And class 40, transaction rollback (a deadlock between two
        // workers' claims, a serialization failure): the same call, made
        // again, succeeds.
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c.starts_with("40")),
        _ => false,
    }
}

pub use keyrevoke_core::http::unix_ms as now_millis;

/// A lease owner id: readable enough for an operator looking at a shared
/// journal (host and pid), random enough that two opens never collide.
pub fn new_owner_id() -> String {
    format!(
        "{}/{}/{:016x}",
        host_name(),
        std::process::id(),
        rand::random::<u64>()
    )
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname writes
    // at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The rows of a batch that are new to it, in order, and how many repeated
/// an earlier row's key. A repeat is merged into the first occurrence, whose
/// rank and source win; the database never sees it, because an upsert may
/// not touch one row twice.
pub fn first_occurrences(batch: &[NewEntry]) -> (Vec<&NewEntry>, u64) {
    let mut seen: HashSet<(ExchangeId, &str, Action)> = HashSet::with_capacity(batch.len());
    let mut unique = Vec::with_capacity(batch.len());
    let mut repeats = 0;
    for entry in batch {
        if seen.insert((entry.exchange, entry.fingerprint.as_str(), entry.action)) {
            unique.push(entry);
        } else {
            repeats += 1;
        }
    }
    (unique, repeats)
}

fn parse<T: FromStr>(what: &str, text: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>()
        .map_err(|e| StoreError::Journal(format!("corrupt {what} in journal: {e}")))
}

/// `(exchange, state, count)` rows of a GROUP BY, as [`Counts`].
pub fn counts_from(rows: Vec<(String, String, i64)>) -> Counts {
    let mut counts = Counts::default();
    for (exchange, state, n) in rows {
        counts
            .by_exchange
            .entry(exchange)
            .or_default()
            .insert(state, n as u64);
    }
    counts
}

/// An exchange id as the journal stored it (checked against the registry
/// when the row was enqueued).
pub fn parse_exchange(text: &str) -> Result<ExchangeId, StoreError> {
    ExchangeId::stored(text)
        .ok_or_else(|| StoreError::Journal(format!("corrupt exchange in journal: {text:?}")))
}

fn non_negative<T: TryFrom<i64>>(what: &str, value: i64) -> Result<T, StoreError> {
    T::try_from(value)
        .map_err(|_| StoreError::Journal(format!("corrupt {what} in journal: {value}")))
}

/// Builds a [`JobEntry`] from a row selected with
/// [`crate::schema::entry_select_list`], on either engine.
pub fn decode_entry<'r, R>(row: &'r R) -> Result<JobEntry, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |col: &'static str| -> Result<String, StoreError> {
        row.try_get::<String, _>(col)
            .map_err(db_error("reading an entry"))
    };
    let optional_text = |col: &'static str| -> Result<Option<String>, StoreError> {
        row.try_get::<Option<String>, _>(col)
            .map_err(db_error("reading an entry"))
    };
    let int = |col: &'static str| -> Result<i64, StoreError> {
        row.try_get::<i64, _>(col)
            .map_err(db_error("reading an entry"))
    };

    let route = match optional_text("route")? {
        Some(r) => Some(parse::<Route>("route", &r)?),
        None => None,
    };
    Ok(JobEntry {
        id: int("id")?,
        exchange: parse_exchange(&text("exchange")?)?,
        fingerprint: Fingerprint::from_hex(text("fingerprint")?),
        masked: text("masked")?,
        label: optional_text("label")?,
        action: parse::<Action>("action", &text("action")?)?,
        state: parse::<State>("state", &text("state")?)?,
        route,
        attempts: non_negative("attempts", int("attempts")?)?,
        code: optional_text("code")?,
        message: optional_text("message")?,
        probe: optional_text("probe")?,
        source: SourceRef {
            offset: non_negative("source offset", int("source_offset")?)?,
            len: non_negative("source length", int("source_len")?)?,
            line: non_negative("source line", int("source_line")?)?,
        },
    })
}

/// Columns of an entry that [`decode_timing`] reads besides the two times,
/// which each engine selects in its own clock (see `timings`).
pub const TIMING_COLUMNS: &str = "exchange, fingerprint, masked, state, route, attempts";

/// A [`KeyTiming`] from a row selected with [`TIMING_COLUMNS`] and the
/// entry's start and finish times in Unix milliseconds.
pub fn decode_timing<'r, R>(
    row: &'r R,
    started_at: Option<i64>,
    finished_at: Option<i64>,
) -> Result<KeyTiming, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |col: &'static str| -> Result<String, StoreError> {
        row.try_get::<String, _>(col)
            .map_err(db_error("reading key timings"))
    };
    let route = match row
        .try_get::<Option<String>, _>("route")
        .map_err(db_error("reading key timings"))?
    {
        Some(r) => Some(parse::<Route>("route", &r)?),
        None => None,
    };
    let attempts: i64 = row
        .try_get("attempts")
        .map_err(db_error("reading key timings"))?;
    Ok(KeyTiming {
        exchange: parse_exchange(&text("exchange")?)?,
        fingerprint: Fingerprint::from_hex(text("fingerprint")?),
        masked: text("masked")?,
        state: parse::<State>("state", &text("state")?)?,
        route,
        attempts: non_negative("attempts", attempts)?,
        started_at,
        finished_at,
    })
}

/// Decodes the rows a claim returned (entry columns plus `rank`), in claim
/// order, on either engine.
pub fn claimed_in_order<'r, R>(rows: &'r [R]) -> Result<Vec<JobEntry>, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let claimed = rows
        .iter()
        .map(|row| {
            let rank: i64 = row.try_get("rank").map_err(db_error("claiming"))?;
            Ok((rank, decode_entry(row)?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(in_claim_order(claimed))
}

/// Puts claimed `(rank, entry)` pairs in claim order: rank first so that
/// accounts interleave, then inventory order. `UPDATE … RETURNING` yields
/// rows in no particular order, hence this sort.
fn in_claim_order(mut claimed: Vec<(i64, JobEntry)>) -> Vec<JobEntry> {
    claimed.sort_by_key(|(rank, e)| (*rank, e.source.offset, e.id));
    claimed.into_iter().map(|(_, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::new_entry;

    #[test]
    fn repeated_keys_in_one_batch_merge_into_the_first() {
        let mut second = new_entry(ExchangeId::new("bybit"), "k1", 0, 1);
        second.rank = 9;
        let batch = vec![
            new_entry(ExchangeId::new("bybit"), "k1", 0, 0),
            new_entry(ExchangeId::new("okx"), "k1", 0, 2),
            second,
            new_entry(ExchangeId::new("bybit"), "k2", 0, 3),
        ];
        let (unique, repeats) = first_occurrences(&batch);
        assert_eq!(repeats, 1, "only the second bybit k1 repeats a key");
        assert_eq!(unique.len(), 3);
        assert_eq!(unique[0].rank, 0, "the first occurrence must win");
    }

    #[test]
    fn owner_ids_differ_per_call() {
        assert_ne!(new_owner_id(), new_owner_id());
    }
}
