//! Rotation: the master reads a sub-account key's shape with the sub-key
//! query, creates the replacement with `POST /api/v5/users/subaccount/apikey`
//! under a passphrase the rotation chose, and the new key tests itself with
//! `account/config` (see `endpoints.rs` for the sources).
//!
//! Permissions travel as OKX's `perm` names (`read_only`, `trade`), which
//! the query shows and the create takes back.

use crate::sign::Signer;
use crate::{OkxConnector, endpoints, has_value};
use keyrevoke_core::error::SignedBy;
use keyrevoke_core::rotation::{CreateKey, Created, Described, KeyShape, NewKey, listed_key};
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure, Reply, Secret};
use serde::Serialize;
use serde_json::Value;

/// The create body, in the docs' order; `perm` and `ip` left out when empty.
#[derive(Serialize)]
struct CreateBody<'a> {
    #[serde(rename = "subAcct")]
    sub_acct: &'a str,
    label: &'a str,
    passphrase: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    perm: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    ip: String,
}

/// The master's signer: only a master account's key manages its
/// sub-accounts' keys through these endpoints (an ND broker's have their
/// own, which rotation does not use), and OKX signs with its passphrase.
fn master_signer(cred: &Credential) -> Result<Signer<'_>, Failure> {
    if cred.role != CredentialRole::Master {
        return Err(Failure::local(ConnectorError::Unsupported(format!(
            "credential `{}` is a broker credential; OKX sub keys are rotated by a master key",
            cred.name
        ))));
    }
    match cred.passphrase.as_ref().filter(|p| has_value(Some(p))) {
        Some(passphrase) => Ok(Signer {
            api_key: &cred.api_key,
            secret: &cred.api_secret,
            passphrase,
        }),
        None => Err(Failure::local(ConnectorError::Unsupported(format!(
            "credential `{}` has no passphrase, which OKX requires on every private call",
            cred.name
        )))),
    }
}

impl OkxConnector {
    pub(crate) async fn describe_sub_key(
        &self,
        cred: &Credential,
        sub_acct: &str,
        api_key: &str,
    ) -> Result<Described, Failure> {
        let query = endpoints::sub_key_query(sub_acct, api_key);
        let answer = self
            .call(
                master_signer(cred)?,
                SignedBy::ManagingCredential,
                &endpoints::QUERY_SUB_KEY,
                &query,
                None,
            )
            .await?;
        let k = listed_key(
            &answer.data,
            "apiKey",
            api_key,
            sub_acct,
            &answer.reply.meta,
        )?;
        Ok(Described {
            shape: shape_of(k),
            reply: answer.reply,
        })
    }

    pub(crate) async fn create_sub_key(
        &self,
        cred: &Credential,
        req: &CreateKey,
    ) -> Result<Created, Failure> {
        let signer = master_signer(cred)?;
        let Some(passphrase) = req.passphrase.as_ref() else {
            return Err(Failure::local(ConnectorError::Permanent {
                code: "passphrase_required".into(),
                message: "OKX asks the creator for the new key's passphrase; none was chosen"
                    .into(),
            }));
        };
        let body = create_body(req, passphrase);
        let answer = self
            .call(
                signer,
                SignedBy::ManagingCredential,
                &endpoints::CREATE_SUB_KEY,
                "",
                Some(&body),
            )
            .await?;
        let created = &answer.data[0];
        let field = |name: &str| created[name].as_str().filter(|v| !v.is_empty());
        let (Some(api_key), Some(secret)) = (field("apiKey"), field("secretKey")) else {
            // Accepted, yet without the key: it may exist, found again by
            // its label.
            return Err(Failure::new(
                ConnectorError::OutcomeUnknown(
                    "the create was accepted but its reply holds no apiKey and secretKey".into(),
                ),
                answer.reply.meta,
            ));
        };
        Ok(Created {
            key: NewKey {
                api_key: api_key.to_string(),
                api_secret: Secret::from(secret),
                passphrase: Some(passphrase.clone()),
                account: req.account.clone(),
                created_at_ms: created_at_ms(created),
            },
            reply: answer.reply,
        })
    }

    pub(crate) async fn test_new_key(&self, key: &NewKey) -> Result<Reply, Failure> {
        let Some(passphrase) = key.passphrase.as_ref() else {
            return Err(Failure::local(ConnectorError::Permanent {
                code: "passphrase_required".into(),
                message: "an OKX key signs with its passphrase; the new key has none".into(),
            }));
        };
        let signer = Signer {
            api_key: &key.api_key,
            secret: &key.api_secret,
            passphrase,
        };
        let answer = self
            .call(
                signer,
                SignedBy::TargetKey,
                &endpoints::ACCOUNT_CONFIG,
                "",
                None,
            )
            .await?;
        Ok(answer.reply)
    }
}

fn created_at_ms(k: &Value) -> Option<i64> {
    k["ts"].as_str().and_then(|ts| ts.parse().ok())
}

/// A queried key's shape: `perm` split and sorted, `ip` split, `label`,
/// `ts` (Unix ms, a string). Read-only when it holds neither `trade` nor
/// `withdraw`.
pub fn shape_of(k: &Value) -> KeyShape {
    let permissions = endpoints::permission_names(k["perm"].as_str().unwrap_or(""));
    let read_only = !permissions.iter().any(|p| p == "trade" || p == "withdraw");
    KeyShape {
        read_only,
        permissions,
        ips: keyrevoke_core::connector::permission_list(k["ip"].as_str().unwrap_or("")),
        created_at_ms: created_at_ms(k),
        label: k["label"]
            .as_str()
            .filter(|l| !l.is_empty())
            .map(str::to_string),
    }
}

pub fn create_body(req: &CreateKey, passphrase: &Secret) -> String {
    serde_json::to_string(&CreateBody {
        sub_acct: &req.account,
        label: &req.label,
        passphrase: passphrase.expose(),
        perm: req.shape.permissions.join(","),
        ip: req.shape.ips.join(","),
    })
    .expect("strings serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_queried_key_reads_as_its_shape() {
        // The fields of the sub-key query's reply (label, apiKey, perm, ip, ts).
        let shape = shape_of(&json!({
            "label": "bot-17",
            "apiKey": "k-1",
            "perm": "trade,read_only",
            "ip": "1.1.1.1,2.2.2.2",
            "ts": "1700000000123",
        }));
        assert_eq!(shape.permissions, ["read_only", "trade"]);
        assert_eq!(shape.ips, ["1.1.1.1", "2.2.2.2"]);
        assert!(!shape.read_only);
        assert_eq!(shape.label.as_deref(), Some("bot-17"));
        assert_eq!(shape.created_at_ms, Some(1_700_000_000_123));
        let read_only = shape_of(&json!({ "perm": "read_only", "ip": "" }));
        assert!(read_only.read_only && read_only.ips.is_empty());
    }

    #[test]
    fn the_create_body_names_the_sub_account_label_passphrase_perm_and_ips() {
        let req = |ips: &[&str]| CreateKey {
            account: "botsub001".into(),
            shape: KeyShape {
                permissions: vec!["read_only".into(), "trade".into()],
                ips: ips.iter().map(|s| s.to_string()).collect(),
                ..KeyShape::default()
            },
            label: "rotated-bot-17".into(),
            passphrase: None,
        };
        let pass = Secret::from("Aa1!aaaaaaaa");
        assert_eq!(
            create_body(&req(&["1.1.1.1", "2.2.2.2"]), &pass),
            r#"{"subAcct":"botsub001","label":"rotated-bot-17","passphrase":"Aa1!aaaaaaaa","perm":"read_only,trade","ip":"1.1.1.1,2.2.2.2"}"#
        );
        let unbound: Value = serde_json::from_str(&create_body(&req(&[]), &pass)).unwrap();
        assert!(unbound.get("ip").is_none(), "{unbound}");
    }
}
