//! The MEXC connector against the simulator's MEXC dialect: the shared
//! connector cases, then MEXC's own.

use keyrevoke_core::{
    Connector, ConnectorError, Credential, CredentialRole, ExchangeId, KeyJob, KeyMaterial,
    Liveness, Route, Secret,
};
use keyrevoke_mexc::MexcConnector;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, key, secret_of};
use std::sync::Arc;

const MASTER: &str = "mx0MASTER0000000001";
const SUB: &str = "mx0SUBKEY0000000001";
const OTHER_SUB: &str = "mx0SUBKEY0000000002";
const TRADER: &str = "mx0TRADER0000000001";
const SUB_ACCOUNT: &str = "mexcsub001";

fn keys() -> Vec<SimKey> {
    vec![
        key(MASTER, "1000", &["SPOT_ACCOUNT_READ", "SPOT_DEAL_WRITE"]),
        key(SUB, "2000", &["SPOT_ACCOUNT_READ", "SPOT_TRANSFER_WRITE"])
            .sub_of("1000")
            .in_sub_account(SUB_ACCOUNT),
        key(OTHER_SUB, "2100", &["SPOT_ACCOUNT_READ"])
            .sub_of("1000")
            .in_sub_account("mexcsub002"),
        key(TRADER, "3000", &["SPOT_ACCOUNT_READ", "SPOT_DEAL_WRITE"]),
    ]
}

fn master() -> Arc<Credential> {
    Arc::new(Credential {
        name: "mexc-master".into(),
        exchange: keyrevoke_mexc::EXCHANGE.id,
        api_key: MASTER.into(),
        api_secret: Secret::new(secret_of(MASTER)),
        passphrase: None,
        role: CredentialRole::Master,
    })
}

fn row(api_key: &str, own_secret: bool, via_master: bool, account: Option<&str>) -> KeyJob {
    KeyJob::new(
        KeyMaterial {
            exchange: keyrevoke_mexc::EXCHANGE.id,
            api_key: api_key.into(),
            api_secret: own_secret.then(|| Secret::new(secret_of(api_key))),
            passphrase: None,
            account: account.map(str::to_string),
            label: None,
        },
        via_master.then(master),
    )
}

struct Mexc;

impl conformance::Subject for Mexc {
    type Connector = MexcConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_mexc::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> MexcConnector {
        testkit::connector(h, Self::exchange(), MexcConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    fn managed_row() -> KeyJob {
        row(SUB, false, true, Some(SUB_ACCOUNT))
    }

    /// MEXC documents no disable of a sub key.
    fn has_disable() -> bool {
        false
    }
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Mexc>().await;
}

async fn setup() -> (SimHandle, MexcConnector) {
    let h = testkit::start(keyrevoke_mexc::EXCHANGE.id, Faults::default(), keys()).await;
    let c = testkit::connector(&h, keyrevoke_mexc::EXCHANGE.id, MexcConnector::new);
    (h, c)
}

#[tokio::test]
async fn a_master_deletes_a_sub_key_then_its_listing_says_dead() {
    let (h, c) = setup().await;
    let j = row(SUB, false, true, Some(SUB_ACCOUNT));
    assert!(c.check(&j).is_empty(), "{:?}", c.check(&j));
    assert_eq!(c.routes(&j), vec![Route::DeleteByMaster, Route::Escalate]);
    let p = c.probe(&j).await.expect("the master lists the sub account");
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(
        p.can_move_funds,
        Some(true),
        "SPOT_TRANSFER_WRITE moves funds"
    );
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    assert_eq!(
        testkit::state(&h, keyrevoke_mexc::EXCHANGE.id, SUB),
        KeyState::Deleted
    );
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
    assert_eq!(
        testkit::state(&h, keyrevoke_mexc::EXCHANGE.id, OTHER_SUB),
        KeyState::Alive,
        "nothing else was touched"
    );
}

#[tokio::test]
async fn a_key_of_another_sub_account_is_refused_and_stays_alive() {
    let (h, c) = setup().await;
    let j = row(OTHER_SUB, false, true, Some(SUB_ACCOUNT));
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(
        matches!(&f.error, ConnectorError::Permanent { code, .. } if code == "730706"),
        "{f:?}"
    );
    assert_eq!(
        testkit::state(&h, keyrevoke_mexc::EXCHANGE.id, OTHER_SUB),
        KeyState::Alive
    );
}

#[tokio::test]
async fn a_key_probed_with_its_own_secret_is_alive_then_dead_once_deleted() {
    let (h, c) = setup().await;
    let own = row(TRADER, true, false, None);
    assert_eq!(
        c.routes(&own),
        vec![Route::Escalate],
        "no key deletes itself"
    );
    let p = c.probe(&own).await.expect("probed");
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.can_move_funds, Some(false));
    h.exchange(keyrevoke_mexc::EXCHANGE.id)
        .keys
        .update(TRADER, |k| k.state = KeyState::Deleted);
    assert_eq!(
        c.probe(&own).await.unwrap().liveness,
        Liveness::Dead,
        "10072"
    );
}

#[tokio::test]
async fn rows_a_master_cannot_act_on_are_reported_at_validation() {
    let (_h, c) = setup().await;
    let no_account = row(SUB, false, true, None);
    let problems = c.check(&no_account);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "account");
    assert_eq!(c.routes(&no_account), vec![Route::Escalate]);
}
