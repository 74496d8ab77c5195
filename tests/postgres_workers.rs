//! Two workers share one job through a PostgreSQL journal: every key is done
//! once, by one of them. Needs KEYREVOKE_TEST_PG_URL (CI starts PostgreSQL
//! with .ci/pg-setup.sh, and fails this test without it).

mod common;

use common::*;
use keyrevoke::core::ExchangeId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_one_job_and_no_key_is_deleted_twice() {
    let Some(url) = keyrevoke::journal::test_pg_url("two_workers_share_one_job") else {
        return;
    };
    let s = Scenario::breach(
        &[ExchangeId::new("bybit"), ExchangeId::new("kucoin")],
        400,
        21,
    )
    .await;
    // A password in the URL (the test server trusts loopback, so any
    // password connects) must never be printed back.
    const PASSWORD: &str = "pg-password-never-shown";
    let url = url.replacen("://postgres@", &format!("://postgres:{PASSWORD}@"), 1);
    assert!(url.contains(PASSWORD), "expected a postgres@ URL: {url}");
    let job = format!("{url}?job=e2e-{}", std::process::id());
    let worker = |n: u32| {
        let mut args = s.revoke_args();
        let out = args.iter().position(|a| a == "--out").unwrap();
        args[out + 1] = s.path(&format!("w{n}")).display().to_string();
        args.extend(["--journal".into(), job.clone()]);
        args
    };
    let (args1, args2) = (worker(1), worker(2));
    let (a, b) = tokio::join!(run(&args1), run(&args2));
    for out in [&a, &b] {
        assert_eq!(out.status.code(), Some(3), "{}", describe(out));
        let printed = [&out.stdout[..], &out.stderr[..]].concat();
        assert!(
            !String::from_utf8_lossy(&printed).contains(PASSWORD),
            "the journal URL's password was printed"
        );
    }
    let (sa, sb) = (summary(&a), summary(&b));
    assert_eq!(sa["total"], s.population.rows.len() as u64, "{sa}");
    assert_eq!(
        sa["pending"], 0,
        "each worker waits for the job to finish: {sa}"
    );
    assert_eq!(sb["pending"], 0, "{sb}");
    let deletes: u64 = s
        .sim
        .exchanges
        .values()
        .map(|x| x.stats.snapshot().deletes)
        .sum();
    assert_eq!(
        deletes,
        sb["revoked"].as_u64().unwrap(),
        "each revoked key deleted exactly once"
    );
    assert_no_key_asked_to_delete_twice(&s.sim);
    for n in [1, 2] {
        let audit = s.path(&format!("w{n}/audit.jsonl")).display().to_string();
        let v = run(&["audit".into(), "verify".into(), audit]).await;
        assert_eq!(v.status.code(), Some(0), "{}", describe(&v));
    }
}
