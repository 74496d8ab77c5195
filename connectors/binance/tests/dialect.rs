//! The Binance connector against the simulator's Binance dialect.

use keyrevoke_binance::BinanceConnector;
use keyrevoke_binance::endpoints;
use keyrevoke_binance::sign::{DEFAULT_RECV_WINDOW_MS, Params, Signer};
use keyrevoke_core::endpoint::Method;
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::hmac_sha256_hex;
use keyrevoke_core::{
    Connector, ConnectorError, Credential, CredentialRole, ExchangeId, KeyJob, KeyMaterial,
    Liveness, Operation, Route, Secret,
};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance;
use keyrevoke_sim::conformance::signing::{self, Captured, Published, Signing};
use keyrevoke_sim::dialects::binance::BROKER_ACCOUNT;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, secret_of};
use std::sync::Arc;
use std::time::Duration;

const MASTER: &str = "MASTER0000000000000000001";
const BROKER: &str = "BROKER0000000000000000001";
const SUB_KEY: &str = "SUBKEY0000000000000000001";
const BROKER_SUB_KEY: &str = "BROKERSUBKEY0000000000001";
const LEAKED_MASTER: &str = "LEAKEDMASTER0000000000001";
/// Due for rotation: 120 days old, bound to loopback and another IP.
const SUB_DUE: &str = "SUBROT0000000000000000001";
/// Another key of master account 1000, without "Enable Spot & Margin
/// Trading", which the create (TRADE) requires.
const MASTER_READ_ONLY: &str = "MASTERREAD000000000000001";
const SUB_EMAIL: &str = "bot001@virtual.example";
const BROKER_SUB_ID: &str = "4000";
const TRADE: &str = "enableSpotAndMarginTrading";

/// The keys every Binance case starts from.
fn keys() -> Vec<SimKey> {
    vec![
        testkit::key(
            MASTER,
            "1000",
            &["enableReading", TRADE, "permitsUniversalTransfer"],
        ),
        testkit::key(BROKER, "3000", &["enableReading", TRADE, BROKER_ACCOUNT]),
        testkit::key(
            LEAKED_MASTER,
            "1500",
            &["enableReading", TRADE, "enableWithdrawals"],
        ),
        testkit::key(
            SUB_KEY,
            "2000",
            &["enableReading", TRADE, "permitsUniversalTransfer"],
        )
        .sub_of("1000")
        .in_sub_account(SUB_EMAIL),
        testkit::key(SUB_DUE, "2000", &["enableReading", TRADE, "enableFutures"])
            .sub_of("1000")
            .in_sub_account(SUB_EMAIL)
            .labelled("bot-17")
            .bound_to(&["127.0.0.1", "203.0.113.7"])
            .created_days_ago(120),
        testkit::key(MASTER_READ_ONLY, "1000", &["enableReading"]),
        testkit::key(
            BROKER_SUB_KEY,
            BROKER_SUB_ID,
            &["enableReading", TRADE, "enableFutures"],
        )
        .sub_of("3000"),
    ]
}

struct Binance;

impl conformance::Subject for Binance {
    type Connector = BinanceConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_binance::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> BinanceConnector {
        testkit::connector(h, Self::exchange(), BinanceConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    fn managed_row() -> KeyJob {
        via_master(SUB_KEY, false)
    }

    fn rotation() -> Option<conformance::Rotation> {
        Some(conformance::Rotation {
            old: via_master(SUB_DUE, false),
            unpermitted: (*credential(MASTER_READ_ONLY, CredentialRole::Master)).clone(),
            passphrase: None,
            // Weight(UID) 3000 of 180,000 a minute: 60 creates a minute,
            // which a burst of two does not meet.
            creates_per_second: None,
            copies_ips: true,
        })
    }

    /// rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order":
    /// examples 1 and 2 (the same payload as a body or as a query string),
    /// the non-ASCII example (percent-encoded, UTF-8, before signing) and
    /// example 3 (query and body concatenated with no `&`); then the
    /// official Python SDK's requests (test_data/official_client_vectors.json,
    /// built from the connector's endpoint builders: parameter order, `@`
    /// as `%40`, `recvWindow`, `timestamp`, `signature`) and ccxt 4.5.90's
    /// (test_data/ccxt_vectors.json: ccxt orders and encodes parameters its
    /// own way, with `recvWindow=10000`; our signer, fed ccxt's query, must
    /// sign it as ccxt did; that our builder sends the same parameters and
    /// values is `sign.rs`'s `our_requests_carry_ccxt_s_parameters_and_values`).
    fn signing() -> Signing {
        const SOURCE: &str = "rest-api.md, \"SIGNED Endpoint Examples for POST /api/v3/order\"";
        const DOC_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
        const DOC_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let secret = Secret::from(DOC_SECRET);
        let signer = Signer {
            api_key: DOC_KEY,
            secret: &secret,
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
        };
        let order = |symbol: &str| {
            signer.sign(
                Method::POST,
                "/api/v3/order",
                &Params::new()
                    .with("symbol", symbol)
                    .with("side", "BUY")
                    .with("type", "LIMIT")
                    .with("timeInForce", "GTC")
                    .with("quantity", "1")
                    .with("price", "0.1"),
                1_499_827_319_559,
            )
        };
        let example_1 = order("LTCBTC");
        Signing {
            published: vec![
                Published {
                    source: SOURCE,
                    ours: example_1.path_and_query.clone(),
                    documented: "/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
                },
                Published {
                    source: SOURCE,
                    ours: format!("{:?}", example_1.headers),
                    documented: "[(\"X-MBX-APIKEY\", \"vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A\")]",
                },
                Published {
                    source: SOURCE,
                    ours: order("１２３４５６").path_and_query,
                    documented: "/api/v3/order?symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3",
                },
                Published {
                    source: SOURCE,
                    ours: hmac_sha256_hex(
                        DOC_SECRET,
                        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
                    ),
                    documented: "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77",
                },
            ],
            captured: vec![
                Captured {
                    file: "test_data/official_client_vectors.json",
                    json: include_str!("../test_data/official_client_vectors.json"),
                    origin: ORIGIN,
                    ignore_headers: &[],
                    build: official_sdk_request,
                },
                Captured {
                    file: "test_data/ccxt_vectors.json",
                    json: include_str!("../test_data/ccxt_vectors.json"),
                    origin: ORIGIN,
                    ignore_headers: &[],
                    build: ccxt_request,
                },
            ],
        }
    }
}

const ORIGIN: &str = "https://api.binance.com";

/// The vector's signer, with the window the client sent.
fn vector_signer<'a>(v: &'a serde_json::Value, secret: &'a Secret, window: u64) -> Signer<'a> {
    Signer {
        api_key: signing::credentials(v).0,
        secret,
        recv_window_ms: window,
    }
}

/// The official SDK's request for one vector, built by the connector's own
/// endpoint table and parameter builders.
fn official_sdk_request(v: &serde_json::Value) -> Option<PreparedRequest> {
    let (email, sub_key) = ("bot001@virtual.example", "SUBKEYabc123");
    let (endpoint, params) = match v["what"].as_str()? {
        "master deletes a sub-account key" => (
            &endpoints::DELETE_SUB_KEY,
            endpoints::sub_key_params(email, sub_key),
        ),
        "master looks for the key in the sub account's key list" => (
            &endpoints::QUERY_SUB_KEYS,
            endpoints::find_sub_key_params(email, sub_key),
        ),
        "master binds the sub key to an unroutable IP" => (
            &endpoints::SUB_KEY_IP_RESTRICTION,
            endpoints::sub_key_ip_lock_params(email, sub_key),
        ),
        "master strips the sub key's trading and transfer permissions" => (
            &endpoints::SUB_KEY_PERMISSION,
            endpoints::sub_key_strip_params(email, sub_key),
        ),
        "liveness probe" => (&endpoints::API_RESTRICTIONS, Params::new()),
        _ => return None,
    };
    let secret = Secret::from(signing::credentials(v).1);
    Some(vector_signer(v, &secret, DEFAULT_RECV_WINDOW_MS).sign(
        endpoint.method.clone(),
        endpoint.path,
        &params,
        signing::clock_ms(v),
    ))
}

/// ccxt's request for one vector: its own unsigned query (ccxt's order and
/// encoding, `recvWindow=10000`), signed by our signer, for the calls the
/// connector makes.
fn ccxt_request(v: &serde_json::Value) -> Option<PreparedRequest> {
    let url = v["request"]["url"].as_str()?;
    let (path, query) = url.strip_prefix(ORIGIN)?.split_once('?')?;
    [endpoints::SUB_KEYS_PATH, endpoints::API_RESTRICTIONS_PATH]
        .contains(&path)
        .then_some(())?;
    let (unsigned, _) = query.rsplit_once("&signature=")?;
    let method: Method = v["request"]["method"].as_str()?.parse().ok()?;
    let secret = Secret::from(signing::credentials(v).1);
    Some(vector_signer(v, &secret, 10_000).sign_query(method, path, unsigned))
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Binance>().await;
}

async fn setup(faults: Faults) -> (SimHandle, BinanceConnector) {
    let h = testkit::start(keyrevoke_binance::EXCHANGE.id, faults, keys()).await;
    let conn = testkit::connector(&h, keyrevoke_binance::EXCHANGE.id, BinanceConnector::new);
    (h, conn)
}

fn credential(api_key: &str, role: CredentialRole) -> Arc<Credential> {
    Arc::new(Credential {
        name: if role == CredentialRole::Broker {
            "link".into()
        } else {
            "m".into()
        },
        exchange: keyrevoke_binance::EXCHANGE.id,
        api_key: api_key.into(),
        api_secret: Secret::new(secret_of(api_key)),
        passphrase: None,
        role,
    })
}

fn job(
    api_key: &str,
    with_secret: bool,
    via: Option<Arc<Credential>>,
    account: Option<&str>,
) -> KeyJob {
    KeyJob::new(
        KeyMaterial {
            exchange: keyrevoke_binance::EXCHANGE.id,
            api_key: api_key.into(),
            api_secret: with_secret.then(|| Secret::new(secret_of(api_key))),
            passphrase: None,
            account: account.map(str::to_string),
            label: None,
        },
        via,
    )
}

fn via_master(api_key: &str, with_secret: bool) -> KeyJob {
    job(
        api_key,
        with_secret,
        Some(credential(MASTER, CredentialRole::Master)),
        Some(SUB_EMAIL),
    )
}

fn via_broker(api_key: &str) -> KeyJob {
    job(
        api_key,
        false,
        Some(credential(BROKER, CredentialRole::Broker)),
        Some(BROKER_SUB_ID),
    )
}

fn key(h: &SimHandle, k: &str) -> SimKey {
    h.exchange(keyrevoke_binance::EXCHANGE.id)
        .keys
        .get(k)
        .unwrap()
}

#[tokio::test]
async fn a_master_deletes_a_sub_key_and_its_listing_then_says_dead() {
    let (h, c) = setup(Faults::default()).await;
    let j = via_master(SUB_KEY, false);
    assert_eq!(
        c.routes(&j),
        vec![
            Route::DeleteByMaster,
            Route::DisableByMaster,
            Route::Escalate
        ]
    );
    assert!(c.can_probe(&j), "the master's listing can tell");
    let before = c.probe(&j).await.unwrap();
    assert_eq!(before.liveness, Liveness::Alive);
    assert_eq!(
        before.can_move_funds,
        Some(true),
        "the listing shows universal transfer"
    );
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    assert_eq!(key(&h, SUB_KEY).state, KeyState::Deleted);
    assert_eq!(
        c.probe(&j).await.unwrap().liveness,
        Liveness::Dead,
        "the listing no longer holds the key"
    );
    // Deleting it again is refused (no code says "already deleted"); the
    // executor then probes, and the listing says dead.
    let again = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(
        matches!(again.error, ConnectorError::Permanent { .. }),
        "{again:?}"
    );
    assert_eq!(again.meta.code.as_deref(), Some("-1130"));
}

#[tokio::test]
async fn a_deleted_sub_key_with_its_secret_is_recognised_dead_through_the_master() {
    let (h, c) = setup(Faults::default()).await;
    h.exchange(keyrevoke_binance::EXCHANGE.id)
        .keys
        .update(SUB_KEY, |k| k.state = KeyState::Deleted);
    let alone = job(SUB_KEY, true, None, None);
    let p = c.probe(&alone).await.unwrap();
    assert_eq!(
        p.liveness,
        Liveness::CannotTell,
        "-2015 alone is no proof of death: {p:?}"
    );
    assert_eq!(p.meta.code.as_deref(), Some("-2015"));
    let managed = via_master(SUB_KEY, true);
    assert_eq!(c.probe(&managed).await.unwrap().liveness, Liveness::Dead);
}

#[tokio::test]
async fn a_broker_deletes_a_binance_link_sub_key() {
    let (h, c) = setup(Faults::default()).await;
    let j = via_broker(BROKER_SUB_KEY);
    assert_eq!(
        c.routes(&j),
        vec![
            Route::DeleteByBroker,
            Route::DisableByMaster,
            Route::Escalate
        ]
    );
    assert!(
        !c.can_probe(&j),
        "the broker's listing masks keys: no probe without the key's secret"
    );
    let wrong = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(
        matches!(wrong.error, ConnectorError::Unsupported(_)),
        "{wrong:?}"
    );
    c.perform(Route::DeleteByBroker, &j).await.expect("deleted");
    assert_eq!(key(&h, BROKER_SUB_KEY).state, KeyState::Deleted);
}

#[tokio::test]
async fn a_master_disables_a_sub_key_with_an_unroutable_ip_and_no_permissions() {
    let (h, c) = setup(Faults::default()).await;
    let j = via_master(SUB_KEY, true);
    c.perform(Route::DisableByMaster, &j)
        .await
        .expect("disabled");
    let k = key(&h, SUB_KEY);
    assert_eq!(k.ips, vec!["192.0.2.1".to_string()]);
    assert_eq!(k.permissions, vec!["enableReading".to_string()]);
    // Its own probe is now refused (-2015); the master's listing says the
    // key exists, and can no longer move funds.
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive, "{p:?}");
    assert_eq!(p.can_move_funds, None, "{p:?}");
    assert!(p.permissions.is_empty(), "{p:?}");
}

#[tokio::test]
async fn a_broker_disables_a_binance_link_sub_key() {
    let (h, c) = setup(Faults::default()).await;
    c.perform(Route::DisableByMaster, &via_broker(BROKER_SUB_KEY))
        .await
        .expect("disabled");
    let k = key(&h, BROKER_SUB_KEY);
    assert_eq!(k.ips, vec!["192.0.2.1".to_string()]);
    assert_eq!(k.permissions, vec!["enableReading".to_string()]);
}

#[tokio::test]
async fn a_master_without_spot_trading_cannot_restrict_ips_so_the_route_falls_through() {
    let (h, c) = setup(Faults::default()).await;
    h.exchange(keyrevoke_binance::EXCHANGE.id)
        .keys
        .update(MASTER, |k| k.permissions.retain(|p| p != TRADE));
    let f = c
        .perform(Route::DisableByMaster, &via_master(SUB_KEY, false))
        .await
        .unwrap_err();
    assert!(
        matches!(f.error, ConnectorError::Unsupported(_)),
        "-2015 on a master's call means: next channel: {f:?}"
    );
    assert_eq!(key(&h, SUB_KEY).ips, vec!["*".to_string()]);
}

#[tokio::test]
async fn a_leaked_master_key_is_probed_then_only_escalated() {
    let (_h, c) = setup(Faults::default()).await;
    let j = job(LEAKED_MASTER, true, None, None);
    assert_eq!(
        c.routes(&j),
        vec![Route::Escalate],
        "no Binance API lets a key act on itself"
    );
    assert!(c.escalation_reason(&j).is_some());
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(
        p.can_move_funds,
        Some(true),
        "withdrawals are enabled: {p:?}"
    );
    assert!(
        p.permissions.contains(&"enableWithdrawals".to_string()),
        "{p:?}"
    );
    let f = c.perform(Route::DeleteSelf, &j).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Unsupported(_)));
    // A key known only by its id cannot be probed at all.
    assert!(!c.can_probe(&job(LEAKED_MASTER, false, None, None)));
}

#[tokio::test]
async fn rows_that_name_no_sub_account_or_the_wrong_kind_of_id_are_reported() {
    let (_h, c) = setup(Faults::default()).await;
    let no_account = job(
        SUB_KEY,
        false,
        Some(credential(MASTER, CredentialRole::Master)),
        None,
    );
    let problems = c.check(&no_account);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "account");
    assert_eq!(c.routes(&no_account), vec![Route::Escalate]);
    let numeric_for_master = job(
        SUB_KEY,
        false,
        Some(credential(MASTER, CredentialRole::Master)),
        Some("4000"),
    );
    assert_eq!(
        c.check(&numeric_for_master)[0].field,
        "via",
        "a subAccountId needs a broker credential"
    );
    let email_for_broker = job(
        SUB_KEY,
        false,
        Some(credential(BROKER, CredentialRole::Broker)),
        Some(SUB_EMAIL),
    );
    assert_eq!(
        c.check(&email_for_broker)[0].field,
        "via",
        "an email needs a master credential"
    );
    assert!(c.check(&via_master(SUB_KEY, false)).is_empty());
    assert!(c.check(&via_broker(BROKER_SUB_KEY)).is_empty());
}

#[tokio::test]
async fn a_probe_spends_the_masters_budget_when_there_is_a_master() {
    let (_h, c) = setup(Faults::default()).await;
    assert_eq!(
        c.account_for(Operation::Probe, &via_master(SUB_KEY, true)),
        "cred:m"
    );
    assert!(
        c.account_for(Operation::Probe, &job(SUB_KEY, true, None, None))
            .starts_with("key:")
    );
}

#[tokio::test]
async fn the_per_uid_limit_is_a_rate_limit_on_the_masters_account_with_usage() {
    let (_h, c) = setup(Faults::default()).await;
    let j = via_master(SUB_KEY, false);
    let mut limited = None;
    // 60 listings a minute; 121 span at most two windows.
    for _ in 0..121 {
        match c.probe(&j).await {
            Ok(p) => assert_eq!(p.liveness, Liveness::Alive),
            Err(f) => {
                limited = Some(f);
                break;
            }
        }
    }
    let f = limited.expect("the 61st listing in a minute is refused");
    match f.error {
        ConnectorError::RateLimited { retry_after, scope } => {
            assert_eq!(scope, LimitScope::Account);
            assert!(
                retry_after.is_some_and(|d| d <= Duration::from_secs(60)),
                "{retry_after:?}"
            );
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    let usage = f.usage.first().expect("the UID weight header is read");
    assert_eq!(usage.remaining, Some(0), "no listing left this minute");
}

#[tokio::test]
async fn an_injected_429_is_a_rate_limit() {
    let (_h, c) = setup(Faults {
        rate_limited: 1.0,
        ..Faults::default()
    })
    .await;
    let f = c
        .perform(Route::DeleteByMaster, &via_master(SUB_KEY, false))
        .await
        .unwrap_err();
    assert!(
        matches!(
            f.error,
            ConnectorError::RateLimited {
                retry_after: Some(_),
                scope: LimitScope::Account
            }
        ),
        "{f:?}"
    );
}

#[tokio::test]
async fn failures_never_show_a_secret() {
    let (_h, c) = setup(Faults::default()).await;
    let j = via_master("NOSUCHKEY0000000000000001", true);
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    let p = c.probe(&j).await.unwrap();
    let text = format!("{f:?} {f} {p:?} {j:?}");
    for secret in [
        "NOSUCHKEY0000000000000001-secret",
        &format!("{MASTER}-secret"),
    ] {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
}

#[tokio::test]
async fn a_master_discovers_its_sub_accounts_then_each_ones_keys() {
    use keyrevoke_core::discovery::PageRequest;
    let (h, conn) = setup(Faults::default()).await;
    let master = credential(MASTER, CredentialRole::Master);
    let accounts = conn.discover(&master, &PageRequest::start()).await.unwrap();
    assert_eq!(accounts.accounts, vec![SUB_EMAIL]);
    assert_eq!(accounts.next, None, "one short page is the last");
    let keys = conn
        .discover(&master, &PageRequest::keys_of(SUB_EMAIL))
        .await
        .unwrap();
    let found: Vec<(&str, &str)> = keys
        .keys
        .iter()
        .map(|k| (k.api_key.as_str(), k.account.as_str()))
        .collect();
    assert_eq!(found, vec![(SUB_KEY, SUB_EMAIL), (SUB_DUE, SUB_EMAIL)]);
    assert_eq!(keys.next, None);
    assert_eq!(
        h.exchange(ExchangeId::new("binance"))
            .stats
            .snapshot()
            .lists,
        2
    );
}

#[tokio::test]
async fn a_broker_lists_its_sub_accounts_by_id_then_their_keys_and_deletes_what_it_found() {
    use keyrevoke_core::discovery::PageRequest;
    let (h, conn) = setup(Faults::default()).await;
    let broker = credential(BROKER, CredentialRole::Broker);
    let subs = conn.discover(&broker, &PageRequest::start()).await.unwrap();
    assert_eq!(subs.accounts, vec![BROKER_SUB_ID]);
    assert_eq!(subs.next, None, "a page shorter than 500 is the last");
    let keys = conn
        .discover(&broker, &PageRequest::keys_of(BROKER_SUB_ID))
        .await
        .unwrap();
    assert_eq!(keys.keys.len(), 1);
    let found = &keys.keys[0];
    assert_eq!(
        (found.api_key.as_str(), found.account.as_str()),
        (BROKER_SUB_KEY, BROKER_SUB_ID)
    );
    // What was found is what the broker's delete names.
    let row = job(
        BROKER_SUB_KEY,
        false,
        Some(broker.clone()),
        Some(&found.account),
    );
    assert_eq!(conn.routes(&row)[0], Route::DeleteByBroker);
    conn.perform(Route::DeleteByBroker, &row).await.unwrap();
    assert_eq!(key(&h, BROKER_SUB_KEY).state, KeyState::Deleted);
    // A plain master is refused the broker's list.
    let master = credential(MASTER, CredentialRole::Broker);
    assert!(conn.discover(&master, &PageRequest::start()).await.is_err());
}
