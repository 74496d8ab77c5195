//! The run summary, from the journal: the whole job, not only this run.

use keyrevoke_core::State;
use keyrevoke_core::store::Counts;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub total: u64,
    pub revoked: u64,
    pub disabled: u64,
    pub already_dead: u64,
    pub escalated: u64,
    pub failed: u64,
    /// Keys without an outcome yet (an interrupted job).
    pub pending: u64,
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

    /// Keys a human must still look at.
    pub fn needs_human(&self) -> bool {
        self.escalated + self.failed > 0
    }
}

/// `{"total", "revoked", "disabled", "already_dead", "escalated", "failed",
/// "pending", "by_exchange": {...}}`: the `--json` contract.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
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
