//! The contract between the executor and an exchange connector.
//!
//! A connector turns an operation on a key into signed HTTP requests and the
//! replies into outcomes. It never sleeps, retries or logs secrets: the
//! executor owns time, and signs nothing.

use crate::discovery::{ListKind, Page, PageRequest};
use crate::error::{Failure, ReplyMeta};
use crate::exchange::ExchangeId;
use crate::key::{Credential, KeyJob};
use crate::model::{Capability, Route};
use crate::rotation::{CreateKey, Created, Described, NewKey, RotationCall};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub use crate::error::Usage;

/// What the executor asks a connector to spend budget on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Route(Route),
    Probe,
    ClockSync,
    /// One page of a managing credential's listing (discovery).
    List(ListKind),
    /// One call of a key's rotation.
    Rotate(RotationCall),
}

impl Operation {
    /// Every operation: each route, a probe, a clock sync.
    pub fn all() -> impl Iterator<Item = Operation> {
        Route::ALL
            .iter()
            .map(|r| Operation::Route(*r))
            .chain([Operation::Probe, Operation::ClockSync])
            .chain(ListKind::ALL.map(Operation::List))
            .chain(RotationCall::ALL.map(Operation::Rotate))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TierScope {
    /// Shared by every request this process sends to the exchange.
    Ip,
    /// One budget per account (UID); see [`KeyJob::rate_account`].
    Account,
}

/// One documented rate limit: `capacity` units of weight per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Tier {
    pub name: &'static str,
    pub scope: TierScope,
    pub capacity: u32,
    #[serde(with = "duration_ms")]
    pub period: Duration,
}

/// The weight one operation spends from one tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    pub tier: &'static str,
    pub weight: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    Alive,
    Dead,
    /// No probe is possible with the material at hand.
    CannotTell,
}

/// What is wrong with a connector's rate-limit tables: a charge that names
/// no tier, or weighs more than its tier holds (it could never be paid).
/// Empty when `charges` and `tiers` agree.
pub fn charge_problems(
    tiers: &[Tier],
    charges: impl Fn(Operation) -> &'static [Charge],
) -> Vec<String> {
    let mut problems = Vec::new();
    for op in Operation::all() {
        for c in charges(op) {
            match tiers.iter().find(|t| t.name == c.tier) {
                None => problems.push(format!("{op:?} charges unknown tier {}", c.tier)),
                Some(t) if c.weight > t.capacity => problems.push(format!(
                    "{op:?} charges {} weight {}, over its capacity {}",
                    c.tier, c.weight, t.capacity
                )),
                Some(_) => {}
            }
        }
    }
    problems
}

/// Permission names an exchange lists in one comma-separated string
/// (`General, Spot`), sorted.
pub fn permission_list(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// What a liveness probe learned about a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub liveness: Liveness,
    /// Whether the key can move funds (withdraw or transfer), when known.
    pub can_move_funds: Option<bool>,
    /// The exchange's own permission names, for reports.
    pub permissions: Vec<String>,
    #[serde(default)]
    pub meta: ReplyMeta,
}

impl Probe {
    pub fn cannot_tell() -> Self {
        Probe {
            liveness: Liveness::CannotTell,
            can_move_funds: None,
            permissions: Vec::new(),
            meta: ReplyMeta::default(),
        }
    }

    /// Alive, holding `permissions` (the exchange's names); it can move
    /// funds when it holds any of `fund_moving`.
    pub fn alive(permissions: Vec<String>, fund_moving: &[&str], meta: ReplyMeta) -> Self {
        let can_move = permissions
            .iter()
            .any(|p| fund_moving.contains(&p.as_str()));
        Probe {
            liveness: Liveness::Alive,
            can_move_funds: Some(can_move),
            permissions,
            meta,
        }
    }

    /// Gone: a dead key can move nothing.
    pub fn dead(meta: ReplyMeta) -> Self {
        Probe {
            liveness: Liveness::Dead,
            can_move_funds: Some(false),
            permissions: Vec::new(),
            meta,
        }
    }

    /// Alive but bound to other IPs: not usable from here, so what it may do
    /// is unknown.
    pub fn ip_restricted(meta: ReplyMeta) -> Self {
        Probe {
            liveness: Liveness::Alive,
            can_move_funds: None,
            permissions: vec!["ip_restricted".into()],
            meta,
        }
    }
}

/// A successful call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub meta: ReplyMeta,
    pub usage: Vec<Usage>,
}

/// A row whose material does not fit any route it asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub message: String,
}

/// Where keys that no API can neutralize are reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EscalationContact {
    /// Who at the exchange handles compromised keys.
    pub security_team: &'static str,
    /// The page where a user deletes keys by hand.
    pub api_management_page: &'static str,
}

#[async_trait]
pub trait Connector: Send + Sync + 'static {
    fn exchange(&self) -> ExchangeId;

    /// Everything this connector can do, for `keyrevoke exchanges`.
    fn capabilities(&self) -> &'static [Capability];

    /// The routes usable for this key with the material at hand, strongest
    /// first, ending with [`Route::Escalate`].
    fn routes(&self, job: &KeyJob) -> Vec<Route>;

    /// Problems with a row that no route can overcome (a field the exchange
    /// requires is missing). Reported at validation, before anything is sent.
    fn check(&self, _job: &KeyJob) -> Vec<FieldProblem> {
        Vec::new()
    }

    /// The exchange's documented rate-limit tiers.
    fn tiers(&self) -> &'static [Tier];

    /// Every tier an operation may spend from, whatever the row, with the
    /// most it may weigh: what the limiter sizes its bursts by.
    fn charges(&self, op: Operation) -> &'static [Charge];

    /// What an operation spends for this row, per tier: the calls it makes
    /// depend on the row (its own secret or a credential's, a master's or a
    /// broker's), so a connector whose calls differ narrows
    /// [`Connector::charges`] here, and no budget is spent on a tier whose
    /// call is not made.
    fn charges_for(&self, op: Operation, _job: &KeyJob) -> &'static [Charge] {
        self.charges(op)
    }

    /// The account whose per-account budget an operation spends. A probe
    /// uses the key's own secret when known, else the managing credential.
    fn account_for(&self, op: Operation, job: &KeyJob) -> String {
        match op {
            Operation::Route(r) => job.rate_account(Some(r)),
            Operation::Probe if !job.has_secret() && job.via.is_some() => {
                job.rate_account(Some(Route::DeleteByMaster))
            }
            Operation::Probe => job.rate_account(None),
            Operation::ClockSync => String::new(),
            // The credential lists as it deletes: from its own budget.
            Operation::List(_) => job.rate_account(Some(Route::DeleteByMaster)),
            // The new key tests itself from its own budget; the credential
            // describes and creates from its own.
            Operation::Rotate(RotationCall::Test) => job.rate_account(None),
            Operation::Rotate(_) => job.rate_account(Some(Route::DeleteByMaster)),
        }
    }

    /// Perform one route (never [`Route::Escalate`]) once, signed afresh.
    async fn perform(&self, route: Route, job: &KeyJob) -> Result<Reply, Failure>;

    /// Whether [`Connector::probe`] can learn anything for this key (so that
    /// no budget is spent on a probe that cannot be made).
    fn can_probe(&self, job: &KeyJob) -> bool {
        job.has_secret()
    }

    /// Ask the exchange whether the key is alive. Uses the key's own secret
    /// when known, else whatever the managing credential can see.
    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure>;

    /// Re-read the exchange's clock and adjust the signing offset.
    async fn sync_clock(&self) -> Result<(), Failure>;

    fn escalation_contact(&self) -> EscalationContact;

    /// Whether a managing credential can list the keys under it
    /// ([`Connector::discover`]); where not, the user sees them on
    /// [`EscalationContact::api_management_page`].
    fn can_discover(&self) -> bool {
        false
    }

    /// List one page for `cred`: its sub accounts, or one sub account's
    /// keys. Signed afresh, sent once: the executor paces, retries and
    /// audits, and the caller journals each page before the next.
    async fn discover(&self, _cred: &Credential, _page: &PageRequest) -> Result<Page, Failure> {
        Err(Failure::local(crate::error::ConnectorError::Unsupported(
            "this exchange has no documented endpoint that lists a credential's keys".into(),
        )))
    }

    /// Whether a managing credential can replace its sub keys
    /// ([`Connector::describe_key`], [`Connector::create_key`],
    /// [`Connector::test_key`]).
    fn can_rotate(&self) -> bool {
        false
    }

    /// Read sub key `api_key` of `account` via `cred`: its permissions, IP
    /// list and creation time. Signed afresh, sent once.
    async fn describe_key(
        &self,
        _cred: &Credential,
        _account: &str,
        _api_key: &str,
    ) -> Result<Described, Failure> {
        Err(Failure::local(crate::error::ConnectorError::Unsupported(
            "this exchange has no documented endpoint that describes a sub key".into(),
        )))
    }

    /// Create a sub key via `cred`. Sent once, never retried blindly: a
    /// create whose reply was lost is found again by listing its label.
    async fn create_key(&self, _cred: &Credential, _req: &CreateKey) -> Result<Created, Failure> {
        Err(Failure::local(crate::error::ConnectorError::Unsupported(
            "this exchange has no documented endpoint that creates a sub key".into(),
        )))
    }

    /// A signed read with `key`'s own secret: Ok when the exchange accepts
    /// it.
    async fn test_key(&self, _key: &NewKey) -> Result<Reply, Failure> {
        Err(Failure::local(crate::error::ConnectorError::Unsupported(
            "this exchange's keys cannot be tested".into(),
        )))
    }

    /// HTTP requests this connector has sent so far (see
    /// [`crate::http::requests_sent`]); 0 for one that sends none.
    fn requests_sent(&self) -> u64 {
        0
    }

    /// Why a key of this exchange is escalated without trying any route
    /// (for an exchange that no longer exists, say). None: the usual reasons.
    /// When it returns Some, the executor records this reason instead of the
    /// last refusal, so return it only where no route applies.
    fn escalation_reason(&self, _job: &KeyJob) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_must_name_a_tier_and_fit_in_it() {
        static TIERS: [Tier; 1] = [Tier {
            name: "uid",
            scope: TierScope::Account,
            capacity: 5,
            period: Duration::from_secs(1),
        }];
        static FITS: [Charge; 1] = [Charge {
            tier: "uid",
            weight: 5,
        }];
        static TOO_HEAVY: [Charge; 1] = [Charge {
            tier: "uid",
            weight: 6,
        }];
        static NAMELESS: [Charge; 1] = [Charge {
            tier: "ip",
            weight: 1,
        }];
        assert!(charge_problems(&TIERS, |_| &FITS).is_empty());
        let problems = charge_problems(&TIERS, |op| match op {
            Operation::Probe => &TOO_HEAVY,
            Operation::ClockSync => &NAMELESS,
            Operation::Route(_) | Operation::List(_) | Operation::Rotate(_) => &[],
        });
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("over its capacity"), "{problems:?}");
        assert!(problems[1].contains("unknown tier ip"), "{problems:?}");
    }

    #[test]
    fn an_alive_key_moves_funds_only_with_a_fund_moving_permission() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = Probe::alive(
            names(&["Spot", "Withdraw"]),
            &["Withdraw"],
            ReplyMeta::default(),
        );
        assert_eq!(p.liveness, Liveness::Alive);
        assert_eq!(p.can_move_funds, Some(true));
        assert_eq!(p.permissions, vec!["Spot", "Withdraw"]);
        let p = Probe::alive(names(&["Spot"]), &["Withdraw"], ReplyMeta::default());
        assert_eq!(p.can_move_funds, Some(false));
        let p = Probe::dead(ReplyMeta::default());
        assert_eq!(
            (p.liveness, p.can_move_funds),
            (Liveness::Dead, Some(false))
        );
        let p = Probe::ip_restricted(ReplyMeta::default());
        assert_eq!((p.liveness, p.can_move_funds), (Liveness::Alive, None));
        assert_eq!(p.permissions, vec!["ip_restricted"]);
    }
}

mod duration_ms {
    use serde::Serializer;
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}
