//! keyrevoke as a library: the executor run from code on an inventory, with
//! a connector of your own beside the built-in ones.
//!
//!     cargo run --example library
//!
//! It starts the simulator in this process (loopback only), so it needs no
//! exchange account and finishes in a few seconds. The extension points it
//! shows:
//!
//! - [`Connector`]: one per exchange. A connector turns "delete this key"
//!   into signed requests and the replies into outcomes; the executor owns
//!   time (rate limits, retries, backoff), the journal and the audit. Here,
//!   `HouseExchange` stands for an in-house venue reached through a client
//!   library, under an exchange id of its own (`house`): registering its
//!   name with the built-in ones ([`ExchangeSet::with`]) is all it takes for
//!   inventories and configs to accept it; core is not edited.
//! - [`KeySource`]: where the executor reads each key (and its secret) when
//!   its turn comes. `InventorySource` reads the inventory file again.
//! - [`JobStore`] and [`AuditSink`]: the journal (SQLite or PostgreSQL) and
//!   the audit trail; any implementation of the traits will do.
//! - The report: `report::write` for any journal, at the end of a run or later.

use async_trait::async_trait;
use keyrevoke::app::plan::Planner;
use keyrevoke::app::registry;
use keyrevoke::app::report::{self, AuditSource, Sources};
use keyrevoke::app::source::InventorySource;
use keyrevoke::app::summary::Summary;
use keyrevoke::audit::AuditLog;
use keyrevoke::core::config::Config;
use keyrevoke::core::connector::EscalationContact;
use keyrevoke::core::error::ReplyMeta;
use keyrevoke::core::inventory::Inventory;
use keyrevoke::core::{
    AuditSink, Capability, Charge, Connector, ConnectorError, ExchangeId, ExchangeName,
    ExchangeSet, Failure, JobStore, KeyJob, Operation, Probe, Reply, Route, Tier, TierScope,
};
use keyrevoke::executor::progress::Progress;
use keyrevoke::executor::{CancellationToken, Executor, Parts, RunEnd, Settings};
use keyrevoke::sim::SimConfig;
use keyrevoke::sim::generate::Population;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A venue whose keys live behind a client library: here, a set in memory.
struct HouseExchange {
    live_keys: Mutex<HashSet<String>>,
}

/// The venue documents 5 key deletions per second per IP. The executor
/// spaces requests by these tiers; the report draws them as the limit line.
static TIERS: [Tier; 1] = [Tier {
    name: "ip",
    scope: TierScope::Ip,
    capacity: 5,
    period: Duration::from_secs(1),
}];
static ONE_REQUEST: [Charge; 1] = [Charge {
    tier: "ip",
    weight: 1,
}];
static CAPABILITIES: [Capability; 3] = [
    Capability::DeleteSelf,
    Capability::Probe,
    Capability::Escalate,
];

/// The in-house venue's id, as inventories name it.
const HOUSE: ExchangeName = ExchangeName::new("house", &[]);

#[async_trait]
impl Connector for HouseExchange {
    fn exchange(&self) -> ExchangeId {
        HOUSE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    /// Strongest channel first; escalation when none is left.
    fn routes(&self, job: &KeyJob) -> Vec<Route> {
        if job.has_secret() {
            vec![Route::DeleteSelf, Route::Escalate]
        } else {
            vec![Route::Escalate]
        }
    }

    fn tiers(&self) -> &'static [Tier] {
        &TIERS
    }

    fn charges(&self, op: Operation) -> &'static [Charge] {
        match op {
            Operation::Route(Route::Escalate) | Operation::ClockSync => &[],
            _ => &ONE_REQUEST,
        }
    }

    /// One attempt, no retry or sleep: the executor decides what follows
    /// from the error's kind (transient, rate-limited, key dead, ...).
    async fn perform(&self, route: Route, job: &KeyJob) -> Result<Reply, Failure> {
        if route != Route::DeleteSelf {
            return Err(Failure::local(ConnectorError::Unsupported(format!(
                "{route} is not offered"
            ))));
        }
        let removed = self.live_keys.lock().unwrap().remove(&job.key.api_key);
        if removed {
            Ok(Reply {
                meta: ReplyMeta {
                    http_status: Some(200),
                    code: Some("0".into()),
                    message: Some("key deleted".into()),
                },
                usage: Vec::new(),
            })
        } else {
            Err(Failure::local(ConnectorError::KeyDead(
                "no such key".into(),
            )))
        }
    }

    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let meta = ReplyMeta::default();
        Ok(
            if self.live_keys.lock().unwrap().contains(&job.key.api_key) {
                Probe::alive(vec!["trade".into()], &["withdraw"], meta)
            } else {
                Probe::dead(meta)
            },
        )
    }

    async fn sync_clock(&self) -> Result<(), Failure> {
        Ok(())
    }

    fn escalation_contact(&self) -> EscalationContact {
        EscalationContact {
            security_team: "the venue's security desk",
            api_management_page: "the venue's API key settings",
        }
    }
}

/// A breach on two simulated exchanges plus the in-house venue, written as
/// an inventory and a config in `dir`. Returns the in-house venue's keys.
async fn breach_inputs(dir: &Path) -> (keyrevoke::sim::SimHandle, Vec<String>) {
    let exchanges = [ExchangeId::new("bybit"), ExchangeId::new("okx")];
    let sim = keyrevoke::sim::start(SimConfig {
        exchanges: exchanges.to_vec(),
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts on loopback");
    let population = Population::breach(&exchanges, 30, 2024);
    population.load_into(&sim);
    let house_keys: Vec<String> = (0..5).map(|i| format!("HOUSE-KEY-{i:04}")).collect();
    let mut csv = population.inventory_csv();
    for (i, key) in house_keys.iter().enumerate() {
        csv.push_str(&format!("house,{key},house-secret-{i},,,,desk-{i}\n"));
    }
    std::fs::write(dir.join("inventory.csv"), csv).expect("inventory written");
    std::fs::write(dir.join("config.toml"), population.config_toml(&sim.urls))
        .expect("config written");
    (sim, house_keys)
}

/// Validate, enqueue, run the executor, write the report: what `keyrevoke
/// revoke` does, from code.
pub async fn run(dir: &Path) -> Summary {
    let (sim, house_keys) = breach_inputs(dir).await;
    let known: ExchangeSet = registry::exchanges().with(HOUSE);
    let config = Config::load(&dir.join("config.toml"), &known).expect("a valid config");

    let mut connectors = registry::connectors(&config).expect("built-in connectors");
    connectors.insert(
        HOUSE.id,
        Arc::new(HouseExchange {
            live_keys: Mutex::new(house_keys.into_iter().collect()),
        }),
    );

    let inventory = Inventory::open(&dir.join("inventory.csv"), &known).expect("an inventory");
    let source = Arc::new(InventorySource::new(inventory, &config));
    let planner = Planner {
        source: &source,
        connectors: &connectors,
        skip: None,
        complete: None,
    };
    let plan = planner.validate().expect("the inventory reads");
    assert_eq!(plan.invalid_rows, 0, "{}", plan.render_problems());
    println!("{}", plan.render());

    let store: Arc<dyn JobStore> = Arc::new(
        keyrevoke::journal::SqliteJournal::open(&dir.join("journal.sqlite"))
            .await
            .expect("a journal"),
    );
    planner.enqueue(store.as_ref()).await.expect("enqueued");
    let audit_path = dir.join("audit.jsonl");
    let (audit, _) = AuditLog::open(&audit_path, None).expect("an audit trail");
    let audit = Arc::new(audit);

    // Progress counts (for a progress bar of your own) start at the job's size.
    let counts = store.counts().await.expect("counts");
    let to_do: BTreeMap<ExchangeId, u64> = counts
        .by_exchange
        .iter()
        .filter_map(|(x, states)| Some((ExchangeId::stored(x)?, states.values().sum())))
        .collect();
    let audit_sink: Arc<dyn AuditSink> = audit.clone();
    let executor = Arc::new(Executor::new(Parts {
        connectors: connectors.clone(),
        egress: Default::default(),
        config: &config,
        settings: Settings::from_config(&config),
        store: store.clone(),
        audit: audit_sink,
        source,
        progress: Arc::new(Progress::new(&to_do)),
        cancel: CancellationToken::new(),
        budgets: Default::default(),
    }));
    let end = executor.run().await;
    assert_eq!(end, RunEnd::Finished);
    if let Ok(log) = Arc::try_unwrap(audit) {
        log.close().await.expect("the audit trail closes");
    }

    let written = report::write(
        dir,
        &Sources {
            command: "library example",
            store: store.as_ref(),
            journal_shown: dir.join("journal.sqlite").display().to_string(),
            audit: Some(AuditSource {
                path: audit_path,
                signing_key: None,
            }),
            connectors: &connectors,
        },
    )
    .await
    .expect("the report is written");
    sim.shutdown();
    println!("report: {}", written[1].display());
    Summary::from_counts(&store.counts().await.expect("counts"))
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let summary = run(dir.path()).await;
    print!("{}", summary.table());
}

#[cfg(test)]
mod tests {
    /// CI runs the example as a test: every key of every exchange, the
    /// in-house one included, ends neutralized or escalated.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_library_example_revokes_the_whole_inventory() {
        let dir = tempfile::tempdir().unwrap();
        let summary = super::run(dir.path()).await;
        let house = &summary.by_exchange["house"];
        assert_eq!((house.total, house.revoked), (5, 5), "{}", summary.table());
        assert_eq!(summary.all.total, 35);
        assert_eq!(summary.all.pending + summary.all.failed, 0);
        assert!(dir.path().join("report.html").exists());
    }
}
