//! The machine dies at random moments: SIGKILL the run again and again, then
//! let it finish. Nothing may be lost, nothing sent twice, and the audit
//! chain must verify (torn tails repaired and recorded).

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use rand::{Rng, SeedableRng};
use std::time::Duration;

const EXCHANGES: [ExchangeId; 2] = [ExchangeId::new("bybit"), ExchangeId::new("kucoin")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_ten_times_then_resumed_nothing_is_lost() {
    let s = Scenario::breach(&EXCHANGES, 800, 31).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(31);
    let mut kills = 0;
    for _ in 0..10 {
        let mut child = tokio::process::Command::new(BIN)
            .args(s.revoke_args())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let after = Duration::from_millis(rng.gen_range(50..900));
        tokio::select! {
            _ = tokio::time::sleep(after) => {
                child.start_kill().unwrap();
                child.wait().await.unwrap();
                kills += 1;
            }
            status = child.wait() => {
                // Finished before its kill: the job is done.
                assert_eq!(status.unwrap().code(), Some(3));
                break;
            }
        }
    }
    assert!(kills >= 3, "the run was killed several times ({kills})");

    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let sum = summary(&out);
    assert_eq!(
        sum["total"],
        s.population.rows.len() as u64,
        "no row lost: {sum}"
    );
    assert_eq!(sum["pending"], 0, "{sum}");
    assert_eq!(sum["failed"], 0, "{sum}");

    // Every key the exchanges no longer have is reported neutralized; every
    // delete they performed is reported as ours.
    let mut gone = 0;
    for r in &s.population.rows {
        if !s
            .sim
            .exchange(r.exchange)
            .keys
            .get(&r.api_key)
            .unwrap()
            .is_alive()
        {
            gone += 1;
        }
    }
    let revoked = sum["revoked"].as_u64().unwrap();
    assert_eq!(
        revoked + sum["already_dead"].as_u64().unwrap(),
        gone,
        "{sum}"
    );
    let deletes: u64 = s
        .sim
        .exchanges
        .values()
        .map(|x| x.stats.snapshot().deletes)
        .sum();
    assert!(
        deletes <= revoked,
        "{deletes} deletes performed, {revoked} reported"
    );
    // A key caught in flight by a kill is probed on resume, not sent again.
    assert_no_key_asked_to_delete_twice(&s.sim);
    for c in &s.population.credentials {
        let x = c.exchange;
        assert!(
            s.sim.exchange(x).keys.get(&c.api_key).unwrap().is_alive(),
            "credential {} alive",
            c.name
        );
    }

    let verify = run(&[
        "audit".into(),
        "verify".into(),
        s.out().join("audit.jsonl").display().to_string(),
    ])
    .await;
    assert_eq!(verify.status.code(), Some(0), "{}", describe(&verify));
}
