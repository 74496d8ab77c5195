//! The panic plan: per exchange and credential, the keys found, those
//! spared, and the channel each of the others will be tried by first; then
//! what happens to the credentials themselves.

use keyrevoke_core::{Channel, ExchangeId};
use serde::Serialize;
use std::collections::BTreeMap;

/// One discovered key, as the plan and the summary show it: masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShownKey {
    pub exchange: ExchangeId,
    pub key: String,
    pub account: Option<String>,
    pub credential: Option<String>,
    pub label: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct CredentialPlan {
    pub exchange: Option<ExchangeId>,
    pub found: u64,
    pub spared: u64,
    /// Keys to revoke, by the channel tried first.
    pub channels: BTreeMap<Channel, u64>,
    /// Why nothing could be listed (no list endpoint, a refusal).
    pub not_listed: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct PanicPlan {
    pub by_credential: BTreeMap<String, CredentialPlan>,
    /// What happens to each credential itself.
    pub credentials: BTreeMap<String, String>,
    /// `--spare` values that name no key found (nor a credential).
    pub unmatched_spares: Vec<String>,
}

impl PanicPlan {
    pub fn render(&self) -> String {
        let mut out = String::from(
            "Plan (per credential: keys found under it, spared, and the channel tried first):\n",
        );
        for (name, c) in &self.by_credential {
            let x = c.exchange.map(|x| x.to_string()).unwrap_or_default();
            match &c.not_listed {
                Some(why) => out.push_str(&format!("  {x:<9} {name}: nothing listed: {why}\n")),
                None => {
                    let channels: Vec<String> = c
                        .channels
                        .iter()
                        .map(|(ch, n)| format!("{ch} {n}"))
                        .collect();
                    out.push_str(&format!(
                        "  {x:<9} {name}: {} found, {} spared{}{}\n",
                        c.found,
                        c.spared,
                        if channels.is_empty() { "" } else { "; " },
                        channels.join(", ")
                    ));
                }
            }
        }
        for (name, what) in &self.credentials {
            out.push_str(&format!("  credential {name}: {what}\n"));
        }
        out
    }
}
