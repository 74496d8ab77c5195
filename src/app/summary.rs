//! The run summary, from the journal: the whole job, not only this run.

use keyrevoke_core::State;
use keyrevoke_core::store::Counts;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Tally {
    pub total: u64,
    pub revoked: u64,
    pub disabled: u64,
    pub already_dead: u64,
    pub escalated: u64,
    pub failed: u64,
    /// Keys without an outcome yet (an interrupted job).
    pub pending: u64,
    /// HTTP requests this run sent (probes and second calls included);
    /// absent where no run sent any (`keyrevoke status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// `requests` per key this run's job revoked or disabled: what one
    /// neutralized key cost (1.0 at best).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_key: Option<f64>,
}

impl Tally {
    fn add(&mut self, state: State, n: u64) {
        self.total += n;
        let slot = match state {
            State::Revoked => &mut self.revoked,
            State::Disabled => &mut self.disabled,
            State::AlreadyDead => &mut self.already_dead,
            State::Escalated => &mut self.escalated,
            State::Failed => &mut self.failed,
            State::Pending | State::InFlight | State::Unknown => &mut self.pending,
        };
        *slot += n;
    }

    fn set_requests(&mut self, requests: u64) {
        self.requests = Some(requests);
        let neutralized = self.revoked + self.disabled;
        self.requests_per_key = (neutralized > 0).then(|| requests as f64 / neutralized as f64);
    }

    /// Keys a human must still look at.
    pub fn needs_human(&self) -> bool {
        self.escalated + self.failed > 0
    }
}

/// `{"total", "revoked", "disabled", "already_dead", "escalated", "failed",
/// "pending", "requests", "requests_per_key", "by_exchange": {...}}`: the
/// `--json` contract.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub all: Tally,
    pub by_exchange: BTreeMap<String, Tally>,
}

impl Summary {
    pub fn from_counts(counts: &Counts) -> Summary {
        let mut s = Summary::default();
        for (x, states) in &counts.by_exchange {
            let t = s.by_exchange.entry(x.clone()).or_default();
            for (state, n) in states {
                if let Ok(state) = state.parse::<State>() {
                    t.add(state, *n);
                    s.all.add(state, *n);
                }
            }
        }
        s
    }

    /// Add the requests this run sent, per exchange.
    pub fn with_requests(mut self, sent: &BTreeMap<String, u64>) -> Summary {
        for (x, n) in sent {
            if let Some(t) = self.by_exchange.get_mut(x) {
                t.set_requests(*n);
            }
        }
        let total = sent.values().sum();
        self.all.set_requests(total);
        self
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a summary serializes")
    }

    /// A few lines for people.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<10} {:>8} {:>8} {:>8} {:>12} {:>9} {:>7} {:>8}\n",
            "exchange",
            "total",
            "revoked",
            "disabled",
            "already_dead",
            "escalated",
            "failed",
            "pending"
        );
        let row = |name: &str, t: &Tally| {
            format!(
                "{:<10} {:>8} {:>8} {:>8} {:>12} {:>9} {:>7} {:>8}\n",
                name,
                t.total,
                t.revoked,
                t.disabled,
                t.already_dead,
                t.escalated,
                t.failed,
                t.pending
            )
        };
        for (x, t) in &self.by_exchange {
            out.push_str(&row(x, t));
        }
        out.push_str(&row("all", &self.all));
        out
    }
}
