//! keyrevoke core: the revocation job model shared by every other crate.
//!
//! Core knows no exchange. Connectors implement [`Connector`]; the executor
//! drives them through it; the journal and the audit implement [`JobStore`]
//! and [`AuditSink`].

pub mod config;
pub mod connector;
pub mod discovery;
pub mod endpoint;
pub mod error;
pub mod exchange;
pub mod http;
pub mod inventory;
pub mod key;
pub mod model;
pub mod rotation;
pub mod secret;
pub mod sign;
pub mod store;

pub use connector::{Charge, Connector, Liveness, Operation, Probe, Reply, Tier, TierScope, Usage};
pub use error::{ConnectorError, Failure};
pub use exchange::{ExchangeId, ExchangeName, ExchangeSet};
pub use key::{Caller, Credential, CredentialRole, KeyJob, KeyMaterial, is_shared_account};
pub use model::{Action, Capability, Channel, Outcome, Route, State};
pub use secret::{Fingerprint, Secret, mask_key};
pub use store::{AuditEvent, AuditSink, EntryId, JobEntry, JobStore, StoreError};
