//! The Bybit connector against the simulator's Bybit dialect.

use keyrevoke_bybit::BybitConnector;
use keyrevoke_core::config::ExchangeSettings;
use keyrevoke_core::{
    Connector, ConnectorError, Credential, CredentialRole, ExchangeId, KeyJob, KeyMaterial,
    Liveness, Route, Secret,
};
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::{SimConfig, SimHandle};
use std::sync::Arc;
use std::time::Duration;

fn sim_key(api_key: &str, uid: &str, parent: Option<&str>, perms: &[&str]) -> SimKey {
    SimKey {
        api_key: api_key.into(),
        secret: format!("{api_key}-secret"),
        passphrase: None,
        uid: uid.into(),
        parent_uid: parent.map(str::to_string),
        sub_name: None,
        permissions: perms.iter().map(|s| s.to_string()).collect(),
        read_only: false,
        ips: vec!["*".into()],
        state: KeyState::Alive,
    }
}

async fn setup(faults: Faults) -> (SimHandle, BybitConnector) {
    let h = keyrevoke_sim::start(SimConfig {
        exchanges: vec![ExchangeId::Bybit],
        faults,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let s = h.exchange(ExchangeId::Bybit);
    s.keys.insert(sim_key(
        "MASTER000000000001",
        "1000",
        None,
        &["AccountTransfer", "SubMemberTransfer"],
    ));
    s.keys.insert(sim_key(
        "SELFDEL00000000001",
        "1001",
        None,
        &["AccountTransfer", "SpotTrade"],
    ));
    s.keys
        .insert(sim_key("TRADER000000000001", "1002", None, &["SpotTrade"]));
    s.keys.insert(sim_key(
        "SUBKEY000000000001",
        "2000",
        Some("1000"),
        &["SpotTrade"],
    ));
    s.keys.insert(sim_key(
        "SUBSELF00000000001",
        "2000",
        Some("1000"),
        &["AccountTransfer"],
    ));
    let base = keyrevoke_core::http::parse_base_url(&h.urls[&ExchangeId::Bybit]).unwrap();
    let client = keyrevoke_core::http::build_client(Duration::from_secs(2));
    let conn = BybitConnector::new(client, base, &ExchangeSettings::default());
    (h, conn)
}

fn job(api_key: &str, with_secret: bool, via_master: bool, account: Option<&str>) -> KeyJob {
    let via = via_master.then(|| {
        Arc::new(Credential {
            name: "m".into(),
            exchange: ExchangeId::Bybit,
            api_key: "MASTER000000000001".into(),
            api_secret: Secret::from("MASTER000000000001-secret"),
            passphrase: None,
            role: CredentialRole::Master,
        })
    });
    KeyJob::new(
        KeyMaterial {
            exchange: ExchangeId::Bybit,
            api_key: api_key.into(),
            api_secret: with_secret.then(|| Secret::new(format!("{api_key}-secret"))),
            passphrase: None,
            account: account.map(str::to_string),
            label: None,
        },
        via,
    )
}

fn state(h: &SimHandle, k: &str) -> KeyState {
    h.exchange(ExchangeId::Bybit).keys.get(k).unwrap().state
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
async fn a_sub_key_deletes_itself_through_delete_sub_api() {
    let (h, c) = setup(Faults::default()).await;
    let j = job("SUBSELF00000000001", true, false, Some("2000"));
    c.perform(Route::DeleteSelf, &j).await.expect("deleted");
    assert_eq!(state(&h, "SUBSELF00000000001"), KeyState::Deleted);
}

#[tokio::test]
async fn a_trade_only_key_cannot_delete_itself_and_sends_no_write() {
    let (h, c) = setup(Faults::default()).await;
    let j = job("TRADER000000000001", true, false, None);
    let f = c.perform(Route::DeleteSelf, &j).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Unsupported(_)), "{f:?}");
    assert_eq!(h.exchange(ExchangeId::Bybit).stats.snapshot().deletes, 0);
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
        .exchange(ExchangeId::Bybit)
        .keys
        .get("SUBKEY000000000001")
        .unwrap();
    assert!(k.read_only);
    assert_eq!(k.ips, vec!["192.0.2.1".to_string()]);
}

#[tokio::test]
async fn clock_skew_is_reported_then_fixed_by_a_sync() {
    let (_h, c) = setup(Faults {
        clock_skew_ms: 30_000,
        ..Faults::default()
    })
    .await;
    let j = job("SELFDEL00000000001", true, false, None);
    let f = c.probe(&j).await.unwrap_err();
    assert_eq!(f.error, ConnectorError::ClockSkew);
    c.sync_clock().await.unwrap();
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Alive);
}

#[tokio::test]
async fn a_gateway_timeout_on_a_delete_is_an_unknown_outcome() {
    let (_h, c) = setup(Faults {
        gateway_timeout_after: 1.0,
        ..Faults::default()
    })
    .await;
    let j = job("SUBKEY000000000001", false, true, Some("2000"));
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(
        matches!(f.error, ConnectorError::OutcomeUnknown(_)),
        "{f:?}"
    );
}
