//! The Bybit connector against the simulator's Bybit dialect.

use keyrevoke_bybit::BybitConnector;
use keyrevoke_bybit::endpoints;
use keyrevoke_bybit::sign::{DEFAULT_RECV_WINDOW_MS, Signer};
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::hmac_sha256_hex;
use keyrevoke_core::{
    Connector, ConnectorError, Credential, CredentialRole, ExchangeId, KeyJob, KeyMaterial,
    Liveness, Route, Secret,
};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance;
use keyrevoke_sim::conformance::signing::{self, Captured, Published, Signing};
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, key, secret_of};
use std::sync::Arc;

/// The keys every Bybit case starts from.
fn keys() -> Vec<SimKey> {
    vec![
        key(
            "MASTER000000000001",
            "1000",
            &["AccountTransfer", "SubMemberTransfer"],
        ),
        key(
            "SELFDEL00000000001",
            "1001",
            &["AccountTransfer", "SpotTrade"],
        ),
        key("TRADER000000000001", "1002", &["SpotTrade"]),
        // Another master key of account 1000, holding no transfer permission.
        key("MTRADE000000000001", "1000", &["SpotTrade", "Order"]),
        key("SUBKEY000000000001", "2000", &["SpotTrade"]).sub_of("1000"),
        key("SUBSELF00000000001", "2000", &["AccountTransfer"]).sub_of("1000"),
        // Due for rotation: 120 days old, bound to loopback and another IP.
        key(
            "SUBROT000000000001",
            "2000",
            &["SpotTrade", "Order", "Position", "SubMemberTransferList"],
        )
        .sub_of("1000")
        .labelled("bot-17")
        .bound_to(&["127.0.0.1", "203.0.113.7"])
        .created_days_ago(120),
    ]
}

struct Bybit;

impl conformance::Subject for Bybit {
    type Connector = BybitConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_bybit::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> BybitConnector {
        testkit::connector(h, Self::exchange(), BybitConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    fn managed_row() -> KeyJob {
        job("SUBKEY000000000001", false, true, Some("2000"))
    }

    fn rotation() -> Option<conformance::Rotation> {
        Some(conformance::Rotation {
            old: job("SUBROT000000000001", false, true, Some("2000")),
            // A master key of the same account with no Account Transfer, Subaccount Transfer or
            // Withdrawal (create-subuid-apikey.mdx).
            unpermitted: Credential {
                name: "trader".into(),
                exchange: keyrevoke_bybit::EXCHANGE.id,
                api_key: "MTRADE000000000001".into(),
                api_secret: Secret::new(secret_of("MTRADE000000000001")),
                passphrase: None,
                role: CredentialRole::Master,
            },
            passphrase: None,
            // create-sub-api: 1 per second per UID (rate-limit.mdx).
            creates_per_second: Some(1),
            copies_ips: true,
        })
    }

    /// Bybit's published HMAC example (legacy v2 docs, also in
    /// bybit-exchange/api-usage-examples `legacy_demo/api_demo/Encryption.cs`),
    /// which pins the HMAC-SHA256 lowercase-hex primitive with a published
    /// secret; then ccxt 4.5.90's requests for the calls keyrevoke makes
    /// (test_data/ccxt_vectors.json, from ../shared/vectors/bybit.json).
    fn signing() -> Signing {
        Signing {
            published: vec![Published {
                source: "bybit-exchange/api-usage-examples, legacy_demo/api_demo/Encryption.cs",
                ours: hmac_sha256_hex(
                    "t7T0YlFnYXk0Fx3JswQsDrViLg1Gh3DUU5Mr",
                    "api_key=B2Rou0PLPpGqcU0Vu2&side=Buy&symbol=BTCUSD&qty=100&price=3001.5&time_in_force=GoodTillCancel&order_type=Limit&reduce_only=true&timestamp=1542434791000",
                ),
                documented: "52a6a6fc4da6d395baa8daccd21eb903eb47c19c03112cc2c80b005f2d181aef",
            }],
            captured: vec![Captured {
                file: "test_data/ccxt_vectors.json",
                json: include_str!("../test_data/ccxt_vectors.json"),
                origin: "https://api.bybit.com",
                ignore_headers: &[],
                build: ccxt_request,
            }],
        }
    }
}

/// ccxt's request for one vector, built by the connector's own endpoint
/// table, bodies and signer.
fn ccxt_request(v: &serde_json::Value) -> Option<PreparedRequest> {
    let (endpoint, body) = match v["what"].as_str()? {
        "a key deletes itself" => (&endpoints::DELETE_MASTER_KEY, Some("{}".to_string())),
        "master deletes a sub key" => (
            &endpoints::DELETE_SUB_KEY,
            Some(endpoints::master_delete_body("SUBKEY123")),
        ),
        "liveness probe" => (&endpoints::QUERY_KEY, None),
        _ => return None,
    };
    let (api_key, secret, _) = signing::credentials(v);
    let secret = Secret::from(secret);
    let signer = Signer {
        api_key,
        secret: &secret,
        recv_window_ms: DEFAULT_RECV_WINDOW_MS,
    };
    let mut built = signer.sign(
        endpoint.method.clone(),
        endpoint.path,
        "",
        body.as_deref(),
        signing::clock_ms(v),
    );
    // ccxt leaves an empty `?` on a GET without parameters; the query
    // string, and so the signature over it, is empty either way.
    if v["request"]["url"].as_str()?.ends_with('?') {
        built.path_and_query.push('?');
    }
    Some(built)
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Bybit>().await;
}

async fn setup(faults: Faults) -> (SimHandle, BybitConnector) {
    let h = testkit::start(keyrevoke_bybit::EXCHANGE.id, faults, keys()).await;
    let conn = testkit::connector(&h, keyrevoke_bybit::EXCHANGE.id, BybitConnector::new);
    (h, conn)
}

fn job(api_key: &str, with_secret: bool, via_master: bool, account: Option<&str>) -> KeyJob {
    let via = via_master.then(|| {
        Arc::new(Credential {
            name: "m".into(),
            exchange: keyrevoke_bybit::EXCHANGE.id,
            api_key: "MASTER000000000001".into(),
            api_secret: Secret::new(secret_of("MASTER000000000001")),
            passphrase: None,
            role: CredentialRole::Master,
        })
    });
    KeyJob::new(
        KeyMaterial {
            exchange: keyrevoke_bybit::EXCHANGE.id,
            api_key: api_key.into(),
            api_secret: with_secret.then(|| Secret::new(secret_of(api_key))),
            passphrase: None,
            account: account.map(str::to_string),
            label: None,
        },
        via,
    )
}

fn state(h: &SimHandle, k: &str) -> KeyState {
    testkit::state(h, keyrevoke_bybit::EXCHANGE.id, k)
}

#[tokio::test]
async fn a_master_key_with_a_transfer_permission_deletes_itself() {
    let (h, c) = setup(Faults::default()).await;
    let j = job("SELFDEL00000000001", true, false, None);
    assert_eq!(
        c.routes(&j),
        vec![Route::DeleteSelf, Route::DisableSelf, Route::Escalate]
    );
    c.perform(Route::DeleteSelf, &j).await.expect("deleted");
    assert_eq!(state(&h, "SELFDEL00000000001"), KeyState::Deleted);
    let probe = c.probe(&j).await.unwrap();
    assert_eq!(probe.liveness, Liveness::Dead);
    let again = c.perform(Route::DeleteSelf, &j).await.unwrap_err();
    assert!(
        matches!(again.error, ConnectorError::KeyDead(_)),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_sub_key_deletes_itself_through_delete_sub_api_in_one_request() {
    let (h, c) = setup(Faults::default()).await;
    let j = job("SUBSELF00000000001", true, false, Some("2000"));
    c.perform(Route::DeleteSelf, &j).await.expect("deleted");
    assert_eq!(state(&h, "SUBSELF00000000001"), KeyState::Deleted);
    let seen = h.exchange(keyrevoke_bybit::EXCHANGE.id).stats.snapshot();
    assert_eq!((seen.requests, seen.probes), (1, 0), "{seen:?}");
}

#[tokio::test]
async fn a_sub_key_listed_without_its_account_is_refused_and_deletes_nothing() {
    let (h, c) = setup(Faults::default()).await;
    let j = job("SUBSELF00000000001", true, false, None);
    let f = c.perform(Route::DeleteSelf, &j).await.unwrap_err();
    assert!(
        matches!(&f.error, ConnectorError::Unsupported(m) if m.contains("names no `account`")),
        "{f:?}"
    );
    assert_eq!(state(&h, "SUBSELF00000000001"), KeyState::Alive);
}

#[tokio::test]
async fn a_trade_only_key_is_refused_its_delete_in_one_request() {
    let (h, c) = setup(Faults::default()).await;
    let j = job("TRADER000000000001", true, false, None);
    let f = c.perform(Route::DeleteSelf, &j).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Unsupported(_)), "{f:?}");
    assert_eq!(f.meta.code.as_deref(), Some("10005"), "{f:?}");
    let seen = h.exchange(keyrevoke_bybit::EXCHANGE.id).stats.snapshot();
    assert_eq!((seen.requests, seen.deletes), (1, 0), "{seen:?}");
    let probe = c.probe(&j).await.unwrap();
    assert_eq!(probe.liveness, Liveness::Alive);
    assert_eq!(probe.can_move_funds, Some(false));
}

#[tokio::test]
async fn a_master_deletes_a_sub_key_and_its_listing_then_says_dead() {
    let (h, c) = setup(Faults::default()).await;
    let j = job("SUBKEY000000000001", false, true, Some("2000"));
    assert_eq!(
        c.routes(&j),
        vec![
            Route::DeleteByMaster,
            Route::DisableByMaster,
            Route::Escalate
        ]
    );
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Alive);
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    assert_eq!(state(&h, "SUBKEY000000000001"), KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
    // Deleting it again is refused; the executor's probe then says dead.
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Permanent { .. }), "{f:?}");
}

#[tokio::test]
async fn a_master_disables_a_sub_key_by_binding_it_to_an_unroutable_ip() {
    let (h, c) = setup(Faults::default()).await;
    let j = job("SUBKEY000000000001", false, true, Some("2000"));
    c.perform(Route::DisableByMaster, &j)
        .await
        .expect("disabled");
    let k = h
        .exchange(keyrevoke_bybit::EXCHANGE.id)
        .keys
        .get("SUBKEY000000000001")
        .unwrap();
    assert!(k.read_only);
    assert_eq!(k.ips, vec!["192.0.2.1".to_string()]);
}

#[tokio::test]
async fn a_deleted_master_credential_does_not_make_its_sub_key_dead() {
    let (h, c) = setup(Faults::default()).await;
    h.exchange(keyrevoke_bybit::EXCHANGE.id)
        .keys
        .update("MASTER000000000001", |k| k.state = KeyState::Deleted);
    let j = job("SUBKEY000000000001", false, true, Some("2000"));
    // 10003 answers the master's own key: it speaks of the credential, not
    // of the sub key, which is still alive.
    for route in [Route::DeleteByMaster, Route::DisableByMaster] {
        let f = c.perform(route, &j).await.unwrap_err();
        assert!(
            matches!(&f.error, ConnectorError::Permanent { message, .. } if message.contains("managing credential")),
            "{route}: {f:?}"
        );
    }
    let f = c.probe(&j).await.unwrap_err();
    assert!(
        matches!(&f.error, ConnectorError::Permanent { message, .. } if message.contains("managing credential")),
        "probe: {f:?}"
    );
    assert_eq!(state(&h, "SUBKEY000000000001"), KeyState::Alive);
}

#[tokio::test]
async fn a_master_discovers_its_sub_uids_then_each_ones_keys_page_by_page() {
    use keyrevoke_core::discovery::PageRequest;
    let (h, conn) = setup(Faults::default()).await;
    for i in 0..21 {
        let k = key(&format!("PAGED0000000000{i:03}"), "3000", &["SpotTrade"])
            .sub_of("1000")
            .labelled(&format!("bot-{i}"));
        h.exchange(ExchangeId::new("bybit")).keys.insert(k);
    }
    let master = job("SUBKEY000000000001", false, true, None)
        .via
        .expect("a managing credential");
    let subs = conn.discover(&master, &PageRequest::start()).await.unwrap();
    assert_eq!(subs.accounts, vec!["2000", "3000"]);
    let first = conn
        .discover(&master, &PageRequest::keys_of("3000"))
        .await
        .unwrap();
    assert_eq!(first.keys.len(), 20, "20 a page (list-sub-apikeys.mdx)");
    assert_eq!(first.keys[0].label.as_deref(), Some("bot-0"));
    let cursor = first.next.clone().expect("a second page");
    let second = conn
        .discover(&master, &PageRequest::keys_of("3000").continued(cursor))
        .await
        .unwrap();
    assert_eq!(second.keys.len(), 1);
    assert_eq!(second.next, None);
    assert!(second.keys.iter().all(|k| k.account == "3000"));
}

#[tokio::test]
async fn a_master_beyond_ten_thousand_sub_uids_pages_through_submembers_and_loses_none() {
    use keyrevoke_core::discovery::PageRequest;
    use keyrevoke_sim::SimConfig;
    // Limits off: 101 pages at 5 a second would take 20 s; the pacing of
    // list calls is the executor's, tested end to end.
    let h = keyrevoke_sim::start(SimConfig {
        exchanges: vec![ExchangeId::new("bybit")],
        limits: false,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let sim = h.exchange(ExchangeId::new("bybit"));
    for k in keys() {
        sim.keys.insert(k);
    }
    // 10,001 sub UIDs under the master (uid 1000), one key each.
    for i in 0..10_001 {
        sim.keys.insert(
            key(
                &format!("MANY{i:014}"),
                &format!("{}", 50_000 + i),
                &["SpotTrade"],
            )
            .sub_of("1000"),
        );
    }
    let conn = testkit::connector(&h, ExchangeId::new("bybit"), BybitConnector::new);
    let master = job("SUBKEY000000000001", false, true, None)
        .via
        .expect("a managing credential");
    let capped = conn.discover(&master, &PageRequest::start()).await.unwrap();
    assert!(
        capped.accounts.is_empty(),
        "a capped list is not used: {} sub UIDs",
        capped.accounts.len()
    );
    let mut request = PageRequest::start().continued(capped.next.expect("the paged list"));
    let mut seen = std::collections::HashSet::new();
    let mut pages = 0;
    loop {
        let page = conn.discover(&master, &request).await.unwrap();
        pages += 1;
        assert!(page.accounts.len() <= 100);
        for uid in page.accounts {
            assert!(seen.insert(uid.clone()), "{uid} listed twice");
        }
        match page.next {
            Some(next) => request = request.continued(next),
            None => break,
        }
    }
    // Every sub UID under the master: those of `keys()` and the 10,001.
    let expected = sim
        .keys
        .filter(|k| k.parent_uid.as_deref() == Some("1000"))
        .into_iter()
        .map(|k| k.uid)
        .collect::<std::collections::HashSet<_>>();
    assert_eq!(seen, expected, "every sub UID, once");
    assert_eq!(pages, expected.len().div_ceil(100));
}
