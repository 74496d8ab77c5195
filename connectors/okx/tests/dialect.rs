//! The OKX connector against the simulator's OKX dialect.

use keyrevoke_core::endpoint::Method;
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::{
    Connector, ConnectorError, Credential, CredentialRole, ExchangeId, Failure, KeyJob,
    KeyMaterial, Liveness, Route, Secret,
};
use keyrevoke_okx::OkxConnector;
use keyrevoke_okx::endpoints;
use keyrevoke_okx::sign::{Signer, iso_timestamp, prehash};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance;
use keyrevoke_sim::conformance::signing::{self, Captured, Published, Signing};
use keyrevoke_sim::dialects::okx::ND_BROKER;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, secret_of};
use std::sync::Arc;
use std::time::Duration;

const OKX: ExchangeId = keyrevoke_okx::EXCHANGE.id;

fn passphrase_of(api_key: &str) -> String {
    format!("{api_key}-Pass1!")
}

/// A test key with its passphrase, bound to `ips`.
fn sim_key(api_key: &str, uid: &str, perms: &[&str], ips: &[&str]) -> SimKey {
    testkit::key(api_key, uid, perms)
        .with_passphrase(passphrase_of(api_key))
        .bound_to(ips)
}

/// The keys every Okx case starts from.
fn keys() -> Vec<SimKey> {
    vec![
        sim_key("MASTER", "1000", &["read_only", "trade"], &["127.0.0.1"]),
        sim_key("MASTER-UNBOUND", "1100", &["read_only", "trade"], &["*"]),
        sim_key(
            "BROKER",
            "3000",
            &["read_only", "trade", ND_BROKER],
            &["127.0.0.1"],
        ),
        sim_key("SUB-1", "2000", &["read_only", "trade"], &["*"])
            .sub_of("1000")
            .in_sub_account("botsub001"),
        sim_key("SUB-2", "2000", &["read_only", "trade"], &["*"])
            .sub_of("1000")
            .in_sub_account("botsub001"),
        // Due for rotation: 120 days old, bound to loopback and another IP.
        sim_key(
            "SUB-ROT",
            "2000",
            &["read_only", "trade"],
            &["127.0.0.1", "203.0.113.7"],
        )
        .sub_of("1000")
        .in_sub_account("botsub001")
        .labelled("bot-17")
        .created_days_ago(120),
        // Another key of master account 1000, bound, read-only: no Trade.
        sim_key("MASTER-RO", "1000", &["read_only"], &["127.0.0.1"]),
        sim_key("SUB-U", "2100", &["read_only", "trade"], &["*"])
            .sub_of("1100")
            .in_sub_account("botsub002"),
        sim_key(
            "ND-SUB-1",
            "3100",
            &["read_only", "trade", "withdraw"],
            &["*"],
        )
        .sub_of("3000")
        .in_sub_account("ndsub0001"),
        sim_key(
            "LONE-MASTER",
            "4000",
            &["read_only", "trade", "withdraw"],
            &["*"],
        ),
    ]
}

struct Okx;

impl conformance::Subject for Okx {
    type Connector = OkxConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_okx::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> OkxConnector {
        testkit::connector(h, Self::exchange(), OkxConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    fn managed_row() -> KeyJob {
        master_job("SUB-1", false)
    }

    /// "Sub-account: 1 request per second per User ID" on delete and modify.
    fn writes_per_second() -> Option<u32> {
        Some(1)
    }

    /// docs-v5 #overview-rate-limits documents 50011 for every excess and
    /// no IP ban.
    fn documents_ip_ban() -> bool {
        false
    }

    fn rotation() -> Option<conformance::Rotation> {
        Some(conformance::Rotation {
            old: master_job("SUB-ROT", false),
            // Creating needs Trade (#sub-account-rest-api-create-an-api-key-for-a-sub-account).
            unpermitted: (*credential("MASTER-RO", CredentialRole::Master)).clone(),
            // 8 to 32 characters: lowercase, uppercase, digit, special.
            passphrase: Some("Rot4ted!Pass"),
            // 1 request per second per User ID.
            creates_per_second: Some(1),
            copies_ips: true,
        })
    }

    /// OKX's docs, "REST Authentication" (docs-v5/en/#overview-rest-authentication):
    /// the example timestamp and the prehash
    /// `timestamp + 'GET' + '/api/v5/account/balance?ccy=BTC'` (OKX prints no
    /// signature for it; `sign.rs` pins one computed independently); then
    /// ccxt 4.5.90's requests (test_data/ccxt_vectors.json) and those of
    /// OKX's own Python SDK, python-okx 0.4.4
    /// (test_data/official_client_vectors.json).
    fn signing() -> Signing {
        const SOURCE: &str = "OKX API v5 docs, \"REST Authentication\"";
        Signing {
            published: vec![
                Published {
                    source: SOURCE,
                    ours: iso_timestamp(1_607_418_537_715),
                    documented: "2020-12-08T09:08:57.715Z",
                },
                Published {
                    source: SOURCE,
                    ours: prehash(
                        "2020-12-08T09:08:57.715Z",
                        &Method::GET,
                        "/api/v5/account/balance?ccy=BTC",
                        "",
                    ),
                    documented: "2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC",
                },
            ],
            captured: vec![
                Captured {
                    file: "test_data/ccxt_vectors.json",
                    json: include_str!("../test_data/ccxt_vectors.json"),
                    origin: ORIGIN,
                    // ccxt sends no Content-Type on a GET; we send it on
                    // every request, as python-okx does (below).
                    ignore_headers: &["Content-Type"],
                    build: vector_request,
                },
                Captured {
                    file: "test_data/official_client_vectors.json",
                    json: include_str!("../test_data/official_client_vectors.json"),
                    origin: ORIGIN,
                    // The SDK always sends its demo flag (`0` for
                    // production); the docs ask for it only in demo
                    // trading, so we do not send it.
                    ignore_headers: &["x-simulated-trading"],
                    build: vector_request,
                },
            ],
        }
    }
}

const ORIGIN: &str = "https://www.okx.com";

/// A vector's request, built by the connector's own endpoint table, query
/// and body builders (python-okx's bodies are `json.dumps`, with spaces:
/// `signing::body_as_sent`).
fn vector_request(v: &serde_json::Value) -> Option<PreparedRequest> {
    let (sub, key) = ("botsub001", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    let what = v["what"].as_str()?;
    let (endpoint, query, body) = match what {
        "liveness probe" => (&endpoints::ACCOUNT_CONFIG, String::new(), None),
        "master deletes a sub-account key" => (
            &endpoints::DELETE_SUB_KEY,
            String::new(),
            Some(endpoints::delete_body(sub, key)),
        ),
        "master disables a sub-account key: read-only, bound to an unroutable IP" => (
            &endpoints::MODIFY_SUB_KEY,
            String::new(),
            Some(endpoints::disable_body(sub, key)),
        ),
        "master queries a sub-account key" => (
            &endpoints::QUERY_SUB_KEY,
            endpoints::sub_key_query(sub, key),
            None,
        ),
        _ => return None,
    };
    let body = signing::body_as_sent(body, v, |_| {});
    let (api_key, secret, passphrase) = signing::credentials(v);
    let (secret, passphrase) = (Secret::from(secret), Secret::from(passphrase?));
    let signer = Signer {
        api_key,
        secret: &secret,
        passphrase: &passphrase,
    };
    Some(signer.sign(
        endpoint.method.clone(),
        endpoint.path,
        &query,
        body.as_deref(),
        signing::clock_ms(v),
    ))
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Okx>().await;
}

async fn setup(faults: Faults) -> (SimHandle, OkxConnector) {
    let h = testkit::start(keyrevoke_okx::EXCHANGE.id, faults, keys()).await;
    let conn = testkit::connector(&h, OKX, OkxConnector::new);
    (h, conn)
}

fn credential(api_key: &str, role: CredentialRole) -> Arc<Credential> {
    Arc::new(Credential {
        name: api_key.to_lowercase(),
        exchange: OKX,
        api_key: api_key.into(),
        api_secret: Secret::new(secret_of(api_key)),
        passphrase: Some(Secret::new(passphrase_of(api_key))),
        role,
    })
}

/// A row: the key, with its own secret and passphrase or not, the managing
/// credential (its key and role) and the sub-account name.
fn job(
    api_key: &str,
    own_secret: bool,
    via: Option<(&str, CredentialRole)>,
    account: Option<&str>,
) -> KeyJob {
    KeyJob::new(
        KeyMaterial {
            exchange: OKX,
            api_key: api_key.into(),
            api_secret: own_secret.then(|| Secret::new(secret_of(api_key))),
            passphrase: own_secret.then(|| Secret::new(passphrase_of(api_key))),
            account: account.map(str::to_string),
            label: None,
        },
        via.map(|(k, role)| credential(k, role)),
    )
}

fn master_job(api_key: &str, own_secret: bool) -> KeyJob {
    job(
        api_key,
        own_secret,
        Some(("MASTER", CredentialRole::Master)),
        Some("botsub001"),
    )
}

fn state(h: &SimHandle, k: &str) -> KeyState {
    testkit::state(h, OKX, k)
}

/// Nothing a failure prints may carry a secret or a passphrase.
fn assert_no_secret(f: &Failure, keys: &[&str]) {
    let text = format!("{f:?} {f}");
    for k in keys {
        assert!(!text.contains(&secret_of(k)), "secret of {k} in {text}");
        assert!(
            !text.contains(&passphrase_of(k)),
            "passphrase of {k} in {text}"
        );
    }
}

/// Writes are limited to 1 per second per User ID: space them out.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1050)).await;
}

#[tokio::test]
async fn a_master_deletes_a_sub_accounts_key_and_its_listing_then_says_dead() {
    let (h, c) = setup(Faults::default()).await;
    let j = master_job("SUB-1", false);
    assert_eq!(
        c.routes(&j),
        vec![
            Route::DeleteByMaster,
            Route::DisableByMaster,
            Route::Escalate
        ]
    );
    assert!(c.check(&j).is_empty(), "{:?}", c.check(&j));
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Alive);
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    assert_eq!(state(&h, "SUB-1"), KeyState::Deleted);
    assert_eq!(
        c.probe(&j).await.unwrap().liveness,
        Liveness::Dead,
        "59506 from the master's query"
    );
    // Deleting it again: OKX names the missing key (59506), which the
    // executor turns into already_dead after its probe agrees.
    next_second().await;
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::KeyDead(_)), "{f:?}");
    assert_eq!(f.meta.code.as_deref(), Some("59506"));
    assert_eq!(
        state(&h, "SUB-2"),
        KeyState::Alive,
        "only the named key went"
    );
}

#[tokio::test]
async fn the_keys_own_probe_reads_its_permissions_and_sees_it_die() {
    let (_h, c) = setup(Faults::default()).await;
    let j = master_job("SUB-1", true);
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.permissions, vec!["read_only", "trade"]);
    assert_eq!(p.can_move_funds, Some(false));
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Dead, "50119 on the key's own call");
    // A key OKX never knew (50111) is dead too.
    let ghost = job("NEVER-EXISTED", true, None, None);
    assert_eq!(c.probe(&ghost).await.unwrap().liveness, Liveness::Dead);
}

#[tokio::test]
async fn a_withdraw_enabled_key_can_move_funds() {
    let (_h, c) = setup(Faults::default()).await;
    let p = c
        .probe(&job("LONE-MASTER", true, None, None))
        .await
        .unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.can_move_funds, Some(true));
}

#[tokio::test]
async fn a_master_key_no_one_manages_is_escalated_without_a_call() {
    let (h, c) = setup(Faults::default()).await;
    let j = job("LONE-MASTER", true, None, None);
    assert_eq!(c.routes(&j), vec![Route::Escalate]);
    let reason = c.escalation_reason(&j).expect("a reason");
    assert!(reason.contains("deletes or restricts itself"), "{reason}");
    let f = c.perform(Route::DeleteSelf, &j).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Unsupported(_)), "{f:?}");
    assert_eq!(h.exchange(OKX).stats.snapshot().deletes, 0);
}

#[tokio::test]
async fn a_master_disables_a_sub_key_read_only_and_bound_to_an_unroutable_ip() {
    let (h, c) = setup(Faults::default()).await;
    let j = master_job("SUB-2", true);
    c.perform(Route::DisableByMaster, &j)
        .await
        .expect("disabled");
    let k = h.exchange(OKX).keys.get("SUB-2").unwrap();
    assert!(k.read_only);
    assert_eq!(k.ips, vec!["192.0.2.1".to_string()]);
    // Its own probe is now refused by IP (50110): alive, but unusable here.
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.permissions, vec!["ip_restricted"]);
}

#[tokio::test]
async fn an_nd_broker_deletes_and_disables_through_the_broker_endpoints() {
    let (h, c) = setup(Faults::default()).await;
    let j = job(
        "ND-SUB-1",
        false,
        Some(("BROKER", CredentialRole::Broker)),
        Some("ndsub0001"),
    );
    assert_eq!(
        c.routes(&j),
        vec![
            Route::DeleteByBroker,
            Route::DisableByMaster,
            Route::Escalate
        ]
    );
    let p = c.probe(&j).await.unwrap();
    assert_eq!(
        p.can_move_funds,
        Some(true),
        "an ND sub-account key may withdraw"
    );
    c.perform(Route::DisableByMaster, &j)
        .await
        .expect("disabled through the broker endpoint");
    assert!(h.exchange(OKX).keys.get("ND-SUB-1").unwrap().read_only);
    c.perform(Route::DeleteByBroker, &j)
        .await
        .expect("deleted through the broker endpoint");
    assert_eq!(state(&h, "ND-SUB-1"), KeyState::Deleted);
    // The master route with a broker credential is refused before any call.
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Unsupported(_)), "{f:?}");
}

#[tokio::test]
async fn a_master_key_bound_to_no_ip_cannot_manage_keys_and_the_route_moves_on() {
    let (h, c) = setup(Faults::default()).await;
    let j = job(
        "SUB-U",
        false,
        Some(("MASTER-UNBOUND", CredentialRole::Master)),
        Some("botsub002"),
    );
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Unsupported(_)), "{f:?}");
    assert_eq!(
        (f.meta.code.as_deref(), f.meta.http_status),
        (Some("50035"), Some(403))
    );
    assert_eq!(state(&h, "SUB-U"), KeyState::Alive);
    assert_no_secret(&f, &["MASTER-UNBOUND", "SUB-U"]);
}

#[tokio::test]
async fn writes_beyond_one_per_second_are_rate_limited_per_account() {
    let (_h, c) = setup(Faults::default()).await;
    // Six deletes within less than five seconds span at most five
    // one-second windows: at least one is refused with 50011 in an HTTP 200
    // body.
    let mut limited = Vec::new();
    for k in ["SUB-1", "SUB-2", "SUB-1", "SUB-2", "SUB-1", "SUB-2"] {
        if let Err(f) = c
            .perform(Route::DeleteByMaster, &master_job(k, false))
            .await
            && matches!(f.error, ConnectorError::RateLimited { .. })
        {
            limited.push(f);
        }
    }
    let f = limited
        .first()
        .expect("at least one delete was rate limited");
    assert_eq!(
        f.error,
        ConnectorError::RateLimited {
            retry_after: None,
            scope: LimitScope::Account
        }
    );
    assert_eq!(
        (f.meta.code.as_deref(), f.meta.http_status),
        (Some("50011"), Some(200))
    );
}

#[tokio::test]
async fn a_wrong_passphrase_in_the_inventory_falls_back_to_the_masters_view() {
    let (_h, c) = setup(Faults::default()).await;
    let mut j = master_job("SUB-1", true);
    j.key.passphrase = Some(Secret::from("Not-The-Pass1!"));
    let p = c.probe(&j).await.unwrap();
    assert_eq!(
        p.liveness,
        Liveness::Alive,
        "the master's query still sees the key"
    );
    // Without a master, the refusal (50105) is reported, without the passphrase.
    let mut lone = job("SUB-1", true, None, None);
    lone.key.passphrase = Some(Secret::from("Not-The-Pass1!"));
    let f = c.probe(&lone).await.unwrap_err();
    assert_eq!(f.meta.code.as_deref(), Some("50105"));
    let text = format!("{f:?}");
    assert!(
        !text.contains("Not-The-Pass1!") && !text.contains(&secret_of("SUB-1")),
        "{text}"
    );
}

#[tokio::test]
async fn a_master_lists_its_sub_accounts_newest_first_page_by_page_then_their_keys() {
    use keyrevoke_core::discovery::PageRequest;
    let (h, conn) = setup(Faults::default()).await;
    // 100 more sub-accounts under MASTER: with botsub001, one more than a
    // page of the documented maximum (limit 100).
    for i in 0..100 {
        let k = sim_key(
            &format!("PAGED-{i:03}"),
            &format!("{}", 5000 + i),
            &["trade"],
            &["*"],
        )
        .sub_of("1000")
        .in_sub_account(&format!("paged{i:03}"))
        .labelled(&format!("bot-{i}"));
        h.exchange(OKX).keys.insert(k);
    }
    let master = credential("MASTER", CredentialRole::Master);
    let first = conn.discover(&master, &PageRequest::start()).await.unwrap();
    assert_eq!(first.accounts.len(), 100, "a full page");
    // Newest first: the sub-account created last (the highest UID here).
    assert_eq!(first.accounts[0], "paged099");
    let cursor = first.next.clone().expect("a second page");
    let second = conn
        .discover(&master, &PageRequest::start().continued(cursor))
        .await
        .unwrap();
    assert_eq!(second.accounts, vec!["botsub001"]);
    assert_eq!(second.next, None);
    let keys = conn
        .discover(&master, &PageRequest::keys_of("paged007"))
        .await
        .unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].api_key, "PAGED-007");
    assert_eq!(keys.keys[0].label.as_deref(), Some("bot-7"));
    assert_eq!(keys.next, None, "the sub-key query is not paged");
    let both = conn
        .discover(&master, &PageRequest::keys_of("botsub001"))
        .await
        .unwrap();
    let mut found: Vec<&str> = both.keys.iter().map(|k| k.api_key.as_str()).collect();
    found.sort();
    // Every key of the fixture's sub-account, the one to rotate too.
    assert_eq!(found, vec!["SUB-1", "SUB-2", "SUB-ROT"]);
}

#[tokio::test]
async fn an_nd_broker_lists_its_sub_accounts_by_page_and_their_keys() {
    use keyrevoke_core::discovery::PageRequest;
    let (_h, conn) = setup(Faults::default()).await;
    let broker = credential("BROKER", CredentialRole::Broker);
    let subs = conn.discover(&broker, &PageRequest::start()).await.unwrap();
    assert_eq!(subs.accounts, vec!["ndsub0001"]);
    assert_eq!(subs.next, None);
    let keys = conn
        .discover(&broker, &PageRequest::keys_of("ndsub0001"))
        .await
        .unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].api_key, "ND-SUB-1");
    // The master's list refuses a broker's ND sub-accounts (59619), and the
    // broker's list a plain master (59608): each credential uses its own.
    let as_master = credential("BROKER", CredentialRole::Master);
    let refused = conn.discover(&as_master, &PageRequest::start()).await;
    assert!(refused.is_err(), "{:?}", refused.map(|p| p.accounts));
}

#[tokio::test]
async fn sub_account_lists_beyond_two_per_two_seconds_are_refused_with_50011() {
    use keyrevoke_core::discovery::PageRequest;
    let (_h, conn) = setup(Faults::default()).await;
    let master = credential("MASTER", CredentialRole::Master);
    for _ in 0..2 {
        conn.discover(&master, &PageRequest::start()).await.unwrap();
    }
    let third = conn.discover(&master, &PageRequest::start()).await;
    let Err(f) = third else {
        panic!("a third list within 2 s was served")
    };
    assert!(
        matches!(f.error, ConnectorError::RateLimited { .. }),
        "{f:?}"
    );
    assert_eq!(f.meta.code.as_deref(), Some("50011"));
}
