//! An FTX key is never called: every route is escalation, with the reason.

use keyrevoke_core::{Connector, KeyJob, KeyMaterial, Liveness, Route, Secret};
use keyrevoke_ftx::{DEFUNCT_REASON, FtxConnector};

fn job() -> KeyJob {
    KeyJob::new(
        KeyMaterial {
            exchange: keyrevoke_ftx::EXCHANGE.id,
            api_key: "FTXKEY0000000000001".into(),
            api_secret: Some(Secret::from("ftx-secret")),
            passphrase: None,
            account: None,
            label: Some("alice".into()),
        },
        None,
    )
}

#[tokio::test]
async fn an_ftx_key_is_escalated_as_inert_without_any_request() {
    let c = FtxConnector;
    let j = job();
    assert_eq!(c.routes(&j), vec![Route::Escalate]);
    assert!(!c.can_probe(&j));
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::CannotTell);
    assert_eq!(c.escalation_reason(&j).as_deref(), Some(DEFUNCT_REASON));
    assert!(c.perform(Route::DeleteSelf, &j).await.is_err());
}
