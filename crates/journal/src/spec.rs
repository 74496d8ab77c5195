//! Choosing an engine from the `--journal` spec: a PostgreSQL URL (with an
//! optional `?job=NAME`) or a SQLite file path.

use crate::postgres::PgJournal;
use crate::reconnecting::Reconnecting;
use crate::sqlite::SqliteJournal;
use keyrevoke_core::store::{JobStore, StoreError};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The job name used when a PostgreSQL spec names none.
pub const DEFAULT_JOB: &str = "default";

/// Where a job's journal lives.
#[derive(Clone, PartialEq, Eq)]
pub enum JournalSpec {
    Sqlite(PathBuf),
    /// `url` is the connection URL without the `job` and `lease_secs`
    /// parameters.
    Postgres {
        url: String,
        job: String,
        /// How long a claim holds an entry without renewal (`lease_secs=`;
        /// default [`crate::DEFAULT_LEASE`]): how soon a dead worker's keys
        /// pass to the others.
        lease: Option<Duration>,
    },
}

impl JournalSpec {
    /// `postgres://…` or `postgresql://…` selects PostgreSQL, with the job
    /// taken from (and stripped out of) a `job=` query parameter, and the
    /// lease from `lease_secs=`; anything else is a SQLite file path.
    pub fn parse(spec: &str) -> Result<JournalSpec, StoreError> {
        let is_postgres = ["postgres://", "postgresql://"].iter().any(|scheme| {
            spec.get(..scheme.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
        });
        if !is_postgres {
            if spec.trim().is_empty() {
                return Err(StoreError::Journal("empty journal path".into()));
            }
            return Ok(JournalSpec::Sqlite(PathBuf::from(spec)));
        }
        let (base, query) = match spec.split_once('?') {
            Some((base, query)) => (base, query),
            None => (spec, ""),
        };
        let mut job = None;
        let mut lease = None;
        let mut kept = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if key == "job" {
                job = Some(value.into_owned());
            } else if key == "lease_secs" {
                let secs = value
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| {
                        StoreError::Journal(format!(
                            "journal URL: lease_secs must be a positive number of seconds, not `{value}`"
                        ))
                    })?;
                lease = Some(Duration::from_secs(secs));
            } else {
                kept.append_pair(&key, &value);
            }
        }
        let kept = kept.finish();
        let job = job.unwrap_or_else(|| DEFAULT_JOB.to_string());
        if job.trim().is_empty() {
            return Err(StoreError::Journal("empty job name in journal URL".into()));
        }
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{kept}")
        };
        Ok(JournalSpec::Postgres { url, job, lease })
    }

    pub async fn open(&self) -> Result<Arc<dyn JobStore>, StoreError> {
        Ok(match self {
            JournalSpec::Sqlite(path) => Arc::new(SqliteJournal::open(path).await?),
            // A shared journal's server may restart under running workers.
            JournalSpec::Postgres { url, job, lease } => Arc::new(Reconnecting::new(
                Arc::new(
                    PgJournal::connect_with_lease(url, job, lease.unwrap_or(crate::DEFAULT_LEASE))
                        .await?,
                ),
                crate::OUTAGE_PATIENCE,
            )),
        })
    }
}

/// Prints the spec with any password hidden, so it can be logged.
impl fmt::Display for JournalSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalSpec::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            JournalSpec::Postgres { url, job, .. } => {
                write!(f, "{} (job {job})", redact_password(url))
            }
        }
    }
}

impl fmt::Debug for JournalSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparsable url>".to_string(),
    }
}

/// Opens the journal a spec names: PostgreSQL for `postgres://` and
/// `postgresql://` URLs (job from `?job=`, default `"default"`), otherwise
/// the SQLite file at that path.
pub async fn open_journal(spec: &str) -> Result<Arc<dyn JobStore>, StoreError> {
    JournalSpec::parse(spec)?.open().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres(url: &str, job: &str) -> JournalSpec {
        JournalSpec::Postgres {
            url: url.into(),
            job: job.into(),
            lease: None,
        }
    }

    #[test]
    fn a_path_means_sqlite() {
        assert_eq!(
            JournalSpec::parse("postgre€s.db").unwrap(),
            JournalSpec::Sqlite(PathBuf::from("postgre€s.db")),
            "a path that merely starts like a URL is a path"
        );
        assert_eq!(
            JournalSpec::parse("runs/job.db").unwrap(),
            JournalSpec::Sqlite(PathBuf::from("runs/job.db"))
        );
        assert!(
            JournalSpec::parse("  ").is_err(),
            "an empty path must be refused"
        );
    }

    #[test]
    fn a_postgres_url_without_job_uses_the_default_job() {
        assert_eq!(
            JournalSpec::parse("postgres://u@db/keyrevoke").unwrap(),
            postgres("postgres://u@db/keyrevoke", "default")
        );
        assert_eq!(
            JournalSpec::parse("postgresql://u@db/keyrevoke").unwrap(),
            postgres("postgresql://u@db/keyrevoke", "default")
        );
    }

    #[test]
    fn the_job_parameter_is_stripped_and_other_parameters_kept() {
        assert_eq!(
            JournalSpec::parse("postgres://u@db/k?job=incident-42").unwrap(),
            postgres("postgres://u@db/k", "incident-42")
        );
        assert_eq!(
            JournalSpec::parse("postgres://u@db/k?sslmode=require&job=a%20b&application_name=kr")
                .unwrap(),
            postgres(
                "postgres://u@db/k?sslmode=require&application_name=kr",
                "a b"
            )
        );
        assert!(JournalSpec::parse("postgres://u@db/k?job=").is_err());
    }

    #[test]
    fn the_lease_parameter_sets_how_soon_a_dead_worker_s_keys_pass_on() {
        match JournalSpec::parse("postgres://u@db/k?job=a&lease_secs=5").unwrap() {
            JournalSpec::Postgres { url, job, lease } => {
                assert_eq!((url.as_str(), job.as_str()), ("postgres://u@db/k", "a"));
                assert_eq!(lease, Some(Duration::from_secs(5)));
            }
            other => panic!("{other:?}"),
        }
        for bad in ["0", "-1", "soon"] {
            let e = JournalSpec::parse(&format!("postgres://u@db/k?lease_secs={bad}"));
            assert!(e.is_err(), "lease_secs={bad} must be refused");
        }
    }

    #[test]
    fn displaying_a_spec_hides_the_password() {
        let spec = JournalSpec::parse("postgres://user:hunter2@db/k?job=x").unwrap();
        let shown = format!("{spec} {spec:?}");
        assert!(!shown.contains("hunter2"), "password leaked: {shown}");
        assert!(shown.contains("job x"), "job missing: {shown}");
    }
}
