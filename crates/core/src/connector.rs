//! The contract between the executor and an exchange connector.
//!
//! A connector turns an operation on a key into signed HTTP requests and the
//! replies into outcomes. It never sleeps, retries or logs secrets: the
//! executor owns time, and signs nothing.

use crate::error::{Failure, ReplyMeta};
use crate::exchange::ExchangeId;
use crate::key::KeyJob;
use crate::model::{Capability, Route};
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

    /// The weight an operation spends, per tier.
    fn charges(&self, op: Operation) -> &'static [Charge];

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

    /// Why a key of this exchange is escalated without trying any route
    /// (for an exchange that no longer exists, say). None: the usual reasons.
    fn escalation_reason(&self, _job: &KeyJob) -> Option<String> {
        None
    }
}

mod duration_ms {
    use serde::Serializer;
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}
