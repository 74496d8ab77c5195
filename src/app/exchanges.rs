//! `keyrevoke exchanges`: what each connector can do, drawn from the code.

use super::registry;
use keyrevoke_core::config::Config;
use serde::Serialize;

#[derive(Serialize)]
pub struct ExchangeChannels {
    pub id: String,
    pub channels: Vec<String>,
}

/// Fails only when a `KEYREVOKE_<EXCHANGE>_URL` in the environment is not
/// a usable base URL (the message never shows a password it carries).
pub fn list() -> Result<Vec<ExchangeChannels>, String> {
    let connectors = registry::connectors(&Config::default())?;
    Ok(connectors
        .values()
        .map(|c| ExchangeChannels {
            id: c.exchange().to_string(),
            channels: c.capabilities().iter().map(|cap| cap.to_string()).collect(),
        })
        .collect())
}

/// A Markdown table, as the README shows it.
pub fn table() -> Result<String, String> {
    use keyrevoke_core::Capability;
    let mut out = String::from("| exchange |");
    for cap in Capability::ALL {
        out.push_str(&format!(" {cap} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Capability::ALL.len()));
    out.push('\n');
    for x in list()? {
        out.push_str(&format!("| {} |", x.id));
        for cap in Capability::ALL {
            let yes = x.channels.iter().any(|c| c == cap.as_str());
            out.push_str(if yes { " yes |" } else { " — |" });
        }
        out.push('\n');
    }
    Ok(out)
}
