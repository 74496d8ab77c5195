//! The rotation cases (see [`super::Rotation`]): each checks what the
//! simulator holds and counted, not only what the connector said.

use super::{Case, Rotation, Subject, fail};
use crate::faults::Faults;
use crate::keys::{KeyState, SimKey};
use keyrevoke_core::discovery::{ListKind, PageRequest};
use keyrevoke_core::rotation::{CreateKey, KeyShape, NewKey};
use keyrevoke_core::{ConnectorError, Credential, Failure, Secret};
use std::sync::atomic::Ordering;

/// The label the cases give the new key.
const NEW_LABEL: &str = "rotated-bot-17";

impl<S: Subject> Case<S> {
    fn sim_key(&self, api_key: &str) -> SimKey {
        self.h
            .exchange(S::exchange())
            .keys
            .get(api_key)
            .unwrap_or_else(|| panic!("{}: the simulator holds no key {api_key}", S::exchange()))
    }

    fn creates_seen(&self) -> u64 {
        self.h
            .exchange(S::exchange())
            .stats
            .creates
            .load(Ordering::Relaxed)
    }

    fn keys_held(&self) -> usize {
        self.h.exchange(S::exchange()).keys.len()
    }
}

fn credential(r: &Rotation) -> &Credential {
    r.old
        .via
        .as_deref()
        .expect("the old key's row names its managing credential")
}

fn account(r: &Rotation) -> &str {
    r.old
        .key
        .account
        .as_deref()
        .expect("the old key's row names its account")
}

fn create_request(r: &Rotation, shape: KeyShape) -> CreateKey {
    CreateKey {
        account: account(r).to_string(),
        shape,
        label: NEW_LABEL.to_string(),
        passphrase: r.passphrase.map(Secret::from),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn describe<S: Subject>(case: &Case<S>, r: &Rotation, name: &str) -> KeyShape {
    use keyrevoke_core::Connector;
    case.c
        .describe_key(credential(r), account(r), &r.old.key.api_key)
        .await
        .unwrap_or_else(|f| fail::<S>(name, format!("describe refused: {f}")))
        .shape
}

pub(super) async fn replaces_a_sub_key_with_one_of_the_same_shape<S: Subject>(r: &Rotation) {
    use keyrevoke_core::Connector;
    const CASE: &str = "a rotation replaces a sub key with one of the same shape";
    let case = Case::<S>::start(Faults::default()).await;
    assert!(case.c.can_rotate(), "{}: {CASE}: can_rotate", S::exchange());
    let old = case.sim_key(&r.old.key.api_key);
    assert!(
        old.allows_loopback() && (old.bound_ips().is_empty() != r.copies_ips),
        "{}: {CASE}: the old key must be usable from loopback, and bound to IPs exactly when the exchange shows them: {:?}",
        S::exchange(),
        old.ips
    );

    let shape = describe(&case, r, CASE).await;
    assert_eq!(
        sorted(shape.ips.clone()),
        sorted(old.bound_ips()),
        "{}: {CASE}: the described IPs",
        S::exchange()
    );
    assert_eq!(shape.read_only, old.read_only, "{}: {CASE}", S::exchange());
    assert_eq!(
        shape.label,
        old.label,
        "{}: {CASE}: the label",
        S::exchange()
    );
    let created_at = shape
        .created_at_ms
        .unwrap_or_else(|| fail::<S>(CASE, "the description holds no creation time"));
    assert!(
        (created_at - old.created_at_ms).abs() < 1000,
        "{}: {CASE}: described creation time {created_at}, the simulator's {}",
        S::exchange(),
        old.created_at_ms
    );

    let created = case
        .c
        .create_key(credential(r), &create_request(r, shape.clone()))
        .await
        .unwrap_or_else(|f| fail::<S>(CASE, format!("create refused: {f}")));
    assert_eq!(case.creates_seen(), 1, "{}: {CASE}: creates", S::exchange());
    let new = case.sim_key(&created.key.api_key);
    assert_eq!(new.state, KeyState::Alive, "{}: {CASE}", S::exchange());
    assert_eq!(
        new.secret,
        created.key.api_secret.expose(),
        "{}: {CASE}: the secret the reply showed is the new key's",
        S::exchange()
    );
    assert_eq!(
        new.passphrase.as_deref(),
        r.passphrase,
        "{}: {CASE}: the passphrase chosen",
        S::exchange()
    );
    assert_eq!(
        created.key.passphrase.as_ref().map(Secret::expose),
        r.passphrase,
        "{}: {CASE}: the new key carries the passphrase chosen",
        S::exchange()
    );
    assert_eq!(created.key.account, account(r), "{}: {CASE}", S::exchange());
    assert_eq!(
        (&new.uid, &new.parent_uid),
        (&old.uid, &old.parent_uid),
        "{}: {CASE}: the new key is in the old key's sub account",
        S::exchange()
    );
    assert_eq!(
        sorted(new.permissions.clone()),
        sorted(old.permissions.clone()),
        "{}: {CASE}: the permissions",
        S::exchange()
    );
    assert_eq!(
        sorted(new.bound_ips()),
        sorted(old.bound_ips()),
        "{}: {CASE}: the IPs",
        S::exchange()
    );
    assert_eq!(new.read_only, old.read_only, "{}: {CASE}", S::exchange());
    assert_eq!(
        new.label.as_deref(),
        Some(NEW_LABEL),
        "{}: {CASE}: the label given",
        S::exchange()
    );

    case.c
        .test_key(&created.key)
        .await
        .unwrap_or_else(|f| fail::<S>(CASE, format!("the new key's test refused: {f}")));
    let forged = NewKey {
        api_secret: Secret::from("not-the-new-keys-secret-000000000"),
        ..created.key.clone()
    };
    if case.c.test_key(&forged).await.is_ok() {
        fail::<S>(CASE, "a test signed with another secret was accepted");
    }

    if case.c.can_discover() {
        let page = case
            .c
            .discover(
                credential(r),
                &PageRequest {
                    kind: ListKind::SubAccountKeys,
                    account: Some(account(r).to_string()),
                    cursor: None,
                },
            )
            .await
            .unwrap_or_else(|f| fail::<S>(CASE, format!("listing refused: {f}")));
        assert!(
            page.keys
                .iter()
                .any(|k| k.api_key == created.key.api_key && k.label.as_deref() == Some(NEW_LABEL)),
            "{}: {CASE}: the listing shows the new key under its label: {:?}",
            S::exchange(),
            page.keys
        );
    }

    super::space_writes::<S>().await;
    let route = case.c.routes(&r.old)[0];
    case.c
        .perform(route, &r.old)
        .await
        .unwrap_or_else(|f| fail::<S>(CASE, format!("the old key's delete refused: {f}")));
    assert_eq!(
        case.sim_key(&old.api_key).state,
        KeyState::Deleted,
        "{}: {CASE}: the old key",
        S::exchange()
    );
    assert_eq!(
        case.sim_key(&new.api_key).state,
        KeyState::Alive,
        "{}: {CASE}: the new key outlives the old",
        S::exchange()
    );
    case.c
        .test_key(&created.key)
        .await
        .unwrap_or_else(|f| fail::<S>(CASE, format!("after the delete: {f}")));
}

pub(super) async fn a_credential_without_the_create_permission_creates_nothing<S: Subject>(
    r: &Rotation,
) {
    use keyrevoke_core::Connector;
    const CASE: &str = "a credential without the create permission creates nothing";
    let case = Case::<S>::start(Faults::default()).await;
    let shape = describe(&case, r, CASE).await;
    let held = case.keys_held();
    match case
        .c
        .create_key(&r.unpermitted, &create_request(r, shape))
        .await
    {
        Ok(_) => fail::<S>(CASE, "the create succeeded"),
        Err(f) if matches!(f.error, ConnectorError::OutcomeUnknown(_)) => {
            fail::<S>(CASE, format!("the refusal was read as unknown: {f}"))
        }
        Err(_) => {}
    }
    assert_eq!(case.creates_seen(), 0, "{}: {CASE}", S::exchange());
    assert_eq!(case.keys_held(), held, "{}: {CASE}", S::exchange());
}

pub(super) async fn a_create_over_the_limit_is_a_rate_limit_and_creates_nothing<S: Subject>(
    r: &Rotation,
) {
    use keyrevoke_core::Connector;
    const CASE: &str = "a create over the exchange's limit is a rate limit and creates nothing";
    let case = Case::<S>::start(Faults::default()).await;
    let shape = describe(&case, r, CASE).await;
    let is_rate_limit = |got: &Result<_, Failure>| {
        matches!(
            got,
            Err(Failure {
                error: ConnectorError::RateLimited { .. },
                ..
            })
        )
    };
    // The exchange's own limit, where a burst meets it: as many creates as
    // it allows, then one more.
    if let Some(allowed) = r.creates_per_second {
        for i in 0..allowed {
            if let Err(f) = case
                .c
                .create_key(credential(r), &create_request(r, shape.clone()))
                .await
            {
                fail::<S>(CASE, format!("create {i} within the limit refused: {f}"));
            }
        }
        let got = case
            .c
            .create_key(credential(r), &create_request(r, shape.clone()))
            .await;
        assert!(
            is_rate_limit(&got),
            "{}: {CASE}: the create beyond {allowed} per second: {got:?}",
            S::exchange()
        );
        assert_eq!(
            case.creates_seen(),
            u64::from(allowed),
            "{}: {CASE}: creates the simulator made",
            S::exchange()
        );
    }
    // The exchange's rate-limit reply, whatever the count.
    *case.h.exchange(S::exchange()).faults.write().unwrap() = Faults {
        rate_limited: 1.0,
        ..Faults::default()
    };
    let before = case.creates_seen();
    let got = case
        .c
        .create_key(credential(r), &create_request(r, shape))
        .await;
    assert!(
        is_rate_limit(&got),
        "{}: {CASE}: the exchange's rate-limit reply: {got:?}",
        S::exchange()
    );
    assert_eq!(case.creates_seen(), before, "{}: {CASE}", S::exchange());
}
