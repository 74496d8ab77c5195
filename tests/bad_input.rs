//! Bad input gets a clear error naming file, line and field, every problem
//! of a file at once, exit code 1, and nothing sent; unusual but valid input
//! works.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;

const BYBIT: ExchangeId = ExchangeId::new("bybit");

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_problem_of_an_inventory_is_listed_and_nothing_is_sent() {
    let s = Scenario::breach(&[BYBIT], 10, 41).await;
    let mut csv = std::fs::read_to_string(s.path("inventory.csv")).unwrap();
    let first_bad = csv.lines().count() + 1;
    csv.push_str("kraken2,K1,S1,,,,a\n"); // unknown exchange
    csv.push_str("bybit,,S2,,,,b\n"); // empty key
    csv.push_str("bybit,K3,env:KEYREVOKE_TEST_SURELY_UNSET,,,,c\n"); // unresolved reference
    csv.push_str("bybit,K4,file:/nonexistent/secret,,,,d\n"); // unreadable file
    csv.push_str("bybit,K5,S5,,,nobody,e\n"); // via names no credential
    csv.push_str("bybit,K6,S6\n"); // too few fields
    csv.push_str("bybit,\"K7,S7,,,,f\n"); // unterminated quote
    std::fs::write(s.path("inventory.csv"), csv).unwrap();
    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    for (offset, field) in [
        (0, "exchange"),
        (1, "api_key"),
        (2, "api_secret"),
        (3, "api_secret"),
        (4, "via"),
    ] {
        let want = format!("inventory.csv:{}: field `{field}`", first_bad + offset);
        assert!(err.contains(&want), "missing `{want}` in:\n{err}");
    }
    assert!(
        err.contains(&format!(
            "inventory.csv:{}: expected 7 fields",
            first_bad + 5
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("inventory.csv:{}: malformed CSV", first_bad + 6)),
        "{err}"
    );
    assert!(err.contains("--skip-invalid"), "{err}");
    assert_eq!(s.requests(BYBIT), 0, "nothing sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_invalid_runs_the_valid_rows_and_lists_the_others() {
    let s = Scenario::breach(&[BYBIT], 20, 42).await;
    let mut csv = std::fs::read_to_string(s.path("inventory.csv")).unwrap();
    csv.push_str("bitmex,K1,S1,,,,a\n");
    std::fs::write(s.path("inventory.csv"), csv).unwrap();
    let mut args = s.revoke_args();
    args.push("--skip-invalid".into());
    let out = run(&args).await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        stderr(&out).contains("field `exchange`"),
        "{}",
        describe(&out)
    );
    assert_eq!(summary(&out)["total"], 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_rows_are_merged_and_reported() {
    let s = Scenario::breach(&[BYBIT], 20, 43).await;
    let csv = std::fs::read_to_string(s.path("inventory.csv")).unwrap();
    let dup: Vec<&str> = csv.lines().skip(1).take(3).collect();
    std::fs::write(
        s.path("inventory.csv"),
        format!("{csv}{}\n", dup.join("\n")),
    )
    .unwrap();
    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        stderr(&out).contains("3 duplicate rows merged"),
        "{}",
        describe(&out)
    );
    assert_eq!(summary(&out)["total"], 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_with_a_bom_crlf_and_blank_lines_are_accepted() {
    let s = Scenario::breach(&[BYBIT], 10, 44).await;
    let mut text = String::from("\u{feff}");
    for r in &s.population.rows {
        let row = serde_json::json!({
            "exchange": r.exchange.as_str(), "api_key": r.api_key, "api_secret": r.api_secret,
            "account": r.account, "via": r.via, "label": r.label,
        });
        text.push_str(&format!("{row}\r\n\r\n"));
    }
    std::fs::write(s.path("inventory.jsonl"), text).unwrap();
    let mut args = s.revoke_args();
    args[2] = s.path("inventory.jsonl").display().to_string();
    let out = run(&args).await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(summary(&out)["total"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_name_the_toml_path_and_send_nothing() {
    let s = Scenario::breach(&[BYBIT], 10, 45).await;
    let mut config = std::fs::read_to_string(s.path("config.toml")).unwrap();
    config.push_str("\n[retry]\nmax_atempts = 3\n");
    std::fs::write(s.path("config.toml"), &config).unwrap();
    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr(&out).contains("retry"), "{}", describe(&out));
    assert!(stderr(&out).contains("max_atempts"), "{}", describe(&out));

    std::fs::write(
        s.path("config.toml"),
        "[exchanges.bybit]\nbase_url = \"http://192.168.1.10:80\"\n",
    )
    .unwrap();
    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("exchanges.bybit.base_url"),
        "{}",
        describe(&out)
    );
    assert!(stderr(&out).contains("non-loopback"), "{}", describe(&out));
    assert_eq!(s.requests(BYBIT), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_that_cannot_be_written_stops_before_anything_is_sent() {
    let s = Scenario::breach(&[BYBIT], 10, 46).await;
    let mut args = s.revoke_args();
    args.extend(["--audit".into(), "/dev/full".into()]);
    let out = run(&args).await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr(&out).contains("audit"), "{}", describe(&out));
    assert_eq!(s.requests(BYBIT), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_http_url_in_the_environment_is_refused() {
    let s = Scenario::breach(&[BYBIT], 5, 47).await;
    let out = tokio::process::Command::new(BIN)
        .args(s.revoke_args())
        .env("KEYREVOKE_BYBIT_URL", "http://203.0.113.7")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("KEYREVOKE_BYBIT_URL"),
        "{}",
        describe(&out)
    );
}
