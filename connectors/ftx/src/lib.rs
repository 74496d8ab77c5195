//! FTX connector.
//!
//! FTX filed for Chapter 11 in November 2022 and its API went down with it
//! (see the project's exchange notes, `exchanges/ftx.md`). There is nothing
//! to call: an FTX key in an inventory is inert. keyrevoke accepts `ftx` rows
//! so that an operator's inventory does not fail on them, never sends a
//! request, and records each key as escalated with the reason below.

pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod sign;

use async_trait::async_trait;
use keyrevoke_core::connector::EscalationContact;
use keyrevoke_core::exchange::ExchangeName;
use keyrevoke_core::{
    Capability, Charge, Connector, ConnectorError, ExchangeId, Failure, KeyJob, Operation, Probe,
    Reply, Route, Tier,
};

pub const DEFUNCT_REASON: &str = "exchange defunct since November 2022";

/// FTX's ccxt id.
pub const EXCHANGE: ExchangeName = ExchangeName::new("ftx", &[]);

#[derive(Default)]
pub struct FtxConnector;

static CAPABILITIES: [Capability; 1] = [Capability::Escalate];

#[async_trait]
impl Connector for FtxConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    fn routes(&self, _job: &KeyJob) -> Vec<Route> {
        vec![Route::Escalate]
    }

    fn tiers(&self) -> &'static [Tier] {
        &limits::TIERS
    }

    fn charges(&self, _op: Operation) -> &'static [Charge] {
        &[]
    }

    fn can_probe(&self, _job: &KeyJob) -> bool {
        false
    }

    async fn perform(&self, route: Route, _job: &KeyJob) -> Result<Reply, Failure> {
        Err(Failure::local(ConnectorError::Unsupported(format!(
            "{DEFUNCT_REASON}: no `{route}` call exists"
        ))))
    }

    async fn probe(&self, _job: &KeyJob) -> Result<Probe, Failure> {
        Ok(Probe::cannot_tell())
    }

    async fn sync_clock(&self) -> Result<(), Failure> {
        Ok(())
    }

    fn escalation_contact(&self) -> EscalationContact {
        EscalationContact {
            security_team: "FTX Trading Ltd. (in Chapter 11; the estate's claims portal)",
            api_management_page: "none: the exchange is defunct",
        }
    }

    fn escalation_reason(&self, _job: &KeyJob) -> Option<String> {
        Some(DEFUNCT_REASON.to_string())
    }
}
