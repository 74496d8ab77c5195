//! Where a panic run's keys are read back when their turn comes: the
//! discovered keys (no secret: their credential acts on them), completed
//! from `--inventory` when it holds material for them (a KuCoin sub key's
//! passphrase, say), and with `--include-self`, the credentials themselves,
//! their secrets taken from the config.

use crate::app::source::InventorySource;
use keyrevoke_core::inventory::{Inventory, Row};
use keyrevoke_core::store::{JobEntry, SourceRef};
use keyrevoke_core::{Credential, ExchangeId, Fingerprint, KeyJob};
use keyrevoke_executor::KeySource;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// `--inventory`: the file, and where each key's row is in it.
pub struct Material {
    pub inventory: Inventory,
    pub rows: HashMap<(ExchangeId, String), SourceRef>,
}

pub struct PanicSource {
    /// Set once discovery is complete (the executor is built before it).
    discovered: OnceLock<Arc<InventorySource>>,
    /// Set before the credentials' own turn (`--include-self`).
    credentials_file: OnceLock<Arc<InventorySource>>,
    /// The credentials by their key's fingerprint.
    credentials: HashMap<Fingerprint, Arc<Credential>>,
    /// `--inventory`: rows by (exchange, api key).
    material: Option<Material>,
}

impl PanicSource {
    pub fn new(
        credentials: impl IntoIterator<Item = Arc<Credential>>,
        material: Option<Material>,
    ) -> Self {
        PanicSource {
            discovered: OnceLock::new(),
            credentials_file: OnceLock::new(),
            credentials: credentials
                .into_iter()
                .map(|c| (Fingerprint::of(&c.api_key), c))
                .collect(),
            material,
        }
    }

    pub fn set_discovered(&self, source: Arc<InventorySource>) {
        let _ = self.discovered.set(source);
    }

    pub fn set_credentials_file(&self, source: Arc<InventorySource>) {
        let _ = self.credentials_file.set(source);
    }

    /// Fill a discovered key's missing secret and passphrase from the
    /// `--inventory` row for the same key.
    pub fn complete(&self, job: &mut KeyJob) -> Result<(), String> {
        let Some(Material { inventory, rows }) = &self.material else {
            return Ok(());
        };
        let Some(at) = rows.get(&(job.key.exchange, job.key.api_key.clone())) else {
            return Ok(());
        };
        let row: Row = inventory.row_at(*at).map_err(join)?;
        let material = row.material(inventory.path()).map_err(join)?;
        if job.key.api_secret.is_none() {
            job.key.api_secret = material.api_secret;
        }
        if job.key.passphrase.is_none() {
            job.key.passphrase = material.passphrase;
        }
        Ok(())
    }
}

fn join(errors: Vec<keyrevoke_core::inventory::InputError>) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl KeySource for PanicSource {
    fn load(&self, entry: &JobEntry) -> Result<KeyJob, String> {
        if let Some(cred) = self.credentials.get(&entry.fingerprint) {
            // `--include-self`: the credential acts on itself, with its own
            // secret from the config.
            let file = self
                .credentials_file
                .get()
                .ok_or("a credential was enqueued without --include-self")?;
            let mut job = file.load(entry)?;
            job.key.api_secret = Some(cred.api_secret.clone());
            job.key.passphrase = cred.passphrase.clone();
            job.protected = false;
            return Ok(job);
        }
        let discovered = self
            .discovered
            .get()
            .ok_or("a key was enqueued before discovery finished")?;
        let mut job = discovered.load(entry)?;
        self.complete(&mut job)?;
        Ok(job)
    }
}
