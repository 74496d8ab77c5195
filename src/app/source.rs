//! Reads a journal entry's key again from the inventory when its turn comes,
//! so secrets live only as long as the work on that key.

use keyrevoke_core::config::Config;
use keyrevoke_core::inventory::{Inventory, Row};
use keyrevoke_core::store::JobEntry;
use keyrevoke_core::{Credential, ExchangeId, Fingerprint, KeyJob, Secret};
use keyrevoke_executor::KeySource;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub struct InventorySource {
    inventory: Inventory,
    credentials: BTreeMap<String, Arc<Credential>>,
    /// (exchange, api key) of every managing credential.
    protected: HashSet<(ExchangeId, String)>,
    /// Passphrases the rows leave out, by (exchange, api key): a rotation
    /// plan's, for old KuCoin keys, kept out of the file.
    passphrases: HashMap<(ExchangeId, String), Secret>,
}

impl InventorySource {
    pub fn new(inventory: Inventory, config: &Config) -> Self {
        let protected = config
            .credentials
            .values()
            .map(|c| (c.exchange, c.api_key.clone()))
            .collect();
        InventorySource {
            inventory,
            credentials: config.credentials.clone(),
            protected,
            passphrases: HashMap::new(),
        }
    }

    /// A source that fills in the passphrase of the rows that lack one.
    pub fn with_passphrases(mut self, passphrases: HashMap<(ExchangeId, String), Secret>) -> Self {
        self.passphrases = passphrases;
        self
    }

    /// A source whose rows may name the run's own credentials and act on
    /// them (`panic --include-self`, after everything else).
    pub fn acting_on_credentials(mut self) -> Self {
        self.protected.clear();
        self
    }

    /// The key a row describes, resolved: secrets read, credential found.
    /// Errors name the row's line and field.
    pub fn job_for(&self, row: &Row) -> Result<KeyJob, Vec<String>> {
        let path = self.inventory.path();
        let mut material = row
            .material(path)
            .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        if material.passphrase.is_none() {
            material.passphrase = self
                .passphrases
                .get(&(row.exchange, row.api_key.clone()))
                .cloned();
        }
        let via = match &row.via {
            None => None,
            Some(name) => match self.credentials.get(name) {
                None => {
                    return Err(vec![format!(
                        "{}:{}: field `via`: no credential named `{name}` in the config",
                        path.display(),
                        row.source.line
                    )]);
                }
                Some(c) if c.exchange != row.exchange => {
                    return Err(vec![format!(
                        "{}:{}: field `via`: credential `{name}` is for {}, the row is for {}",
                        path.display(),
                        row.source.line,
                        c.exchange,
                        row.exchange
                    )]);
                }
                Some(c) => Some(c.clone()),
            },
        };
        let mut job = KeyJob::new(material, via);
        job.protected = self
            .protected
            .contains(&(row.exchange, row.api_key.clone()));
        Ok(job)
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }
}

impl KeySource for InventorySource {
    fn load(&self, entry: &JobEntry) -> Result<KeyJob, String> {
        let row = self.inventory.row_at(entry.source).map_err(|e| {
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        if Fingerprint::of(&row.api_key) != entry.fingerprint || row.exchange != entry.exchange {
            return Err(format!(
                "{}:{}: the inventory changed since the job was planned (this row now holds another key); run again with the current inventory",
                self.inventory.path().display(),
                entry.source.line
            ));
        }
        self.job_for(&row).map_err(|e| e.join("; "))
    }
}
