//! The Coinbase connector against the simulator's Coinbase dialect.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyrevoke_coinbase::CoinbaseConnector;
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::{Connector, ConnectorError, KeyJob, KeyMaterial, Liveness, Route, Secret};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit;
use std::time::Duration;

/// A transfer-enabled ECDSA key, a trade-only Ed25519 key, and an ECDSA key
/// whose PEM is kept with `\n` escapes, as CDP's JSON key files carry it.
const EC_KEY: &str = "organizations/6d1f0b2a-org/apiKeys/1f2e3d4c-ec";
const ED_KEY: &str = "organizations/6d1f0b2a-org/apiKeys/5b6a7988-ed";
const ESCAPED_KEY: &str = "organizations/6d1f0b2a-org/apiKeys/9a8b7c6d-escaped";

fn ec_secret(fill: u8) -> String {
    let key = p256::SecretKey::from_slice(&[fill; 32]).unwrap();
    key.to_sec1_pem(p256::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string()
}

fn ed_secret(fill: u8) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&[fill; 32]);
    STANDARD.encode([key.to_bytes().as_slice(), key.verifying_key().as_bytes()].concat())
}

fn secret_of(api_key: &str) -> String {
    match api_key {
        EC_KEY => ec_secret(3),
        ED_KEY => ed_secret(4),
        ESCAPED_KEY => ec_secret(5).replace('\n', "\\n"),
        _ => ed_secret(6),
    }
}

/// A test key with its CDP secret.
fn sim_key(api_key: &str, uid: &str, perms: &[&str]) -> SimKey {
    testkit::key(api_key, uid, perms).with_secret(secret_of(api_key))
}

async fn setup(faults: Faults) -> (SimHandle, CoinbaseConnector) {
    let h = testkit::start(
        keyrevoke_coinbase::EXCHANGE.id,
        faults,
        [
            sim_key(EC_KEY, "100", &["can_view", "can_trade", "can_transfer"]),
            sim_key(ED_KEY, "101", &["can_view", "can_trade"]),
            sim_key(ESCAPED_KEY, "102", &["can_view"]),
        ],
    )
    .await;
    let conn = testkit::connector(&h, keyrevoke_coinbase::EXCHANGE.id, CoinbaseConnector::new);
    (h, conn)
}

fn job(api_key: &str, secret: Option<String>, passphrase: Option<&str>) -> KeyJob {
    KeyJob::new(
        KeyMaterial {
            exchange: keyrevoke_coinbase::EXCHANGE.id,
            api_key: api_key.into(),
            api_secret: secret.map(Secret::new),
            passphrase: passphrase.map(Secret::from),
            account: None,
            label: None,
        },
        None,
    )
}

fn own(api_key: &str) -> KeyJob {
    job(api_key, Some(secret_of(api_key)), None)
}

fn set_state(h: &SimHandle, api_key: &str, state: KeyState) {
    h.exchange(keyrevoke_coinbase::EXCHANGE.id)
        .keys
        .update(api_key, |k| k.state = state);
}

#[tokio::test]
async fn alive_keys_are_probed_with_their_permissions_in_both_key_types() {
    let (_h, c) = setup(Faults::default()).await;
    let p = c.probe(&own(EC_KEY)).await.expect("an ES256 key answers");
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.permissions, vec!["can_view", "can_trade", "can_transfer"]);
    assert_eq!(p.can_move_funds, Some(true), "can_transfer moves funds");
    assert_eq!(p.meta.http_status, Some(200));
    let p = c.probe(&own(ED_KEY)).await.expect("an EdDSA key answers");
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.can_move_funds, Some(false), "view and trade only");
    let p = c
        .probe(&own(ESCAPED_KEY))
        .await
        .expect("a PEM with `\\n` escapes signs too");
    assert_eq!(p.permissions, vec!["can_view"]);
}

#[tokio::test]
async fn every_key_is_escalated_and_no_route_sends_anything() {
    let (h, c) = setup(Faults::default()).await;
    for j in [own(EC_KEY), job(EC_KEY, None, None)] {
        assert_eq!(c.routes(&j), vec![Route::Escalate], "whatever the material");
        for route in [Route::Escalate, Route::DeleteSelf, Route::DisableSelf] {
            let f = c.perform(route, &j).await.unwrap_err();
            assert!(
                matches!(f.error, ConnectorError::Unsupported(_)),
                "{route}: {f:?}"
            );
        }
    }
    let stats = h.exchange(keyrevoke_coinbase::EXCHANGE.id).stats.snapshot();
    assert_eq!(stats.requests, 0, "nothing reached Coinbase");
    assert!(
        c.escalation_contact()
            .api_management_page
            .starts_with("https://portal.cdp.coinbase.com/")
    );
}

#[tokio::test]
async fn a_deleted_key_is_reported_dead_only_after_two_401s_in_a_row() {
    let (h, c) = setup(Faults::default()).await;
    c.sync_clock().await.expect("server time");
    set_state(&h, ED_KEY, KeyState::Deleted);
    let j = own(ED_KEY);
    let first = c.probe(&j).await.unwrap_err();
    assert!(
        matches!(first.error, ConnectorError::Transient(_)),
        "one 401 proves nothing: {first:?}"
    );
    assert_eq!(first.meta.http_status, Some(401));
    let second = c.probe(&j).await.expect("the second 401 is an answer");
    assert_eq!(second.liveness, Liveness::Dead);
    assert_eq!(second.meta.http_status, Some(401));
    // The confirmation is spent: a later verify needs two 401s again.
    assert!(c.probe(&j).await.is_err());
}

#[tokio::test]
async fn a_401_followed_by_an_answer_is_forgotten() {
    let (h, c) = setup(Faults::default()).await;
    c.sync_clock().await.unwrap();
    let j = own(EC_KEY);
    set_state(&h, EC_KEY, KeyState::Deleted);
    assert!(c.probe(&j).await.is_err(), "a first 401");
    // Coinbase answers again: the 401 was one of its spurious ones.
    set_state(&h, EC_KEY, KeyState::Alive);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Alive);
    set_state(&h, EC_KEY, KeyState::Deleted);
    let f = c.probe(&j).await.unwrap_err();
    assert!(
        matches!(f.error, ConnectorError::Transient(_)),
        "a 401 after a success is a first 401 again, not a second: {f:?}"
    );
}

#[tokio::test]
async fn an_already_deleted_key_met_with_an_unsynced_clock_asks_for_a_sync_first() {
    let (h, c) = setup(Faults::default()).await;
    set_state(&h, EC_KEY, KeyState::Deleted);
    let j = own(EC_KEY);
    let f = c.probe(&j).await.unwrap_err();
    assert_eq!(
        f.error,
        ConnectorError::ClockSkew,
        "our clock may be why: sync before counting"
    );
    c.sync_clock().await.unwrap();
    assert!(matches!(
        c.probe(&j).await.unwrap_err().error,
        ConnectorError::Transient(_)
    ));
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
    // A key name Coinbase never issued ends the same way.
    let never = job(
        "organizations/6d1f0b2a-org/apiKeys/never",
        Some(ed_secret(9)),
        None,
    );
    assert!(c.probe(&never).await.is_err());
    assert_eq!(c.probe(&never).await.unwrap().liveness, Liveness::Dead);
}

#[tokio::test]
async fn clock_skew_is_reported_then_fixed_by_a_sync() {
    // Coinbase's clock 30 s behind ours: our tokens are not valid yet.
    let (_h, c) = setup(Faults {
        clock_skew_ms: -30_000,
        ..Faults::default()
    })
    .await;
    let j = own(EC_KEY);
    let f = c.probe(&j).await.unwrap_err();
    assert_eq!(f.error, ConnectorError::ClockSkew, "{f:?}");
    c.sync_clock().await.unwrap();
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Alive);
}

#[tokio::test]
async fn a_gateway_timeout_on_a_probe_is_transient_because_nothing_changed() {
    // Coinbase offers no call that changes a key, so no reply can leave an
    // outcome unknown: a 504 on the read-only probe is retried, not verified.
    let (h, c) = setup(Faults {
        gateway_timeout_after: 1.0,
        ..Faults::default()
    })
    .await;
    let f = c.probe(&own(EC_KEY)).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Transient(_)), "{f:?}");
    assert_eq!(f.meta.http_status, Some(504));
    assert!(
        h.exchange(keyrevoke_coinbase::EXCHANGE.id)
            .keys
            .get(EC_KEY)
            .unwrap()
            .is_alive()
    );
}

#[tokio::test]
async fn a_rate_limited_probe_reports_the_users_limit_and_when_it_resets() {
    let (_h, c) = setup(Faults {
        rate_limited: 1.0,
        ..Faults::default()
    })
    .await;
    let f = c.probe(&own(ED_KEY)).await.unwrap_err();
    match f.error {
        ConnectorError::RateLimited { retry_after, scope } => {
            assert_eq!(scope, LimitScope::Account, "30/s per user");
            assert!(
                retry_after.is_some_and(|d| d <= Duration::from_secs(2)),
                "{retry_after:?}"
            );
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    assert_eq!(f.usage.first().and_then(|u| u.remaining), Some(0));
}

#[tokio::test]
async fn keys_a_cdp_token_cannot_speak_for_are_not_probed() {
    let (h, c) = setup(Faults::default()).await;
    let exchange_key = job(EC_KEY, Some(ed_secret(4)), Some("passphrase"));
    let legacy = job(
        "Ab12Cd34Ef56Gh78",
        Some("legacyV2HmacSecretNotACdpKey0123".into()),
        None,
    );
    let unknown_secret = job(EC_KEY, None, None);
    for j in [exchange_key, legacy, unknown_secret] {
        assert!(!c.can_probe(&j));
        assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::CannotTell);
    }
    assert_eq!(
        h.exchange(keyrevoke_coinbase::EXCHANGE.id)
            .stats
            .snapshot()
            .requests,
        0
    );
}
