//! `.ci/run`'s PostgreSQL step (`.ci/pg-env.sh`), run with stand-in setup
//! scripts: in CI a PostgreSQL that cannot start stops the run; elsewhere
//! its tests are skipped, and the step says so.

use std::path::Path;
use std::process::Output;

/// Source the step in bash as `.ci/run` does, with `setup` as the setup
/// script and CI set or not; the script then prints the exported URL.
fn pg_step(setup: &Path, ci: bool) -> Output {
    let mut cmd = std::process::Command::new("bash");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "-c",
            "set -euo pipefail; source .ci/pg-env.sh; echo \"URL=${KEYREVOKE_TEST_PG_URL:-}\"",
        ])
        .env("KEYREVOKE_PG_SETUP", setup)
        .env_remove("KEYREVOKE_TEST_PG_URL")
        .env_remove("CI");
    if ci {
        cmd.env("CI", "true");
    }
    cmd.output().expect("bash runs")
}

fn setup_script(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("pg-setup.sh");
    std::fs::write(&path, body).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn in_ci_a_postgresql_that_cannot_start_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let failing = setup_script(dir.path(), "echo 'cannot start' >&2; exit 1\n");
    let out = pg_step(&failing, true);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("URL="), "the run went on");
    assert!(
        text(&out.stderr).contains("CI is set"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn outside_ci_a_postgresql_that_cannot_start_is_skipped_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let failing = setup_script(dir.path(), "exit 1\n");
    let out = pg_step(&failing, false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("will be skipped"), "{stdout}");
    assert!(stdout.contains("URL=\n"), "{stdout}");
}

#[test]
fn the_url_the_setup_prints_last_is_exported() {
    let dir = tempfile::tempdir().unwrap();
    let working = setup_script(
        dir.path(),
        "echo 'starting'\necho 'postgres://postgres@127.0.0.1:5432/keyrevoke_test'\n",
    );
    for ci in [false, true] {
        let out = pg_step(&working, ci);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("URL=postgres://postgres@127.0.0.1:5432/keyrevoke_test"),
            "{}",
            text(&out.stdout)
        );
    }
}
