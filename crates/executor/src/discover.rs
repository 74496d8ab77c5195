//! Discovery calls: one page of a managing credential's listing, made as a
//! single call (see [`crate::calls`]): paid from the credential's account
//! and the IP, held by the same pauses, audited, and retried as a read may
//! be (a listing changes nothing, so a reply lost on the way is simply
//! asked again). The caller journals each page before it asks for the next.

use crate::calls::{Call, CallError};
use crate::{Executor, RunEnd};
use keyrevoke_core::discovery::{Page, PageRequest};
use keyrevoke_core::{Action, Credential, Failure, KeyJob, KeyMaterial, Operation};
use std::sync::Arc;

/// Why a page could not be listed.
#[derive(Debug)]
pub enum ListError {
    /// The exchange refused (no permission, an invalid credential, no list
    /// endpoint) or kept failing: this credential's discovery stops; the
    /// rest of the run goes on.
    Refused(Failure),
    /// The run was interrupted, or cannot go on (the audit cannot be
    /// written).
    Stopped(RunEnd),
}

/// The credential as the key its own calls are made by: it spends its own
/// account's budget, as when it deletes a sub key.
pub fn acting_credential(cred: &Arc<Credential>) -> KeyJob {
    KeyJob::new(
        KeyMaterial {
            exchange: cred.exchange,
            api_key: cred.api_key.clone(),
            api_secret: None,
            passphrase: None,
            account: None,
            label: None,
        },
        Some(cred.clone()),
    )
}

impl Executor {
    /// List one page for `cred`.
    pub async fn list_page(
        &self,
        cred: &Arc<Credential>,
        request: &PageRequest,
    ) -> Result<Page, ListError> {
        let job = acting_credential(cred);
        let call = Call {
            job: &job,
            op: Operation::List(request.kind),
            action: Action::Discover,
            what: format!("listed {}", request.describe()),
            repeatable: true,
        };
        self.call(&call, |conn| {
            let (cred, request) = (cred.clone(), request.clone());
            async move { conn.discover(&cred, &request).await }
        })
        .await
        .map_err(|e| match e {
            CallError::Failed(f) => ListError::Refused(f),
            CallError::Stopped(end) => ListError::Stopped(end),
        })
    }
}
