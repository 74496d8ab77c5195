//! The Gate connector against the simulator's Gate dialect: the shared
//! connector cases, then Gate's own.

use keyrevoke_core::{
    Connector, ConnectorError, Credential, CredentialRole, ExchangeId, KeyJob, KeyMaterial,
    Liveness, Route, Secret,
};
use keyrevoke_gate::GateConnector;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, key, secret_of};
use std::sync::Arc;

const MASTER: &str = "gateMASTER00000000000000000000001";
const SUB: &str = "gateSUBKEY00000000000000000000001";
const OTHER_SUB: &str = "gateSUBKEY00000000000000000000002";
const READER: &str = "gateREADER00000000000000000000001";
const MASTER_UID: &str = "500000";
const SUB_ACCOUNT: &str = "510001";

fn keys() -> Vec<SimKey> {
    vec![
        key(MASTER, MASTER_UID, &["account", "spot", "wallet"]),
        key(SUB, SUB_ACCOUNT, &["spot", "wallet"])
            .sub_of(MASTER_UID)
            .labelled("bot-1")
            .bound_to(&["127.0.0.1", "203.0.113.7"]),
        key(OTHER_SUB, SUB_ACCOUNT, &["spot"])
            .sub_of(MASTER_UID)
            .labelled("bot-2"),
        // A main account whose key cannot manage sub accounts.
        key(READER, "520000", &["spot"]),
        key("gateSTRANGER00000000000000000001", "530001", &["spot"]).sub_of("530000"),
    ]
}

fn credential(api_key: &str) -> Arc<Credential> {
    Arc::new(Credential {
        name: "gate-main".into(),
        exchange: keyrevoke_gate::EXCHANGE.id,
        api_key: api_key.into(),
        api_secret: Secret::new(secret_of(api_key)),
        passphrase: None,
        role: CredentialRole::Master,
    })
}

fn row(api_key: &str, own_secret: bool, via: Option<&str>, account: Option<&str>) -> KeyJob {
    KeyJob::new(
        KeyMaterial {
            exchange: keyrevoke_gate::EXCHANGE.id,
            api_key: api_key.into(),
            api_secret: own_secret.then(|| Secret::new(secret_of(api_key))),
            passphrase: None,
            account: account.map(str::to_string),
            label: None,
        },
        via.map(credential),
    )
}

struct Gate;

impl conformance::Subject for Gate {
    type Connector = GateConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_gate::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> GateConnector {
        testkit::connector(h, Self::exchange(), GateConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    fn managed_row() -> KeyJob {
        row(SUB, false, Some(MASTER), Some(SUB_ACCOUNT))
    }

    /// Gate documents no IP ban beyond its 429.
    fn documents_ip_ban() -> bool {
        false
    }
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Gate>().await;
}

async fn setup() -> (SimHandle, GateConnector) {
    let h = testkit::start(keyrevoke_gate::EXCHANGE.id, Faults::default(), keys()).await;
    let c = testkit::connector(&h, keyrevoke_gate::EXCHANGE.id, GateConnector::new);
    (h, c)
}

fn held(h: &SimHandle, api_key: &str) -> SimKey {
    h.exchange(keyrevoke_gate::EXCHANGE.id)
        .keys
        .get(api_key)
        .expect("held")
}

#[tokio::test]
async fn the_main_account_deletes_a_sub_key_then_its_listing_says_dead() {
    let (h, c) = setup().await;
    let j = row(SUB, false, Some(MASTER), Some(SUB_ACCOUNT));
    assert!(c.check(&j).is_empty(), "{:?}", c.check(&j));
    assert_eq!(
        c.routes(&j),
        vec![
            Route::DeleteByMaster,
            Route::DisableByMaster,
            Route::Escalate
        ]
    );
    let p = c
        .probe(&j)
        .await
        .expect("the main account lists the sub account");
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.permissions, vec!["spot", "wallet"]);
    assert_eq!(p.can_move_funds, Some(true), "wallet moves funds");
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    assert_eq!(held(&h, SUB).state, KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
    assert_eq!(
        held(&h, OTHER_SUB).state,
        KeyState::Alive,
        "nothing else touched"
    );
}

/// The disable writes the key back whole: the same name, every permission
/// kept but read-only, the IPs replaced by the unroutable one. A PUT that
/// omitted a list would have cleared it (the dialect does, as Gate
/// documents), leaving an unbound key.
#[tokio::test]
async fn the_disable_keeps_every_field_read_only_and_unreachable() {
    let (h, c) = setup().await;
    let j = row(SUB, false, Some(MASTER), Some(SUB_ACCOUNT));
    c.perform(Route::DisableByMaster, &j)
        .await
        .expect("disabled");
    let k = held(&h, SUB);
    assert_eq!(k.state, KeyState::Alive);
    assert_eq!(
        k.permissions,
        vec!["spot", "wallet"],
        "no permission cleared"
    );
    assert!(k.read_only);
    assert_eq!(k.ips, vec![keyrevoke_gate::endpoints::UNROUTABLE_IP]);
    assert!(!k.allows_loopback());
    assert_eq!(k.label.as_deref(), Some("bot-1"), "the name is kept");
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.permissions, vec!["spot:read_only", "wallet:read_only"]);
    assert_eq!(p.can_move_funds, Some(false));
}

#[tokio::test]
async fn a_key_that_cannot_manage_sub_accounts_is_refused_and_touches_nothing() {
    let (h, c) = setup().await;
    let j = row(SUB, false, Some(READER), Some(SUB_ACCOUNT));
    for route in [Route::DeleteByMaster, Route::DisableByMaster] {
        match c.perform(route, &j).await {
            Err(f) => assert!(
                matches!(f.error, ConnectorError::Unsupported(_)),
                "{route}: {f:?}"
            ),
            Ok(_) => panic!("{route}: accepted"),
        }
    }
    assert_eq!(held(&h, SUB).ips, vec!["127.0.0.1", "203.0.113.7"]);
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
}

#[tokio::test]
async fn a_key_probes_itself_by_its_account_detail() {
    let (h, c) = setup().await;
    let j = row(OTHER_SUB, true, None, None);
    assert_eq!(c.routes(&j), vec![Route::Escalate]);
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.can_move_funds, None, "the detail shows no permissions");
    h.exchange(keyrevoke_gate::EXCHANGE.id)
        .keys
        .update(OTHER_SUB, |k| k.state = KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
}

#[tokio::test]
async fn rows_that_name_no_numeric_sub_account_are_reported() {
    let (_h, c) = setup().await;
    let named = c.check(&row(SUB, false, Some(MASTER), Some("gatesub")));
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].field, "account");
    let missing = c.check(&row(SUB, false, Some(MASTER), None));
    assert_eq!(missing[0].field, "account");
}

#[tokio::test]
async fn the_main_account_lists_its_sub_accounts_then_each_ones_keys() {
    use keyrevoke_core::discovery::{ListKind, PageRequest};
    let (_h, c) = setup().await;
    assert!(c.can_discover());
    let main = credential(MASTER);
    let accounts = c.discover(&main, &PageRequest::start()).await.unwrap();
    assert_eq!(accounts.accounts, vec![SUB_ACCOUNT]);
    assert_eq!(accounts.next, None);
    let keys = c
        .discover(
            &main,
            &PageRequest {
                kind: ListKind::SubAccountKeys,
                account: Some(SUB_ACCOUNT.into()),
                cursor: None,
            },
        )
        .await
        .unwrap();
    let mut found: Vec<(String, Option<String>)> = keys
        .keys
        .iter()
        .map(|k| (k.api_key.clone(), k.label.clone()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (SUB.to_string(), Some("bot-1".to_string())),
            (OTHER_SUB.to_string(), Some("bot-2".to_string())),
        ]
    );
    assert!(keys.keys.iter().all(|k| k.account == SUB_ACCOUNT));
    // A key that may not manage sub accounts lists nothing.
    let refused = c.discover(&credential(READER), &PageRequest::start()).await;
    assert!(
        matches!(refused, Err(ref f) if matches!(f.error, ConnectorError::Unsupported(_))),
        "{:?}",
        refused.err()
    );
}
