//! Secrets never reach output, logs, journal, audit, reports or escalation
//! files: every command is run with known secrets, under faults, and every
//! artifact is scanned for them in plain, base64 and hex forms.

mod common;

use base64::Engine;
use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::faults::Faults;
use keyrevoke::sim::generate::Population;
use std::os::unix::fs::PermissionsExt;

/// Every exchange whose connector sends with the keys' secrets, but
/// Kraken: its probes of the many dead keys here, unpaced (the runs turn
/// the limits off), would lock the simulator's IP out for 15 minutes; its
/// escalations are scanned in `escalation_files`.
const EXCHANGES: [ExchangeId; 10] = [
    ExchangeId::new("binance"),
    ExchangeId::new("bybit"),
    ExchangeId::new("okx"),
    ExchangeId::new("kucoin"),
    ExchangeId::new("coinbase"),
    // Its managing credentials act in sub accounts through tokens.
    ExchangeId::new("deribit"),
    ExchangeId::new("mexc"),
    ExchangeId::new("gate"),
    ExchangeId::new("htx"),
    // Its keys and credentials carry passphrases.
    ExchangeId::new("bitget"),
];

/// The operator's audit signing key, set through the config as an
/// operator would: a secret too.
const AUDIT_KEY_VAR: &str = "KEYREVOKE_AUDIT_KEY";
const AUDIT_KEY: &str = "audit-hmac-key-5e0c7d2b9a41f386";

/// The forms a leaked secret could take.
fn forms(secret: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![secret.to_string(), b64.encode(secret), hex::encode(secret)]
        .into_iter()
        .filter(|f| f.len() >= 8)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_output_or_artifact() {
    let population = Population::breach(&EXCHANGES, 400, 51);
    let sim = faulty_sim(
        &EXCHANGES,
        Faults {
            unavailable_before: 0.05,
            gateway_timeout_after: 0.05,
            reset_after: 0.02,
            rate_limited: 0.03,
            ..Faults::default()
        },
    )
    .await;
    population.load_into(&sim);
    let dir = tempfile::tempdir().unwrap();
    write_inputs(
        dir.path(),
        &population,
        &sim,
        &format!(
            "\n[retry]\nbase_delay_ms = 10\nmax_delay_ms = 100\n\n[audit]\nsigning_key = \"env:{AUDIT_KEY_VAR}\"\n"
        ),
    );
    let path = |p: &str| dir.path().join(p).display().to_string();
    let revoke = |extra: &[&str]| {
        let mut args: Vec<String> = vec![
            "revoke".into(),
            "--inventory".into(),
            path("inventory.csv"),
            "--config".into(),
            path("config.toml"),
            "--out".into(),
            path("out"),
            "--yes".into(),
            "--no-rate-limits".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let mut outputs = Vec::new();
    for args in [
        revoke(&["--dry-run"]),
        revoke(&["--json"]),
        revoke(&[]),
        vec![
            "status".into(),
            "--journal".into(),
            path("out/journal.sqlite"),
        ],
        vec![
            "status".into(),
            "--journal".into(),
            path("out/journal.sqlite"),
            "--json".into(),
        ],
        vec![
            "audit".into(),
            "verify".into(),
            path("out/audit.jsonl"),
            "--config".into(),
            path("config.toml"),
        ],
        vec![
            "report".into(),
            "--journal".into(),
            path("out/journal.sqlite"),
            "--config".into(),
            path("config.toml"),
            "--out".into(),
            path("out/report-again"),
        ],
        vec!["exchanges".into()],
    ] {
        let out = run_with_env(&args, &[(AUDIT_KEY_VAR, AUDIT_KEY)]).await;
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{args:?}: {}",
            describe(&out)
        );
        outputs.push((format!("stdout of {args:?}"), out.stdout));
        outputs.push((format!("stderr of {args:?}"), out.stderr));
    }
    // A run that fails validation prints rows' problems: still no secret.
    let bad = format!(
        "{}bybit,BADKEY1,{},,,nobody,x\n",
        std::fs::read_to_string(path("inventory.csv")).unwrap(),
        "s3cr3t-in-a-bad-row"
    );
    std::fs::write(path("bad.csv"), bad).unwrap();
    let mut args = revoke(&[]);
    args[2] = path("bad.csv");
    let out = run_with_env(&args, &[(AUDIT_KEY_VAR, AUDIT_KEY)]).await;
    assert_eq!(out.status.code(), Some(1));
    outputs.push(("stderr of a failed validation".into(), out.stderr));

    let mut secrets: Vec<String> = vec!["s3cr3t-in-a-bad-row".into(), AUDIT_KEY.into()];
    for keys in population.keys.values() {
        for k in keys {
            secrets.push(k.secret.clone());
            secrets.extend(k.passphrase.clone());
        }
    }
    for c in &population.credentials {
        secrets.push(c.api_secret.clone());
        secrets.extend(c.passphrase.clone());
    }
    let mut haystacks = outputs;
    for (p, bytes) in artifacts(&dir.path().join("out")) {
        haystacks.push((p.display().to_string(), bytes));
    }
    assert!(haystacks.len() > 10, "the run left its artifacts");
    for secret in &secrets {
        for form in forms(secret) {
            for (name, bytes) in &haystacks {
                let text = String::from_utf8_lossy(bytes);
                assert!(
                    !text.contains(&form),
                    "a secret (or its encoding) leaked into {name}"
                );
            }
        }
    }

    // Deribit's access and refresh tokens, which the simulator issued.
    for (name, bytes) in &haystacks {
        assert!(
            !keyrevoke::sim::dialects::deribit::holds_issued_token(&String::from_utf8_lossy(bytes)),
            "a Deribit token leaked into {name}"
        );
    }

    let scanned = |name: &str| haystacks.iter().filter(|(n, _)| n.ends_with(name)).count();
    for report in ["report.html", "report.json"] {
        assert_eq!(scanned(report), 2, "{report} of the run and of `report`");
    }

    // Journal, audit and reports are private to their owner.
    for f in [
        "out/journal.sqlite",
        "out/audit.jsonl",
        "out/report.html",
        "out/report.json",
        "out/report-again/report.html",
        "out/report-again/report.json",
    ] {
        let mode = std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f} has mode {mode:o}");
    }
    for (p, _) in artifacts(&dir.path().join("out/escalations")) {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", p.display());
    }
}
