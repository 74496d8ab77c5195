//! The whole path, through the real binary: inventory -> plan -> signed
//! requests to the simulator -> journal, audit, escalations -> summary.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::keys::KeyState;

const BYBIT: ExchangeId = ExchangeId::new("bybit");

/// The outcomes the population's rows should end with, from how each key
/// was generated: (revoked, already_dead, escalated).
fn expected_outcomes(s: &Scenario) -> (u64, u64, u64) {
    let initial: std::collections::HashMap<&str, &keyrevoke::sim::keys::SimKey> = s.population.keys
        [&BYBIT]
        .iter()
        .map(|k| (k.api_key.as_str(), k))
        .collect();
    let (mut revoked, mut dead, mut escalated) = (0, 0, 0);
    for row in &s.population.rows {
        let key = initial[row.api_key.as_str()];
        let can_delete_itself =
            row.api_secret.is_some() && key.permissions.iter().any(|p| p == "AccountTransfer");
        if !key.is_alive() {
            dead += 1;
        } else if row.via.is_some() || can_delete_itself {
            revoked += 1;
        } else {
            escalated += 1;
        }
    }
    (revoked, dead, escalated)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_inventory_is_revoked_end_to_end() {
    let s = Scenario::breach(&[BYBIT], 400, 11).await;
    let out = s.revoke().await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "escalations need a human: {}",
        describe(&out)
    );
    let sum = summary(&out);
    let rows = s.population.rows.len() as u64;
    assert_eq!(sum["total"], rows, "{sum}");
    assert_eq!(sum["pending"], 0, "{sum}");
    assert_eq!(sum["failed"], 0, "{sum}");

    // Every key the inventory can delete is gone; the masters are alive.
    let sim = s.sim.exchange(BYBIT);
    for row in &s.population.rows {
        let key = sim.keys.get(&row.api_key).unwrap();
        let deletable = row.via.is_some()
            || (row.api_secret.is_some() && key.permissions.iter().any(|p| p == "AccountTransfer"));
        if deletable {
            assert_eq!(
                key.state,
                KeyState::Deleted,
                "row {} should be deleted",
                row.label
            );
        }
    }
    for c in &s.population.credentials {
        assert!(
            sim.keys.get(&c.api_key).unwrap().is_alive(),
            "credential {} left alive",
            c.name
        );
    }
    let (revoked, already_dead, escalated) = expected_outcomes(&s);
    assert_eq!(sum["revoked"], revoked, "{sum}");
    assert_eq!(sum["already_dead"], already_dead, "{sum}");
    assert_eq!(sum["escalated"], escalated, "{sum}");
    let stats = sim.stats.snapshot();
    assert_eq!(stats.bad_signature, 0, "{stats:?}");
    assert_eq!(stats.stale_timestamp, 0, "{stats:?}");
    assert_eq!(stats.unknown_endpoint, 0, "{stats:?}");
    assert_eq!(
        stats.rate_limited + stats.ip_banned,
        0,
        "no rate-limit rejections: {stats:?}"
    );
    assert_no_key_asked_to_delete_twice(&s.sim);

    // Already-dead keys are reported as such, escalations are on file.
    assert!(sum["already_dead"].as_u64().unwrap() > 0, "{sum}");
    assert!(sum["escalated"].as_u64().unwrap() > 0, "{sum}");
    assert!(s.out().join("escalations/bybit.csv").exists());
    assert!(s.out().join("escalations/bybit-letter.txt").exists());

    // The audit verifies.
    let verify = run(&[
        "audit".into(),
        "verify".into(),
        s.out().join("audit.jsonl").display().to_string(),
    ])
    .await;
    assert_eq!(verify.status.code(), Some(0), "{}", describe(&verify));

    // No secret anywhere: stdout, stderr, journal, audit, escalation files.
    let mut haystacks: Vec<(String, Vec<u8>)> = artifacts(&s.out())
        .into_iter()
        .map(|(p, b)| (p.display().to_string(), b))
        .collect();
    haystacks.push(("stdout".into(), out.stdout.clone()));
    haystacks.push(("stderr".into(), out.stderr.clone()));
    for secret in s.secrets() {
        for (name, bytes) in &haystacks {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(&secret), "a secret leaked into {name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_the_same_command_again_sends_nothing_new() {
    let s = Scenario::breach(&[BYBIT], 120, 12).await;
    let first = s.revoke().await;
    assert_eq!(first.status.code(), Some(3), "{}", describe(&first));
    let before = s.requests(BYBIT);
    let second = s.revoke().await;
    assert_eq!(second.status.code(), Some(3), "{}", describe(&second));
    assert_eq!(s.requests(BYBIT), before, "the rerun sent requests");
    assert_eq!(
        outcomes(&first),
        outcomes(&second),
        "the rerun reports the whole job"
    );
    let status = run(&[
        "status".into(),
        "--journal".into(),
        s.out().join("journal.sqlite").display().to_string(),
        "--json".into(),
    ])
    .await;
    assert_eq!(outcomes(&status), outcomes(&first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_with_sigkill_resumes_without_losing_a_key() {
    let s = Scenario::breach(&[BYBIT], 600, 13).await;
    let mut child = tokio::process::Command::new(BIN)
        .args(s.revoke_args())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Let it get going, then kill it without warning.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.sim.exchange(BYBIT).stats.snapshot().deletes < 40
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let deleted_at_kill = s.sim.exchange(BYBIT).stats.snapshot().deletes;
    assert!(deleted_at_kill > 0, "the run had started");

    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let sum = summary(&out);
    assert_eq!(sum["total"], s.population.rows.len() as u64, "{sum}");
    assert_eq!(sum["pending"], 0, "{sum}");
    assert_eq!(sum["failed"], 0, "{sum}");
    // Every key the exchange no longer has is reported neutralized, and
    // every delete the exchange performed is reported as ours. A key killed
    // in flight may be credited to us (revoked) though it was dead already:
    // the probe cannot tell those apart, and both end neutralized.
    let deletes = s.sim.exchange(BYBIT).stats.snapshot().deletes;
    let revoked = sum["revoked"].as_u64().unwrap();
    let already_dead = sum["already_dead"].as_u64().unwrap();
    let gone = s
        .population
        .rows
        .iter()
        .filter(|r| {
            !s.sim
                .exchange(BYBIT)
                .keys
                .get(&r.api_key)
                .unwrap()
                .is_alive()
        })
        .count() as u64;
    assert_eq!(revoked + already_dead, gone, "{sum}");
    assert!(
        deletes <= revoked,
        "every delete performed is reported ({deletes} > {revoked})"
    );
    assert!(
        revoked - deletes <= 128,
        "at most the in-flight window is ambiguous"
    );
    // A key caught in flight by the kill is probed on resume, not sent again.
    assert_no_key_asked_to_delete_twice(&s.sim);
    let verify = run(&[
        "audit".into(),
        "verify".into(),
        s.out().join("audit.jsonl").display().to_string(),
    ])
    .await;
    assert_eq!(verify.status.code(), Some(0), "{}", describe(&verify));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_audit_file_fails_verification() {
    let s = Scenario::breach(&[BYBIT], 40, 14).await;
    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let audit = s.out().join("audit.jsonl");
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 5);
    // Flip an outcome from the middle of the trail on: a revoked key
    // recorded as failed, the record still well-formed and canonical.
    const REVOKED: &str = "\"outcome\":\"revoked\"";
    let revoked_lines: Vec<usize> = (0..lines.len())
        .filter(|i| lines[*i].contains(REVOKED))
        .collect();
    let target = *revoked_lines
        .iter()
        .find(|i| **i >= lines.len() / 2)
        .or(revoked_lines.last())
        .expect("the trail records revoked keys");
    let edited: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == target {
                l.replacen(REVOKED, "\"outcome\":\"failed\"", 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    assert_ne!(edited[target], lines[target], "the outcome was flipped");
    std::fs::write(&audit, edited.join("\n") + "\n").unwrap();
    let verify = run(&["audit".into(), "verify".into(), audit.display().to_string()]).await;
    assert_ne!(verify.status.code(), Some(0), "an edited trail must fail");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        stderr.contains(&format!(":{}", target + 1)),
        "names the edited line {}: {stderr}",
        target + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_inventory_sends_nothing_and_names_every_problem() {
    let s = Scenario::breach(&[BYBIT], 20, 15).await;
    let mut csv = std::fs::read_to_string(s.path("inventory.csv")).unwrap();
    csv.push_str("bitmex,K1,S1,,,,x\n");
    csv.push_str("bybit,,S2,,,,y\n");
    csv.push_str("bybit,K3,S3,,,nobody,z\n");
    std::fs::write(s.path("inventory.csv"), csv).unwrap();
    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("inventory.csv:22: field `exchange`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("inventory.csv:23: field `api_key`"),
        "{stderr}"
    );
    assert!(stderr.contains("inventory.csv:24: field `via`"), "{stderr}");
    assert_eq!(s.requests(BYBIT), 0, "nothing was sent");
    assert!(
        !s.out().join("journal.sqlite").exists(),
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sends_nothing() {
    let s = Scenario::breach(&[BYBIT], 30, 16).await;
    let mut args = s.revoke_args();
    args.push("--dry-run".into());
    let out = run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Plan"),
        "{}",
        describe(&out)
    );
    assert_eq!(s.requests(BYBIT), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_cleanly_with_exit_130_and_the_job_resumes() {
    stops_cleanly_on(libc::SIGINT, 17).await;
}
