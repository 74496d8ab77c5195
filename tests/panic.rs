//! `keyrevoke panic` end to end: a user holding only master credentials on
//! Bybit, Binance, OKX and KuCoin (and MEXC, HTX, Bitget and Deribit, each
//! on its own) gets every key under them revoked in one command, against
//! the simulator at the documented limits.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::generate::Population;
use std::time::Duration;

const BINANCE: ExchangeId = ExchangeId::new("binance");
const BYBIT: ExchangeId = ExchangeId::new("bybit");
const OKX: ExchangeId = ExchangeId::new("okx");
const KUCOIN: ExchangeId = ExchangeId::new("kucoin");
const MEXC: ExchangeId = ExchangeId::new("mexc");
/// Bybit lists at most 20 keys a page (list-sub-apikeys.mdx): sub accounts
/// of 22 keys each need a second page.
const BYBIT_KEYS_PER_SUB: usize = 22;

/// Per exchange, the sub accounts (how many, of how many keys) under its
/// master. Binance and OKX delete one key a second per master: keep theirs
/// small.
async fn scenario(shapes: &[(ExchangeId, usize, usize)]) -> Scenario {
    let exchanges: Vec<ExchangeId> = shapes.iter().map(|s| s.0).collect();
    let population = shapes
        .iter()
        .zip(12u64..)
        .map(|(&(x, subs, keys), seed)| Population::panic(&[x], subs, keys, seed))
        .reduce(Population::and)
        .expect("at least one exchange");
    Scenario::with_population(&exchanges, population).await
}

fn panic_args(s: &Scenario, extra: &[&str]) -> Vec<String> {
    panic_args_to(s, &s.out(), extra)
}

/// The panic command line with its files in `out`.
fn panic_args_to(s: &Scenario, out: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "panic".into(),
        "--config".into(),
        s.path("config.toml").display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--yes".into(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn alive(s: &Scenario, x: ExchangeId, api_key: &str) -> bool {
    s.sim.exchange(x).keys.get(api_key).unwrap().is_alive()
}

/// A figure summed over every simulated exchange.
fn seen(s: &Scenario, f: impl Fn(&keyrevoke::sim::stats::StatsSnapshot) -> u64) -> u64 {
    s.sim
        .exchanges
        .values()
        .map(|x| f(&x.stats.snapshot()))
        .sum()
}

/// Rate-limit refusals per exchange, and where the run's audit met them.
fn refusals(s: &Scenario) -> String {
    let per_exchange: Vec<String> = s
        .sim
        .exchanges
        .iter()
        .map(|(x, e)| format!("{x}: {}", e.stats.snapshot().rate_limited))
        .collect();
    let audit = std::fs::read_to_string(s.out().join("audit.jsonl")).unwrap_or_default();
    let limited: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("rate") || l.contains("10006") || l.contains("429"))
        .collect();
    format!("{}\n{}", per_exchange.join(", "), limited.join("\n"))
}

fn master_key(s: &Scenario, x: ExchangeId) -> String {
    s.population
        .credentials
        .iter()
        .find(|c| c.exchange == x)
        .unwrap()
        .api_key
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masters_on_three_exchanges_revoke_every_key_under_them_but_the_spared_one() {
    let s = scenario(&[(BYBIT, 2, BYBIT_KEYS_PER_SUB), (BINANCE, 2, 3), (OKX, 2, 2)]).await;
    // A label only one key holds: a label names every key that bears it.
    let spared = s
        .population
        .rows
        .iter()
        .find(|r| r.exchange == BYBIT && r.label == "user-30")
        .unwrap()
        .clone();
    let args = panic_args(&s, &["--spare", &spared.label, "--include-self"]);
    let out = run(&args).await;
    let said = describe(&out);
    // Binance's and OKX's masters cannot delete themselves: they are
    // escalated (exit 3).
    assert_eq!(out.status.code(), Some(3), "{said}");
    let sum = summary(&out);
    let found = s.population.rows.len();
    assert_eq!(found, 2 * BYBIT_KEYS_PER_SUB + 2 * 3 + 2 * 2);
    assert_eq!(sum["discovered"].as_array().unwrap().len(), found, "{sum}");
    assert_eq!(sum["spared"].as_array().unwrap().len(), 1, "{sum}");
    assert_eq!(sum["spared"][0]["label"], spared.label.as_str(), "{sum}");
    // Every key found but the spared one, then the three credentials: the
    // Bybit master deletes itself, the Binance and OKX masters are
    // escalated.
    assert_eq!(sum["total"], (found - 1 + 3) as u64, "{sum}");
    assert_eq!(sum["revoked"], (found - 1 + 1) as u64, "{sum}");
    assert_eq!(sum["escalated"], 2, "{sum}");
    for r in &s.population.rows {
        let should_live = r.api_key == spared.api_key;
        assert_eq!(
            alive(&s, r.exchange, &r.api_key),
            should_live,
            "{} {}",
            r.exchange,
            r.label
        );
    }
    assert!(!alive(&s, BYBIT, &master_key(&s, BYBIT)));
    assert!(alive(&s, BINANCE, &master_key(&s, BINANCE)));
    assert!(alive(&s, OKX, &master_key(&s, OKX)));
    // Another account's keys are not under any credential: untouched.
    let strangers: usize = s
        .sim
        .exchanges
        .values()
        .map(|x| {
            x.keys
                .filter(|k| k.is_alive() && k.label.as_deref() == Some("stranger"))
                .len()
        })
        .sum();
    assert_eq!(strangers, 3, "{said}");
    assert_eq!(
        seen(&s, |x| x.rate_limited),
        0,
        "nothing refused for its rate"
    );
    assert!(s.out().join("report.json").exists(), "{said}");
    assert!(s.out().join("escalations/binance.csv").exists(), "{said}");
    assert!(s.out().join("escalations/okx.csv").exists(), "{said}");
    // The credentials' secrets acted on the masters themselves, yet appear
    // in no file of the run, nor in its output.
    for c in &s.population.credentials {
        for (path, bytes) in artifacts(&s.out()) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(&c.api_secret),
                "{} holds a secret",
                path.display()
            );
        }
        assert!(!said.contains(&c.api_secret), "the output holds a secret");
    }

    // The same command again: nothing listed, nothing deleted again.
    let (deletes, lists) = (seen(&s, |x| x.deletes), seen(&s, |x| x.lists));
    let again = run(&args).await;
    assert_eq!(again.status.code(), Some(3), "{}", describe(&again));
    assert_eq!(seen(&s, |x| x.deletes), deletes);
    assert_eq!(seen(&s, |x| x.lists), lists);
    assert_eq!(summary(&again)["revoked"], sum["revoked"]);
}

/// MEXC: the master lists its sub accounts, then each one's keys, and
/// deletes every key found; no API lets it delete itself: escalated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mexc_master_finds_and_revokes_every_key_of_its_sub_accounts() {
    let s = scenario(&[(MEXC, 2, 3)]).await;
    let out = run(&panic_args(&s, &["--include-self"])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    let sum = summary(&out);
    assert_eq!(s.population.rows.len(), 6);
    assert_eq!(sum["discovered"].as_array().unwrap().len(), 6, "{sum}");
    assert_eq!(sum["revoked"], 6, "{sum}");
    assert_eq!(sum["escalated"], 1, "the master: {sum}");
    for r in &s.population.rows {
        assert!(!alive(&s, MEXC, &r.api_key), "{}", r.label);
    }
    assert!(alive(&s, MEXC, &master_key(&s, MEXC)));
    let strangers = s
        .sim
        .exchange(MEXC)
        .keys
        .filter(|k| k.is_alive() && k.label.as_deref() == Some("stranger"));
    assert_eq!(strangers.len(), 1, "another account's key: untouched");
    assert_eq!(seen(&s, |x| x.rate_limited), 0, "{}", refusals(&s));
    assert!(s.out().join("escalations/mexc.csv").exists(), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_include_self_the_credentials_are_left_for_the_user_to_delete() {
    // Fifteen sub UIDs: listed at once, their key listings would break
    // Bybit's 10 a second per UID; paced, none is refused.
    let s = scenario(&[(BYBIT, 15, 2), (BINANCE, 1, 3)]).await;
    let out = run(&panic_args(&s, &[])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_eq!(
        seen(&s, |x| x.rate_limited),
        0,
        "nothing refused for its rate: {}\n{said}",
        refusals(&s)
    );
    assert_eq!(s.sim.exchange(BYBIT).stats.snapshot().lists, 16);
    let sum = summary(&out);
    assert_eq!(sum["revoked"], s.population.rows.len() as u64, "{sum}");
    for x in [BYBIT, BINANCE] {
        assert!(alive(&s, x, &master_key(&s, x)), "{x} master untouched");
    }
    let fate = sum["credentials"]["bybit-master-0"].as_str().unwrap();
    assert!(
        fate.contains("delete it by hand at https://www.bybit.com/app/user/api-management"),
        "{fate}"
    );
}

/// Run `args` (files in `out`) and kill it once Binance's master has
/// recorded three pages of its listing, before it is done.
async fn kill_while_listing(s: &Scenario, args: &[String], out: &std::path::Path) {
    let pages = out.join("discovery.jsonl");
    let mut child = tokio::process::Command::new(BIN)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(s.path("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    // Pages Binance's master has recorded.
    let recorded = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map(|t| t.lines().filter(|l| l.contains("binance-master")).count())
            .unwrap_or(0)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while recorded(&pages) < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "listing stalled: {:?} {:?} {}",
            child.try_wait(),
            std::fs::read_dir(out).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>()),
            std::fs::read_to_string(&pages).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let before_kill = recorded(&pages);
    assert!(
        before_kill < 1 + 6,
        "killed while listing: {before_kill} pages recorded"
    );
}

/// Pages listed, per exchange.
fn lists(s: &Scenario, x: ExchangeId) -> u64 {
    s.sim.exchange(x).stats.snapshot().lists
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_listing_then_resumed_no_recorded_page_is_listed_again() {
    // Binance lists one sub account's keys per second per master (Weight
    // 3000 of 180,000 a minute): six sub accounts take seconds to list.
    let s = scenario(&[(BYBIT, 6, 2), (BINANCE, 6, 2)]).await;
    kill_while_listing(&s, &panic_args(&s, &[]), &s.out()).await;
    let binance_lists = lists(&s, BINANCE);
    let out = run(&panic_args(&s, &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let sum = summary(&out);
    assert_eq!(sum["revoked"], s.population.rows.len() as u64, "{sum}");
    assert_eq!(
        sum["discovered"].as_array().unwrap().len(),
        s.population.rows.len()
    );
    // Binance: its sub-account list, then each sub account's keys on one
    // page: 7 pages in all, plus at most the one in flight when killed.
    let total = lists(&s, BINANCE);
    assert!(
        (7..=8).contains(&total),
        "Binance listed {total} pages ({binance_lists} before the kill)"
    );
    // Bybit: the sub UIDs, then one page per sub UID.
    let bybit = lists(&s, BYBIT);
    assert!((7..=8).contains(&bybit), "Bybit listed {bybit} pages");
    assert_eq!(seen(&s, |x| x.rate_limited), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spare_that_names_no_key_found_stops_the_run_before_any_revocation() {
    let s = scenario(&[(BYBIT, 1, 2), (BINANCE, 1, 2)]).await;
    let out = run(&panic_args(&s, &["--spare", "user-O"])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("--spare user-O: no key found"), "{said}");
    assert_eq!(seen(&s, |x| x.deletes), 0, "nothing revoked: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kucoin_keys_found_without_their_passphrase_are_escalated_until_an_inventory_gives_it() {
    let s = scenario(&[(KUCOIN, 2, 2)]).await;
    let out = run(&panic_args(&s, &[])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    let sum = summary(&out);
    assert_eq!(sum["discovered"].as_array().unwrap().len(), 4, "{sum}");
    assert_eq!(sum["escalated"], 4, "{sum}");
    assert_eq!(seen(&s, |x| x.deletes), 0, "no delete without a passphrase");
    let letter = std::fs::read_to_string(s.out().join("escalations/kucoin.csv")).unwrap();
    for r in &s.population.rows {
        let account = r.account.as_deref().unwrap();
        assert!(
            letter.contains(&format!("sub account `{account}`")),
            "the escalation names where to delete {account}'s keys:\n{letter}"
        );
    }

    // The user finds the passphrases and gives them: a new run deletes.
    let again = s.path("with-passphrases");
    let inventory = s.path("inventory.csv").display().to_string();
    let out = run(&panic_args_to(&s, &again, &["--inventory", &inventory])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_eq!(summary(&out)["revoked"], 4, "{said}");
    for r in &s.population.rows {
        assert!(!alive(&s, KUCOIN, &r.api_key), "{}", r.label);
    }
    // The passphrases came from the inventory, and went nowhere else.
    for r in &s.population.rows {
        let pass = r.passphrase.as_deref().unwrap();
        for (path, bytes) in artifacts(&again) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(pass),
                "{} holds a passphrase",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_postgresql_journal_a_resume_from_another_folder_lists_no_recorded_page_again() {
    let Some(url) = keyrevoke::journal::test_pg_url("panic_resume_from_another_folder") else {
        return;
    };
    // The journal, not the first folder, holds what was listed: a worker
    // that lost its disk (or another machine) resumes from it.
    let job = format!("{url}?job=panic-{}", std::process::id());
    let s = scenario(&[(BYBIT, 6, 2), (BINANCE, 6, 2)]).await;
    let first = s.path("first");
    kill_while_listing(&s, &panic_args_to(&s, &first, &["--journal", &job]), &first).await;
    let before = lists(&s, BINANCE);

    let second = s.path("second");
    let out = run(&panic_args_to(&s, &second, &["--journal", &job])).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let sum = summary(&out);
    assert_eq!(sum["revoked"], s.population.rows.len() as u64, "{sum}");
    assert_eq!(
        sum["discovered"].as_array().unwrap().len(),
        s.population.rows.len()
    );
    // Binance: 7 pages in all, plus at most the one in flight when killed.
    let total = lists(&s, BINANCE);
    assert!(
        (7..=8).contains(&total),
        "Binance listed {total} pages ({before} before the kill)"
    );
    assert!(
        (7..=8).contains(&lists(&s, BYBIT)),
        "Bybit listed {}",
        lists(&s, BYBIT)
    );
    assert_eq!(seen(&s, |x| x.rate_limited), 0);
}

/// HTX: the parent lists its sub users, then each one's keys, and every
/// key found is deleted at 10 requests a second per key, none refused;
/// the parent's own key, and another parent's sub key that no credential
/// sees, stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_htx_parent_has_every_key_of_its_sub_users_revoked() {
    const HTX: ExchangeId = ExchangeId::new("htx");
    let s = scenario(&[(HTX, 3, 4)]).await;
    let out = run(&panic_args(&s, &[])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let sum = summary(&out);
    assert_eq!(sum["discovered"].as_array().unwrap().len(), 12, "{sum}");
    assert_eq!(sum["revoked"], 12, "{sum}");
    for r in &s.population.rows {
        assert!(!alive(&s, HTX, &r.api_key), "{} still alive", r.label);
    }
    assert!(alive(&s, HTX, &master_key(&s, HTX)), "the parent untouched");
    assert_eq!(
        s.sim.exchange(HTX).keys.count_alive(),
        3,
        "the parent's key, the other parent's and its sub key"
    );
    assert_eq!(
        seen(&s, |x| x.rate_limited),
        0,
        "nothing refused for its rate: {}\n{said}",
        refusals(&s)
    );
}

/// Bitget: the main account lists its virtual sub accounts (one call a
/// second per UID) and each one's keys (five a second), then deletes every
/// key it found (ten a second), with nothing refused for its rate; its own
/// key has no API channel and is escalated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitget_main_account_lists_and_deletes_every_sub_key_at_its_limits() {
    const BITGET: ExchangeId = ExchangeId::new("bitget");
    let s = scenario(&[(BITGET, 6, 3)]).await;
    let out = run(&panic_args(&s, &["--include-self"])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(3), "the main key escalated: {said}");
    assert_eq!(
        seen(&s, |x| x.rate_limited),
        0,
        "nothing refused for its rate: {}\n{said}",
        refusals(&s)
    );
    let sum = summary(&out);
    let found = s.population.rows.len();
    assert_eq!(found, 6 * 3);
    assert_eq!(sum["discovered"].as_array().unwrap().len(), found, "{sum}");
    assert_eq!(sum["revoked"], found as u64, "{sum}");
    assert_eq!(sum["escalated"], 1, "{sum}");
    for r in &s.population.rows {
        assert!(!alive(&s, BITGET, &r.api_key), "{}", r.label);
    }
    assert!(alive(&s, BITGET, &master_key(&s, BITGET)));
    let stats = s.sim.exchange(BITGET).stats.snapshot();
    assert_eq!(
        stats.lists,
        1 + 6,
        "one sub-account page, then each one's keys"
    );
    assert_eq!(stats.deletes, found as u64, "one delete per key");
    assert!(s.out().join("escalations/bitget.csv").exists(), "{said}");
}

/// Deribit: the master lists its own account beside its sub accounts (each
/// through a token exchanged for it); its own key is not among the keys
/// found, and `--include-self` revokes it last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deribit_master_revokes_its_own_accounts_keys_and_its_sub_accounts() {
    const DERIBIT: ExchangeId = ExchangeId::new("deribit");
    let s = scenario(&[(DERIBIT, 2, 3)]).await;
    let master = master_key(&s, DERIBIT);
    let keys = &s.sim.exchange(DERIBIT).keys;
    let main_uid = keys.get(&master).unwrap().uid;
    // A key of the main account beside the master's, as a user holds one.
    let beside = "deribitBESIDEMAIN1";
    keys.insert(keyrevoke::sim::testkit::key(
        beside,
        &main_uid,
        &["trade:read_write"],
    ));
    let out = run(&panic_args(&s, &["--include-self"])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let sum = summary(&out);
    let found = s.population.rows.len() + 1;
    let discovered = sum["discovered"].as_array().unwrap();
    assert_eq!(discovered.len(), found, "{sum}");
    assert_eq!(
        sum["revoked"],
        (found + 1) as u64,
        "every key, then the master: {sum}"
    );
    assert!(!alive(&s, DERIBIT, beside));
    assert!(!alive(&s, DERIBIT, &master), "revoked last");
    for r in &s.population.rows {
        assert!(!alive(&s, DERIBIT, &r.api_key), "{}", r.label);
    }
    // The other account's master and sub key are untouched.
    let strangers = keys.filter(|k| k.is_alive());
    assert_eq!(strangers.len(), 2, "{strangers:?}");
}

/// The listings and the revocations after them spend one budget (one run,
/// one set of budgets): with HTX's per-key budget cut to 8 requests per
/// 10 s, no 10 s of the run holds more than 8 of the parent's requests,
/// listings and deletes together. Revocations that started on a fresh
/// budget would send 8 deletes right after the 4 listings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listings_and_the_revocations_after_them_spend_one_budget() {
    const HTX: ExchangeId = ExchangeId::new("htx");
    let s = scenario(&[(HTX, 3, 4)]).await;
    let mut config = std::fs::read_to_string(s.path("config.toml")).unwrap();
    config.push_str("\n[exchanges.htx.limits.key_requests]\ncapacity = 8\nperiod_ms = 10000\n");
    std::fs::write(s.path("config.toml"), config).unwrap();
    let out = run(&panic_args(&s, &[])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_eq!(summary(&out)["revoked"], 12, "{said}");
    let audit = std::fs::read_to_string(s.out().join("audit.jsonl")).unwrap();
    let mut sent: Vec<i64> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == "attempt" && e["exchange"] == "htx")
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(e["time"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    sent.sort_unstable();
    assert_eq!(sent.len(), 4 + 12, "4 listings, 12 deletes: {said}");
    // Audit times are replies' times: a little slack below the 10 s.
    for (i, start) in sent.iter().enumerate() {
        let within = sent[i..].iter().take_while(|t| **t - start < 9_800).count();
        assert!(
            within <= 8,
            "{within} requests within 10 s of {start}: {sent:?}"
        );
    }
}
