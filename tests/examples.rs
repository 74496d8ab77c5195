//! The examples/ folder keeps working: the breach drill's script, run as an
//! operator would, against the simulator it starts on loopback. (The
//! library example runs as a test of its own: `cargo test --example library`.)

mod common;

use common::*;
use std::path::Path;

/// Run an example's script as an operator would, with this build's binary,
/// writing into `out`; it must succeed. What it said, for the checks.
async fn run_script(script: &str, out: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let ran = tokio::process::Command::new("bash")
        .arg(&script)
        .env("KEYREVOKE", BIN)
        .env("OUT", out)
        // Any free loopback ports: tests run side by side.
        .env("SIM_PORT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("bash runs");
    let said = describe(&ran);
    assert_eq!(ran.status.code(), Some(0), "{said}");
    said
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breach_drill_script_runs_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("drill");
    let said = run_script("examples/breach/run.sh", &out).await;
    for step in [
        "1. Plan",
        "2. Run",
        "3. Status",
        "4. Verify",
        "5. The report",
    ] {
        assert!(said.contains(step), "step {step:?} missing: {said}");
    }
    assert!(
        said.contains("--dry-run: nothing sent"),
        "the plan sends nothing"
    );
    assert!(
        said.contains("intact:") && said.contains("HMAC-signed"),
        "the audit verifies with its signing key: {said}"
    );

    // 24 sub keys deleted by their masters; the 2 FTX keys escalated.
    let report = report_json(&out);
    let summary = &report["summary"];
    assert_eq!(summary["total"], 26, "{summary}");
    assert_eq!(summary["revoked"], 24, "{summary}");
    assert_eq!(summary["escalated"], 2, "{summary}");
    assert_eq!(report["audit"]["hmac_signed"], true);
    assert_eq!(
        report["audit"]["hmac_checked"], true,
        "with the config's key"
    );
    assert_eq!(report_json(&out.join("report-again"))["summary"], *summary);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(network_references(&html), Vec::<String>::new());
    assert!(out.join("escalations/ftx.csv").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panic_drill_script_lists_and_revokes_every_key_under_the_masters() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("panic");
    let said = run_script("examples/panic/run.sh", &out).await;
    for step in ["1. Plan", "2. Run", "3. Verify"] {
        assert!(said.contains(step), "step {step:?} missing: {said}");
    }
    assert!(said.contains("--dry-run: keys listed"), "{said}");
    assert!(
        said.contains("6 found, 1 spared"),
        "the plan per master: {said}"
    );
    // 12 keys found, the two labelled user-0 spared; 10 revoked by their
    // masters, then the Bybit master itself; the Binance master escalated.
    let summary = &report_json(&out)["summary"];
    assert_eq!(summary["total"], 12, "{summary}");
    assert_eq!(summary["revoked"], 11, "{summary}");
    assert_eq!(summary["escalated"], 1, "{summary}");
    assert!(said.contains("intact:"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rotation_drill_rotates_the_due_keys_once_and_the_demo_identity_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rotation");
    let said = run_script("examples/rotation/run.sh", &out).await;
    for step in [
        "1. Dry run",
        "2. Rotate",
        "3. The next scheduled run",
        "4. Verify",
    ] {
        assert!(said.contains(step), "step {step:?} missing: {said}");
    }
    // Four keys on each of four exchanges, every other one past 90 days.
    assert!(
        said.contains("rotated 8 of 8 due (8 not due, 0 failed, 0 pending) of 16 keys"),
        "{said}"
    );
    assert!(
        said.contains("rotated 0 of 0 due (16 not due, 0 failed, 0 pending) of 16 keys"),
        "the next run finds nothing due: {said}"
    );
    // The example's identity opens what the run wrote.
    let identity_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rotation/identity.txt"),
    )
    .unwrap();
    let identity: age::x25519::Identity = identity_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .parse()
        .unwrap();
    let file = out.join("rotated/bybit/rot-0.age");
    let plain = age::decrypt(&identity, &std::fs::read(&file).unwrap()).unwrap();
    let secret: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(secret["exchange"], "bybit", "{secret}");
    assert!(secret["api_secret"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(said.contains("intact:"), "{said}");
}
