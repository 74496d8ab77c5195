//! Where each key's rotation stands, recorded in the job's journal before
//! and after every step (named records, `rotate:<exchange>/<label>`), so
//! that a run killed anywhere resumes where it stopped. It holds key ids,
//! the new key's label at the exchange and reasons: never a secret.

use keyrevoke_core::{ExchangeId, JobStore, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

const PREFIX: &str = "rotate:";

/// A rotation's steps, in order (AWS Secrets Manager's create, set, test,
/// finish, with the old key's deletion last).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Nothing under way: the key in `current` is the one in service.
    Idle,
    /// A create is about to be sent, or was sent: a key labelled `tag` may
    /// exist whose secret nobody holds.
    Creating,
    /// The exchange made `new_key`; its secret is held in memory only.
    Created,
    /// The new secret is in the sink as pending.
    Stored,
    /// The new key answered a signed read with its own secret.
    Tested,
    /// The sink serves the new secret as current; the old key is still
    /// alive until it is deleted.
    Promoted,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub step: Step,
    /// The key in service for this label (the plan's, until a rotation
    /// of it finished).
    pub current: String,
    /// The tag the key in service was created with, when a rotation made
    /// it: its passphrase derives from it (see `steps::passphrase_for`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_tag: Option<String>,
    /// The label the new key was given at the exchange (`kr…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key: Option<String>,
    /// Rotations finished for this label.
    #[serde(default)]
    pub rotations: u32,
    /// Why the last attempt stopped, for the summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl Record {
    pub fn fresh(current: &str) -> Record {
        Record {
            step: Step::Idle,
            current: current.to_string(),
            current_tag: None,
            tag: None,
            new_key: None,
            rotations: 0,
            why: None,
        }
    }
}

pub fn name(exchange: ExchangeId, label: &str) -> String {
    format!("{PREFIX}{exchange}/{label}")
}

/// Every key's record in the journal.
pub async fn load(store: &dyn JobStore) -> Result<HashMap<String, Record>, StoreError> {
    let mut out = HashMap::new();
    for (n, value) in store.records(PREFIX).await? {
        let record: Record = serde_json::from_str(&value)
            .map_err(|e| StoreError::Journal(format!("record {n}: {e}")))?;
        out.insert(n, record);
    }
    Ok(out)
}

/// Record where `exchange`/`label` stands, durably, before going on.
pub async fn put(
    store: &dyn JobStore,
    exchange: ExchangeId,
    label: &str,
    record: &Record,
) -> Result<(), StoreError> {
    let value = serde_json::to_string(record).expect("a record serializes");
    store.put_record(&name(exchange, label), &value).await
}
