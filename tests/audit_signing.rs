//! A run with `[audit] signing_key` set: every record is HMAC-signed, and
//! `audit verify` checks the signatures with the config's key, says it did
//! not without one, and fails with another key.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;

const KEY_VAR: &str = "KEYREVOKE_AUDIT_KEY";
const SIGNING_KEY: &str = "operator-audit-key-7f3a9c2e51d84b06";

/// `audit verify` of the scenario's trail; with the config (and the key
/// `signing_key` in its variable) when given one.
async fn verify(s: &Scenario, signing_key: Option<&str>) -> std::process::Output {
    let mut args = vec![
        "audit".to_string(),
        "verify".into(),
        s.out().join("audit.jsonl").display().to_string(),
    ];
    let mut env = Vec::new();
    if let Some(key) = signing_key {
        args.extend([
            "--config".into(),
            s.path("config.toml").display().to_string(),
        ]);
        env.push((KEY_VAR, key));
    }
    run_with_env(&args, &env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_trail_verifies_with_its_key_and_fails_with_another() {
    let s = Scenario::breach(&[ExchangeId::new("bybit")], 40, 61).await;
    let config = std::fs::read_to_string(s.path("config.toml")).unwrap();
    std::fs::write(
        s.path("config.toml"),
        format!("{config}\n[audit]\nsigning_key = \"env:{KEY_VAR}\"\n"),
    )
    .unwrap();
    let out = run_with_env(&s.revoke_args(), &[(KEY_VAR, SIGNING_KEY)]).await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));

    let trail = std::fs::read_to_string(s.out().join("audit.jsonl")).unwrap();
    assert!(trail.lines().count() > 5, "{trail}");
    for line in trail.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let hmac = record["hmac"].as_str().unwrap_or_default();
        assert!(
            hmac.len() == 64 && hmac.bytes().all(|b| b.is_ascii_hexdigit()),
            "every record is signed: {line}"
        );
    }

    let with_key = verify(&s, Some(SIGNING_KEY)).await;
    assert_eq!(with_key.status.code(), Some(0), "{}", describe(&with_key));
    let stdout = String::from_utf8_lossy(&with_key.stdout);
    assert!(stdout.contains("every HMAC checked"), "{stdout}");

    let without_key = verify(&s, None).await;
    assert_eq!(
        without_key.status.code(),
        Some(0),
        "the chain alone holds: {}",
        describe(&without_key)
    );
    let stdout = String::from_utf8_lossy(&without_key.stdout);
    assert!(
        stdout.contains("HMACs not checked"),
        "says the signatures went unchecked: {stdout}"
    );

    let wrong_key = verify(&s, Some("another-operator-key-0000000000000")).await;
    assert_eq!(wrong_key.status.code(), Some(1), "{}", describe(&wrong_key));
    let stderr = String::from_utf8_lossy(&wrong_key.stderr);
    assert!(stderr.contains("hmac mismatch"), "{stderr}");

    // The key is a secret like the others: in no output and no artifact.
    let mut haystacks: Vec<(String, Vec<u8>)> = artifacts(&s.out())
        .into_iter()
        .map(|(p, b)| (p.display().to_string(), b))
        .collect();
    for (name, o) in [
        ("revoke", &out),
        ("verify with the key", &with_key),
        ("verify with another key", &wrong_key),
    ] {
        haystacks.push((
            format!("output of {name}"),
            [&o.stdout[..], &o.stderr[..]].concat(),
        ));
    }
    for (name, bytes) in &haystacks {
        assert!(
            !String::from_utf8_lossy(bytes).contains(SIGNING_KEY),
            "the audit signing key leaked into {name}"
        );
    }
}
