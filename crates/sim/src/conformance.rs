//! The cases every connector runs against its simulator dialect, by one
//! call: `conformance::run::<Subject>().await` in
//! `connectors/<exchange>/tests/dialect.rs`. A connector describes itself
//! and the keys its dialect holds ([`Subject`]); the cases are the same for
//! every exchange, and each checks what the simulator holds and counted,
//! not only what the connector said:
//!
//! - a delete by the strongest route removes the key, once;
//! - the delete refused, the routes still hold a disable (the fallback), and
//!   the disable leaves the key unusable;
//! - a key deleted already is not deleted again, and its probe says dead;
//! - a managing credential the exchange refuses never makes its target look
//!   dead, and the target is untouched;
//! - a bad signature is refused and changes nothing;
//! - the exchange's rate-limit reply and an IP ban become `RateLimited`
//!   (the ban with scope `Ban`), and nothing took effect;
//! - a gateway timeout after the exchange acted on the delete (the
//!   deletion request itself: a route may read first) is an unknown
//!   outcome;
//! - clock skew is reported as such, and a clock sync fixes it;
//! - where the connector rotates ([`Subject::rotation`]): a described sub
//!   key is created again with the same permissions, IPs and read-only
//!   flag under the label given, listed under that label in its sub
//!   account's keys, signs with its own secret, outlives the old key's
//!   delete, and is deleted by the same route; a credential without the create
//!   permission creates nothing; a create over the exchange's limit is a
//!   rate limit and creates nothing.
//!
//! - the signer reproduces the exchange's published examples and every
//!   captured official-SDK or ccxt request, byte for byte ([`signing`]).

use crate::SimHandle;
use crate::faults::Faults;
use crate::keys::{KeyState, SimKey};
use crate::outage::{Outage, OutageKind};
use crate::testkit;
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::{
    Channel, Connector, ConnectorError, Credential, ExchangeId, Failure, KeyJob, KeyMaterial,
    Liveness, Route, Secret,
};
use std::sync::Arc;

/// One connector and the keys its dialect holds for the shared cases.
pub trait Subject {
    type Connector: Connector;

    fn exchange() -> ExchangeId;

    /// The connector, pointed at the simulator (usually
    /// `testkit::connector(h, EXCHANGE, XConnector::new)`).
    fn connector(h: &SimHandle) -> Self::Connector;

    /// The keys the simulator holds at the start of every case: the target
    /// keys of the rows below, and the managing credentials' own keys.
    fn keys() -> Vec<SimKey>;

    /// A row (a live key among [`Subject::keys`]) whose first route deletes
    /// it through a managing credential.
    fn managed_row() -> KeyJob;

    /// Whether the exchange offers a disable for [`Subject::managed_row`].
    fn has_disable() -> bool {
        true
    }

    /// Whether the exchange documents an IP ban (or an IP block) beyond its
    /// rate-limit reply; OKX does not.
    fn documents_ip_ban() -> bool {
        true
    }

    /// Writes the exchange lets one account make per second, when it is so
    /// few that back-to-back cases would meet it (OKX: one): the cases space
    /// their writes by that much.
    fn writes_per_second() -> Option<u32> {
        None
    }

    /// The rotation cases' material; none for a connector that does not
    /// rotate.
    fn rotation() -> Option<Rotation> {
        None
    }

    /// The exchange's published signing examples and the captured requests
    /// (`test_data/*.json`), rebuilt by the connector.
    fn signing() -> signing::Signing;
}

/// What the rotation cases need.
pub struct Rotation {
    /// The key to replace: a live sub key among [`Subject::keys`], usable
    /// from loopback, whose row names its account and the managing
    /// credential that creates; its first route deletes it through that
    /// credential. Bound to IPs (loopback among them, so that the copy can
    /// still sign from here) when [`Rotation::copies_ips`].
    pub old: KeyJob,
    /// Whether the exchange shows a key's IP list in full, so that a bound
    /// key's binding is copied. KuCoin masks it (`203.**.154`): its old
    /// key is unbound, and its own tests check that a bound key's copy is
    /// refused before anything is sent.
    pub copies_ips: bool,
    /// A managing credential (its key among [`Subject::keys`]) lacking the
    /// permission the exchange documents for creating sub keys.
    pub unpermitted: Credential,
    /// The passphrase the creator chooses for the new key, where the
    /// exchange asks for one (OKX, KuCoin).
    pub passphrase: Option<&'static str>,
    /// Creates the exchange allows one account per second, when so few
    /// that a burst meets the limit (Bybit, OKX: one).
    pub creates_per_second: Option<u32>,
}

/// Run every case, each against a fresh simulator; the first that fails
/// panics, naming itself.
pub async fn run<S: Subject>() {
    signs_as_documented_and_as_captured::<S>();
    deletes_once::<S>().await;
    a_dead_key_is_not_deleted_again_and_probes_dead::<S>().await;
    falls_back_to_disable::<S>().await;
    a_refused_managing_credential_never_makes_the_target_dead::<S>().await;
    a_bad_signature_is_refused_and_changes_nothing::<S>().await;
    a_rate_limit_reply_is_a_rate_limit::<S>().await;
    an_ip_ban_is_a_ban::<S>().await;
    a_timeout_after_the_exchange_acted_is_an_unknown_outcome::<S>().await;
    clock_skew_is_reported_then_fixed_by_a_sync::<S>().await;
    if let Some(rotation) = S::rotation() {
        rotation::replaces_a_sub_key_with_one_of_the_same_shape::<S>(&rotation).await;
        rotation::a_credential_without_the_create_permission_creates_nothing::<S>(&rotation).await;
        rotation::a_create_over_the_limit_is_a_rate_limit_and_creates_nothing::<S>(&rotation).await;
    }
}

mod rotation;
pub mod signing;

fn signs_as_documented_and_as_captured<S: Subject>() {
    let mismatches = signing::mismatches(&S::signing());
    assert!(
        mismatches.is_empty(),
        "{}: the signer differs from the vectors:\n{}",
        S::exchange(),
        mismatches.join("\n")
    );
}

struct Case<S: Subject> {
    h: SimHandle,
    c: S::Connector,
    row: KeyJob,
}

impl<S: Subject> Case<S> {
    async fn start(faults: Faults) -> Self {
        let h = testkit::start(S::exchange(), faults, S::keys()).await;
        let c = S::connector(&h);
        Case {
            h,
            c,
            row: S::managed_row(),
        }
    }

    fn state(&self, api_key: &str) -> KeyState {
        testkit::state(&self.h, S::exchange(), api_key)
    }

    fn target_state(&self) -> KeyState {
        self.state(&self.row.key.api_key)
    }

    fn deletes_seen(&self) -> u64 {
        self.h
            .exchange(S::exchange())
            .stats
            .deletes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn first_route(&self, case: &str) -> Route {
        let route = self.c.routes(&self.row)[0];
        assert_eq!(
            route.channel(),
            Channel::Delete,
            "{}: {case}: the managed row's first route must delete",
            S::exchange()
        );
        assert!(
            route.uses_credential(),
            "{}: {case}: the managed row's first route must act through its credential",
            S::exchange()
        );
        route
    }

    async fn delete(&self, case: &str) -> Result<keyrevoke_core::Reply, Failure> {
        let route = self.first_route(case);
        self.c.perform(route, &self.row).await
    }
}

fn fail<S: Subject>(case: &str, what: impl std::fmt::Display) -> ! {
    panic!("{}: {case}: {what}", S::exchange())
}

async fn space_writes<S: Subject>() {
    if let Some(n) = S::writes_per_second() {
        tokio::time::sleep(std::time::Duration::from_millis(1000 / u64::from(n) + 50)).await;
    }
}

async fn deletes_once<S: Subject>() {
    const CASE: &str = "a delete by the strongest route removes the key";
    let case = Case::<S>::start(Faults::default()).await;
    if let Err(f) = case.delete(CASE).await {
        fail::<S>(CASE, format!("refused: {f}"));
    }
    assert_eq!(
        case.target_state(),
        KeyState::Deleted,
        "{}: {CASE}",
        S::exchange()
    );
    assert_eq!(
        case.deletes_seen(),
        1,
        "{}: {CASE}: deletes the simulator saw",
        S::exchange()
    );
}

async fn a_dead_key_is_not_deleted_again_and_probes_dead<S: Subject>() {
    const CASE: &str = "a key deleted already is reported, never deleted twice";
    let case = Case::<S>::start(Faults::default()).await;
    case.delete(CASE)
        .await
        .unwrap_or_else(|f| fail::<S>(CASE, f));
    space_writes::<S>().await;
    match case.delete(CASE).await {
        Ok(_) => fail::<S>(CASE, "a second delete of a deleted key succeeded"),
        Err(f) if matches!(f.error, ConnectorError::OutcomeUnknown(_)) => {
            fail::<S>(CASE, format!("the refusal was read as unknown: {f}"))
        }
        Err(_) => {}
    }
    assert_eq!(
        case.deletes_seen(),
        1,
        "{}: {CASE}: deletes the simulator saw",
        S::exchange()
    );
    if case.c.can_probe(&case.row) {
        let probe = case
            .c
            .probe(&case.row)
            .await
            .unwrap_or_else(|f| fail::<S>(CASE, f));
        assert_eq!(
            probe.liveness,
            Liveness::Dead,
            "{}: {CASE}: the probe",
            S::exchange()
        );
    }
}

async fn falls_back_to_disable<S: Subject>() {
    const CASE: &str = "after the delete routes, a disable route leaves the key unusable";
    if !S::has_disable() {
        return;
    }
    let case = Case::<S>::start(Faults::default()).await;
    let routes = case.c.routes(&case.row);
    let first_disable = routes
        .iter()
        .position(|r| r.channel() == Channel::Disable)
        .unwrap_or_else(|| fail::<S>(CASE, format!("no disable route in {routes:?}")));
    assert!(
        routes[..first_disable]
            .iter()
            .all(|r| r.channel() == Channel::Delete),
        "{}: {CASE}: deletes come first: {routes:?}",
        S::exchange()
    );
    assert_eq!(
        routes.last(),
        Some(&Route::Escalate),
        "{}: {CASE}",
        S::exchange()
    );
    case.c
        .perform(routes[first_disable], &case.row)
        .await
        .unwrap_or_else(|f| fail::<S>(CASE, format!("disable refused: {f}")));
    let key = case
        .h
        .exchange(S::exchange())
        .keys
        .get(&case.row.key.api_key)
        .expect("the target is held");
    assert!(
        key.state == KeyState::Deleted || key.disabled || !key.allows_loopback(),
        "{}: {CASE}: the key is still usable from here: {:?}",
        S::exchange(),
        key.ips
    );
}

/// The row, its managing credential's secret replaced.
fn with_wrong_credential_secret(row: &KeyJob) -> KeyJob {
    let cred = row.via.as_deref().expect("a managed row has a credential");
    let wrong = Credential {
        api_secret: Secret::from("not-the-credentials-secret-0000"),
        ..cred.clone()
    };
    KeyJob::new(KeyMaterial { ..row.key.clone() }, Some(Arc::new(wrong)))
}

async fn a_refused_managing_credential_never_makes_the_target_dead<S: Subject>() {
    const CASE: &str = "a managing credential the exchange refuses says nothing of the target";
    let case = Case::<S>::start(Faults::default()).await;
    let cred_key = case
        .row
        .via
        .as_ref()
        .expect("a managed row")
        .api_key
        .clone();
    case.h
        .exchange(S::exchange())
        .keys
        .update(&cred_key, |k| k.state = KeyState::Deleted);
    match case.delete(CASE).await {
        Ok(_) => fail::<S>(CASE, "a deleted credential's delete succeeded"),
        Err(f) if matches!(f.error, ConnectorError::KeyDead(_)) => {
            fail::<S>(CASE, format!("the target was called dead: {f}"))
        }
        Err(_) => {}
    }
    assert_eq!(
        case.target_state(),
        KeyState::Alive,
        "{}: {CASE}",
        S::exchange()
    );
}

async fn a_bad_signature_is_refused_and_changes_nothing<S: Subject>() {
    const CASE: &str = "a request signed with the wrong secret is refused";
    let mut case = Case::<S>::start(Faults::default()).await;
    case.row = with_wrong_credential_secret(&case.row);
    match case.delete(CASE).await {
        Ok(_) => fail::<S>(CASE, "the simulator accepted a bad signature"),
        Err(f) => {
            assert!(
                !matches!(
                    f.error,
                    ConnectorError::KeyDead(_) | ConnectorError::OutcomeUnknown(_)
                ),
                "{}: {CASE}: {f:?}",
                S::exchange()
            );
            let text = format!("{f:?} {f}");
            assert!(
                !text.contains("not-the-credentials-secret"),
                "{}: {CASE}: {text}",
                S::exchange()
            );
        }
    }
    assert_eq!(
        case.target_state(),
        KeyState::Alive,
        "{}: {CASE}",
        S::exchange()
    );
    assert_eq!(case.deletes_seen(), 0, "{}: {CASE}", S::exchange());
}

/// A rate limit; for a ban, one that stops everything sent from this IP
/// (scope `Ban`, or `Ip` for an exchange whose ban is its IP block, as
/// KuCoin's front limit) for a time the reply states or the connector knows.
fn assert_rate_limited<S: Subject>(
    case: &str,
    got: Result<keyrevoke_core::Reply, Failure>,
    ban: bool,
) {
    match got {
        Err(Failure {
            error: ConnectorError::RateLimited { scope, retry_after },
            ..
        }) => {
            if ban {
                assert!(
                    matches!(scope, LimitScope::Ban | LimitScope::Ip) && retry_after.is_some(),
                    "{}: {case}: scope {scope:?}, retry after {retry_after:?}",
                    S::exchange()
                );
            }
        }
        other => fail::<S>(case, format!("not a rate limit: {other:?}")),
    }
}

async fn a_rate_limit_reply_is_a_rate_limit<S: Subject>() {
    const CASE: &str = "the exchange's rate-limit reply is a rate limit";
    let case = Case::<S>::start(Faults {
        rate_limited: 1.0,
        ..Faults::default()
    })
    .await;
    assert_rate_limited::<S>(CASE, case.delete(CASE).await, false);
    assert_eq!(
        case.target_state(),
        KeyState::Alive,
        "{}: {CASE}",
        S::exchange()
    );
}

async fn an_ip_ban_is_a_ban<S: Subject>() {
    const CASE: &str = "an IP ban is a rate limit of scope Ban";
    if !S::documents_ip_ban() {
        return;
    }
    let case = Case::<S>::start(Faults::default()).await;
    case.h.exchange(S::exchange()).timeline.plan(Outage {
        at_request: 1,
        length: std::time::Duration::from_secs(60),
        kind: OutageKind::IpBan,
    });
    assert_rate_limited::<S>(CASE, case.delete(CASE).await, true);
    assert_eq!(
        case.target_state(),
        KeyState::Alive,
        "{}: {CASE}",
        S::exchange()
    );
}

async fn a_timeout_after_the_exchange_acted_is_an_unknown_outcome<S: Subject>() {
    const CASE: &str = "a gateway timeout after the delete is an unknown outcome";
    // Only the deletion times out: a route that reads first (Deribit finds
    // the key's id in a listing) reaches its delete.
    let case = Case::<S>::start(Faults {
        gateway_timeout_after_delete: 1.0,
        ..Faults::default()
    })
    .await;
    match case.delete(CASE).await {
        Err(Failure {
            error: ConnectorError::OutcomeUnknown(_),
            ..
        }) => {}
        other => fail::<S>(CASE, format!("not unknown: {other:?}")),
    }
    assert_eq!(
        case.target_state(),
        KeyState::Deleted,
        "{}: {CASE}: the exchange acted",
        S::exchange()
    );
}

async fn clock_skew_is_reported_then_fixed_by_a_sync<S: Subject>() {
    const CASE: &str = "clock skew is reported, and a sync fixes it";
    // The exchange's clock runs two minutes behind ours: our timestamps
    // are from its future, beyond every documented window.
    let case = Case::<S>::start(Faults {
        clock_skew_ms: -120_000,
        ..Faults::default()
    })
    .await;
    match case.delete(CASE).await {
        Err(Failure {
            error: ConnectorError::ClockSkew,
            ..
        }) => {}
        other => fail::<S>(CASE, format!("not clock skew: {other:?}")),
    }
    assert_eq!(
        case.target_state(),
        KeyState::Alive,
        "{}: {CASE}",
        S::exchange()
    );
    case.c
        .sync_clock()
        .await
        .unwrap_or_else(|f| fail::<S>(CASE, f));
    space_writes::<S>().await;
    case.delete(CASE)
        .await
        .unwrap_or_else(|f| fail::<S>(CASE, format!("after the sync: {f}")));
    assert_eq!(
        case.target_state(),
        KeyState::Deleted,
        "{}: {CASE}",
        S::exchange()
    );
}
