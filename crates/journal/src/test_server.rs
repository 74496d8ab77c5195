//! Where the PostgreSQL tests find their server: the URL in
//! `KEYREVOKE_TEST_PG_URL` (`.ci/pg-setup.sh` prints one). One rule for every
//! test that needs it, in this crate and in keyrevoke's end-to-end tests.
//!
//! In CI (`CI` set, as every CI service sets it) a missing URL fails the
//! test: a test that returned early would count as passed, and the
//! PostgreSQL engine would go untested unseen. A developer without a server
//! gets the test skipped, with a message cargo does not hide.

use std::io::Write;

/// The variable that names the test server.
pub const TEST_PG_URL_VAR: &str = "KEYREVOKE_TEST_PG_URL";

/// The test server's URL for `test`; `None` (after saying so on stderr) when
/// there is none and this is not CI. Panics in CI without one.
pub fn test_pg_url(test: &str) -> Option<String> {
    let url = std::env::var(TEST_PG_URL_VAR).ok();
    let ci = std::env::var("CI").is_ok_and(|v| !v.trim().is_empty());
    match server_for(test, url, ci) {
        Ok(Some(url)) => Some(url),
        Ok(None) => {
            // Straight to the stderr handle: libtest captures `eprintln!`
            // of a passing test, and a skip nobody sees is the problem.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {TEST_PG_URL_VAR} is not set (see .ci/pg-setup.sh)"
            );
            None
        }
        Err(why) => panic!("{why}"),
    }
}

/// The decision, apart from the environment: the URL when there is one,
/// `None` (skip) outside CI, an error in CI.
fn server_for(test: &str, url: Option<String>, ci: bool) -> Result<Option<String>, String> {
    match url.filter(|u| !u.trim().is_empty()) {
        Some(url) => Ok(Some(url)),
        None if ci => Err(format!(
            "{test} needs PostgreSQL and CI is set, but {TEST_PG_URL_VAR} is not: \
             a CI run must not skip it (start one with .ci/pg-setup.sh)"
        )),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_url_is_used_in_ci_and_out() {
        for ci in [false, true] {
            assert_eq!(
                server_for("t", Some("postgres://h/db".into()), ci),
                Ok(Some("postgres://h/db".into()))
            );
        }
    }

    #[test]
    fn without_a_url_a_developer_skips_and_ci_fails() {
        assert_eq!(server_for("t", None, false), Ok(None));
        assert_eq!(server_for("t", Some("  ".into()), false), Ok(None));
        let why = server_for("pg_claims", None, true).unwrap_err();
        assert!(
            why.contains("pg_claims") && why.contains(TEST_PG_URL_VAR),
            "{why}"
        );
        assert!(server_for("t", Some("".into()), true).is_err());
    }
}
