//! keyrevoke's exchange simulator.
//!
//! Each exchange's dialect is served on its own loopback port, checking
//! signatures, timestamps and receive windows the way the exchange documents
//! them, holding key state, enforcing the documented rate limits and
//! injecting faults on demand. Tests, the demo and the benchmarks run against
//! it; real users point keyrevoke at real exchanges instead.
//!
//! Every port also serves `/__sim/…` for tests: `GET /__sim/stats` (the
//! counters, and each rate-limit tier's usage when limits are on),
//! `GET /__sim/keys/{api_key}`, `POST /__sim/keys` (a JSON array of keys),
//! `PUT /__sim/faults`, `POST /__sim/unban`.

pub mod conformance;
pub mod dialects;
pub mod faults;
pub mod generate;
pub mod keys;
pub mod limits;
pub mod outage;
pub mod stats;
pub mod testkit;
pub mod usage;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use faults::Faults;
use keyrevoke_core::ExchangeId;
use keys::{KeyStore, SimKey};
use rand::SeedableRng;
use rand::rngs::StdRng;
use stats::Stats;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How the simulator behaves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub exchanges: Vec<ExchangeId>,
    /// Enforce the documented rate limits.
    pub limits: bool,
    /// How long an IP ban lasts (the real exchanges: minutes; tests: less).
    pub ip_ban: Duration,
    pub faults: Faults,
    pub seed: u64,
    /// Address to bind (port 0 for any).
    pub bind: SocketAddr,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            exchanges: dialects::SUPPORTED.to_vec(),
            limits: true,
            ip_ban: Duration::from_secs(10),
            faults: Faults::default(),
            seed: 7,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// The state of one simulated exchange.
pub struct ExchangeSim {
    pub id: ExchangeId,
    pub keys: KeyStore,
    pub stats: Stats,
    pub faults: RwLock<Faults>,
    pub limits: bool,
    pub ip_ban: Duration,
    /// The exchange's per-IP limit, counted per client address.
    pub ip_window: limits::SlidingWindow,
    /// A scheduled outage, and request arrival times (tests).
    pub timeline: outage::Timeline,
    rng: Mutex<StdRng>,
}

/// The tier name of every exchange's per-IP window in `/__sim/stats`.
pub const IP_TIER: &str = "ip";

impl ExchangeSim {
    /// The meter a dialect's own limit named `tier` reports to.
    pub fn meter(&self, tier: &'static str) -> usage::TierMeter {
        self.stats.tiers.meter(tier)
    }

    fn new(id: ExchangeId, config: &SimConfig) -> Self {
        let stats = Stats::new(config.limits);
        let ip_meter = stats.tiers.meter(IP_TIER);
        ExchangeSim {
            id,
            keys: KeyStore::default(),
            stats,
            faults: RwLock::new(config.faults.clone()),
            limits: config.limits,
            ip_ban: config.ip_ban,
            ip_window: {
                let (capacity, period) = dialects::ip_limit(id);
                limits::SlidingWindow::new(capacity, period, config.ip_ban, ip_meter)
            },
            timeline: outage::Timeline::default(),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed ^ name_seed(id))),
        }
    }

    /// The exchange's clock, in Unix ms (ours plus the injected skew).
    pub fn now_ms(&self) -> i64 {
        keyrevoke_core::http::unix_ms() + self.faults.read().unwrap().clock_skew_ms
    }

    pub fn fault_before(&self) -> faults::Before {
        let f = self.faults.read().unwrap();
        if !f.any() {
            return faults::Before::Proceed;
        }
        f.before(&mut *self.rng.lock().unwrap())
    }

    /// Whether an acted-on key deletion is answered with an injected 504.
    pub fn delete_times_out(&self) -> bool {
        let f = self.faults.read().unwrap();
        f.gateway_timeout_after_delete > 0.0 && f.times_out_delete(&mut *self.rng.lock().unwrap())
    }

    pub fn fault_after(&self) -> faults::After {
        let f = self.faults.read().unwrap();
        if !f.any() {
            return faults::After::Reply;
        }
        f.after(&mut *self.rng.lock().unwrap())
    }

    /// The live key a request names; a key never issued or deleted since is
    /// counted as unknown.
    pub fn live_key(&self, api_key: &str) -> Option<SimKey> {
        let key = self.keys.get(api_key).filter(SimKey::is_alive);
        if key.is_none() {
            Stats::bump(&self.stats.unknown_key);
        }
        key
    }

    /// A fresh random token of `len` characters (letters and digits), as a
    /// create call issues for a new key's id or secret.
    pub fn mint_token(&self, len: usize) -> String {
        use rand::Rng;
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = self.rng.lock().unwrap();
        (0..len)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    }

    /// Create a key of sub account `uid` (named `sub_name` where the
    /// exchange names them) under `master`, shaped as `shape`, as each
    /// dialect's create call does: a fresh id and secret, created now,
    /// held alive, and counted.
    pub fn create_sub_key(
        &self,
        master: &SimKey,
        uid: &str,
        sub_name: Option<&str>,
        shape: keys::NewKeyShape,
    ) -> SimKey {
        // The simulator's tokens come from a seeded generator, as the
        // population's may: never reuse an id the store already holds.
        let api_key = loop {
            let token = self.mint_token(shape.api_key_len);
            if self.keys.get(&token).is_none() {
                break token;
            }
        };
        let key = SimKey {
            api_key,
            secret: self.mint_token(shape.secret_len),
            passphrase: shape.passphrase,
            uid: uid.to_string(),
            parent_uid: Some(master.uid.clone()),
            sub_name: sub_name.map(str::to_string),
            label: Some(shape.label),
            permissions: shape.permissions,
            read_only: shape.read_only,
            ips: if shape.ips.is_empty() {
                vec!["*".into()]
            } else {
                shape.ips
            },
            state: keys::KeyState::Alive,
            disabled: false,
            created_at_ms: self.now_ms(),
        };
        self.keys.insert(key.clone());
        Stats::bump(&self.stats.creates);
        key
    }

    /// Delete a key, as each dialect's delete call does, and count it.
    pub fn delete_key(&self, api_key: &str) {
        self.keys
            .update(api_key, |k| k.state = keys::KeyState::Deleted);
        Stats::bump(&self.stats.deletes);
        self.timeline.deleted(api_key);
    }
}

/// A stable number from an exchange's id (FNV-1a), so that each exchange
/// draws its own faults from one run's seed.
fn name_seed(id: ExchangeId) -> u64 {
    id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A running simulator.
pub struct SimHandle {
    pub urls: BTreeMap<ExchangeId, String>,
    pub exchanges: BTreeMap<ExchangeId, Arc<ExchangeSim>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    pub fn exchange(&self, id: ExchangeId) -> &Arc<ExchangeSim> {
        &self.exchanges[&id]
    }

    /// The base URLs as a JSON object, e.g. `{"bybit":"http://127.0.0.1:40123"}`.
    pub fn urls_json(&self) -> String {
        let map: BTreeMap<&str, &str> = self
            .urls
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        serde_json::to_string(&map).expect("a map of strings serializes")
    }

    pub fn shutdown(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Start one listener per exchange.
pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
    let mut urls = BTreeMap::new();
    let mut exchanges = BTreeMap::new();
    let mut tasks = Vec::new();
    for (i, id) in config.exchanges.iter().enumerate() {
        let Some(dialect_router) = dialects::router_for(*id) else {
            return Err(std::io::Error::other(format!(
                "the simulator has no dialect for {id}"
            )));
        };
        let sim = Arc::new(ExchangeSim::new(*id, &config));
        let app = Router::new()
            .route("/__sim/stats", get(admin_stats))
            .route("/__sim/keys", post(admin_add_keys))
            .route("/__sim/keys/{api_key}", get(admin_key))
            .route("/__sim/faults", put(admin_faults))
            .route("/__sim/unban", post(admin_unban))
            .with_state(sim.clone())
            .merge(dialect_router(sim.clone()));
        let mut bind = config.bind;
        if bind.port() != 0 {
            bind.set_port(bind.port() + i as u16);
        }
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        urls.insert(*id, format!("http://{addr}"));
        exchanges.insert(*id, sim);
        tasks.push(tokio::spawn(async move {
            // With each connection's address: IP limits count per client.
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, service).await;
        }));
    }
    Ok(SimHandle {
        urls,
        exchanges,
        tasks,
    })
}

async fn admin_stats(State(sim): State<Arc<ExchangeSim>>) -> Response {
    Json(sim.stats.snapshot()).into_response()
}

async fn admin_add_keys(
    State(sim): State<Arc<ExchangeSim>>,
    Json(keys): Json<Vec<SimKey>>,
) -> Response {
    let n = keys.len();
    for k in keys {
        sim.keys.insert(k);
    }
    Json(serde_json::json!({ "added": n })).into_response()
}

async fn admin_key(State(sim): State<Arc<ExchangeSim>>, Path(api_key): Path<String>) -> Response {
    match sim.keys.get(&api_key) {
        // The simulator's own test keys only: never real secrets.
        Some(k) => Json(k).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn admin_faults(State(sim): State<Arc<ExchangeSim>>, Json(f): Json<Faults>) -> Response {
    *sim.faults.write().unwrap() = f;
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_unban(State(sim): State<Arc<ExchangeSim>>) -> Response {
    sim.ip_window.unban();
    StatusCode::NO_CONTENT.into_response()
}
