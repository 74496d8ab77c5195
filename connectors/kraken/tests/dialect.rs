//! The Kraken connector against the simulator's Kraken dialect. The
//! shared conformance cases start from a key a managing credential deletes,
//! which Kraken has not (no API deletes a Kraken key): Kraken runs the
//! kit's signing case and its own cases, as Coinbase does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::{Params, sha256};
use keyrevoke_core::{
    Connector, ConnectorError, KeyJob, KeyMaterial, Liveness, Operation, Route, Secret,
};
use keyrevoke_kraken::sign::{Signer, api_sign};
use keyrevoke_kraken::{KrakenConnector, endpoints, limits};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance::signing::{self, Captured, Published, Signing};
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit;

const TRADER: &str = "krakenTRADER000000000000000000000000000000000000000000001";
const WITHDRAWER: &str = "krakenWITHDRAW0000000000000000000000000000000000000000001";
const BOUND: &str = "krakenBOUND0000000000000000000000000000000000000000000001";

/// Kraken's published signing example ("Spot REST Authentication").
const DOC_SECRET: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";

/// A base64 secret of Kraken's shape, its own for each test key.
fn secret_of(api_key: &str) -> String {
    let half = sha256(api_key.as_bytes());
    STANDARD.encode([half, sha256(&half)].concat())
}

fn keys() -> Vec<SimKey> {
    let key = |api_key: &str, uid: &str, perms: &[&str]| {
        testkit::key(api_key, uid, perms).with_secret(secret_of(api_key))
    };
    vec![
        key(TRADER, "800001", &["query-funds", "modify-trades"]).labelled("bot"),
        key(WITHDRAWER, "800002", &["query-funds", "withdraw-funds"]),
        key(BOUND, "800003", &["query-funds"]).bound_to(&["203.0.113.9"]),
    ]
}

async fn setup(faults: Faults) -> (SimHandle, KrakenConnector) {
    let h = testkit::start(keyrevoke_kraken::EXCHANGE.id, faults, keys()).await;
    let c = testkit::connector(&h, keyrevoke_kraken::EXCHANGE.id, KrakenConnector::new);
    (h, c)
}

fn job(api_key: &str, secret: Option<String>) -> KeyJob {
    KeyJob::new(
        KeyMaterial {
            exchange: keyrevoke_kraken::EXCHANGE.id,
            api_key: api_key.into(),
            api_secret: secret.map(Secret::new),
            passphrase: None,
            account: None,
            label: None,
        },
        None,
    )
}

fn own(api_key: &str) -> KeyJob {
    job(api_key, Some(secret_of(api_key)))
}

fn stats(h: &SimHandle) -> keyrevoke_sim::stats::StatsSnapshot {
    h.exchange(keyrevoke_kraken::EXCHANGE.id).stats.snapshot()
}

/// The docs' example, rebuilt by the connector's signer; and ccxt 4.5.90's
/// probe (test_data/ccxt_vectors.json, from ../shared/vectors/kraken.json),
/// rebuilt by the connector's endpoint table and signer.
fn signing() -> Signing {
    Signing {
        published: vec![Published {
            source: "docs.kraken.com/api/docs/guides/spot-rest-auth, \"Examples\"",
            ours: api_sign(
                DOC_SECRET,
                "/0/private/AddOrder",
                1_616_492_376_594,
                "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
            )
            .unwrap_or_default(),
            documented: "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==",
        }],
        captured: vec![Captured {
            file: "test_data/ccxt_vectors.json",
            json: include_str!("../test_data/ccxt_vectors.json"),
            origin: keyrevoke_kraken::DEFAULT_BASE_URL,
            ignore_headers: &[],
            build: ccxt_request,
        }],
    }
}

/// ccxt's request for one vector: its nonce is its clock in ms.
fn ccxt_request(v: &serde_json::Value) -> Option<PreparedRequest> {
    let endpoint = match v["what"].as_str()? {
        "liveness probe" => &endpoints::GET_API_KEY_INFO,
        _ => return None,
    };
    let (api_key, secret, _) = signing::credentials(v);
    let secret = Secret::from(secret);
    Signer {
        api_key,
        secret: &secret,
    }
    .sign(endpoint, &Params::new(), signing::clock_ms(v) as u64)
    .ok()
}

#[test]
fn the_signer_reproduces_the_published_example_and_every_captured_request() {
    assert_eq!(signing::mismatches(&signing()), Vec::<String>::new());
}

#[tokio::test]
async fn alive_keys_are_probed_with_their_permissions() {
    let (_h, c) = setup(Faults::default()).await;
    let p = c.probe(&own(WITHDRAWER)).await.expect("answers");
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.permissions, vec!["query-funds", "withdraw-funds"]);
    assert_eq!(p.can_move_funds, Some(true), "withdraw-funds moves funds");
    let p = c.probe(&own(TRADER)).await.unwrap();
    assert_eq!(p.can_move_funds, Some(false), "trading moves nothing out");
}

#[tokio::test]
async fn every_key_is_escalated_and_no_route_sends_anything() {
    let (h, c) = setup(Faults::default()).await;
    for j in [own(TRADER), job(TRADER, None)] {
        assert_eq!(c.routes(&j), vec![Route::Escalate], "whatever the material");
        for route in [Route::DeleteSelf, Route::DisableSelf, Route::DeleteByMaster] {
            let f = c.perform(route, &j).await.unwrap_err();
            assert!(
                matches!(f.error, ConnectorError::Unsupported(_)),
                "{route}: {f:?}"
            );
        }
        assert!(
            c.escalation_reason(&j)
                .unwrap()
                .contains(endpoints::API_KEYS_PAGE)
        );
    }
    assert_eq!(stats(&h).requests, 0, "nothing reached Kraken");
}

#[tokio::test]
async fn a_deleted_or_never_issued_key_is_dead_and_a_wrong_secret_proves_nothing() {
    let (h, c) = setup(Faults::default()).await;
    h.exchange(keyrevoke_kraken::EXCHANGE.id)
        .keys
        .update(TRADER, |k| k.state = KeyState::Deleted);
    let p = c.probe(&own(TRADER)).await.unwrap();
    assert_eq!(p.liveness, Liveness::Dead);
    assert_eq!(p.meta.code.as_deref(), Some("EAPI:Invalid key"));
    let never = job("krakenNEVER", Some(secret_of("krakenNEVER")));
    assert_eq!(c.probe(&never).await.unwrap().liveness, Liveness::Dead);
    // The right key with another key's secret: Kraken refuses the
    // signature, which says nothing of the key.
    let f = c
        .probe(&job(WITHDRAWER, Some(secret_of(TRADER))))
        .await
        .unwrap_err();
    assert!(matches!(f.error, ConnectorError::Permanent { .. }), "{f:?}");
}

/// A key bound to other IPs is refused for a reason only a known key can
/// have: alive, what it may do unknown.
#[tokio::test]
async fn a_key_bound_elsewhere_is_alive_with_unknown_permissions() {
    let (_h, c) = setup(Faults::default()).await;
    let p = c.probe(&own(BOUND)).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.can_move_funds, None);
    assert_eq!(p.meta.code.as_deref(), Some("EGeneral:Permission denied"));
}

/// Probes of one key in a row carry rising nonces: none is refused as a
/// replay. (Two within one millisecond: the unit test of `Nonces`.)
#[tokio::test]
async fn probes_of_one_key_in_a_row_never_reuse_a_nonce() {
    let h = testkit::start_unlimited(keyrevoke_kraken::EXCHANGE.id, keys()).await;
    let c = testkit::connector(&h, keyrevoke_kraken::EXCHANGE.id, KrakenConnector::new);
    let j = own(TRADER);
    for _ in 0..4 {
        let p = c.probe(&j).await.expect("answers");
        assert_eq!(p.meta.code, None, "{:?}", p.meta);
        assert_eq!(p.permissions, vec!["modify-trades", "query-funds"]);
    }
    assert_eq!(stats(&h).stale_timestamp, 0, "no nonce refused");
}

#[tokio::test]
async fn a_full_key_counter_is_that_keys_limit() {
    let (_h, c) = setup(Faults {
        rate_limited: 1.0,
        ..Faults::default()
    })
    .await;
    let f = c.probe(&own(TRADER)).await.unwrap_err();
    assert_eq!(
        f.error,
        ConnectorError::RateLimited {
            retry_after: None,
            scope: LimitScope::Account
        }
    );
    assert!(
        c.account_for(Operation::Probe, &own(TRADER))
            .starts_with("key:"),
        "the key's own counter, paused alone"
    );
}

/// Failed probes lock the IP out; the lockout stops everything from here
/// for Kraken's ~15 minutes, valid keys included.
#[tokio::test]
async fn a_lockout_pauses_the_whole_ip_for_fifteen_minutes() {
    let (h, c) = setup(Faults::default()).await;
    let mut locked = None;
    for i in 0..16 {
        let gone = job(&format!("krakenGONE{i}"), Some(secret_of("gone")));
        match c.probe(&gone).await {
            Ok(p) => assert_eq!(p.liveness, Liveness::Dead),
            Err(f) => {
                locked = Some((i, f));
                break;
            }
        }
    }
    let (after, f) = locked.expect("the dialect locks a flood of failed calls out");
    assert_eq!(after, 15, "15 failed calls fill a Starter counter");
    assert_eq!(
        f.error,
        ConnectorError::RateLimited {
            retry_after: Some(limits::LOCKOUT),
            scope: LimitScope::Ban
        }
    );
    assert_eq!(limits::LOCKOUT.as_secs(), 15 * 60);
    let f = c.probe(&own(TRADER)).await.unwrap_err();
    assert!(
        matches!(
            f.error,
            ConnectorError::RateLimited {
                scope: LimitScope::Ban,
                ..
            }
        ),
        "{f:?}"
    );
    assert_eq!(stats(&h).ip_banned, 2);
}

#[tokio::test]
async fn the_clock_syncs_and_a_gateway_timeout_on_a_probe_is_transient() {
    let (_h, c) = setup(Faults {
        clock_skew_ms: 30_000,
        ..Faults::default()
    })
    .await;
    c.sync_clock().await.expect("server time");
    let (h, c) = setup(Faults {
        gateway_timeout_after: 1.0,
        ..Faults::default()
    })
    .await;
    let f = c.probe(&own(TRADER)).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Transient(_)), "{f:?}");
    assert!(
        h.exchange(keyrevoke_kraken::EXCHANGE.id)
            .keys
            .get(TRADER)
            .unwrap()
            .is_alive()
    );
}
