//! Rotation: the master reads a sub key's shape from its sub account's key
//! list, creates the replacement with `POST /api/v1/sub/api-key` under a
//! passphrase the rotation chose, and the new key tests itself with
//! `GET /api/v1/user/api-key` (see `endpoints.rs` for the sources).
//!
//! Permissions travel as KuCoin's names (`General`, `Spot`, `Futures`…),
//! which the list shows and the create takes back. KuCoin's lists show an
//! IP whitelist masked (`203.**.154`): a key bound to IPs cannot be copied
//! from what the exchange shows, so its create is refused here, before
//! anything is sent, and the old key stays as it is.

use crate::endpoints;
use crate::{Caller, KucoinConnector};
use keyrevoke_core::error::SignedBy;
use keyrevoke_core::rotation::{CreateKey, Created, Described, KeyShape, NewKey, listed_key};
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure, Reply, Secret};
use serde_json::{Value, json};

/// The longest remark (label) the create takes: "Remarks (1~24 characters)".
pub const MAX_REMARK_CHARS: usize = 24;

fn master_caller(cred: &Credential) -> Result<Caller<'_>, Failure> {
    let unsupported = |why: String| Failure::local(ConnectorError::Unsupported(why));
    if cred.role != CredentialRole::Master {
        return Err(unsupported(format!(
            "credential `{}` is not a master key; KuCoin sub keys are created by the master",
            cred.name
        )));
    }
    let passphrase = cred.passphrase.as_ref().ok_or_else(|| {
        unsupported(format!(
            "credential `{}` has no passphrase (KuCoin signs every call with it)",
            cred.name
        ))
    })?;
    Ok(Caller {
        api_key: &cred.api_key,
        secret: &cred.api_secret,
        passphrase,
        signed_by: SignedBy::ManagingCredential,
    })
}

fn refused_here(code: &str, message: String) -> Failure {
    Failure::local(ConnectorError::Permanent {
        code: code.into(),
        message,
    })
}

impl KucoinConnector {
    pub(crate) async fn describe_sub_key(
        &self,
        cred: &Credential,
        sub_name: &str,
        api_key: &str,
    ) -> Result<Described, Failure> {
        let master = master_caller(cred)?;
        let params = endpoints::list_sub_key_params(sub_name, api_key);
        let answer = self
            .call(&master, &endpoints::LIST_SUB_KEYS, &params, None)
            .await?;
        let k = listed_key(
            &answer.data,
            "apiKey",
            api_key,
            sub_name,
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
        let master = master_caller(cred)?;
        let Some(passphrase) = req.passphrase.as_ref() else {
            return Err(refused_here(
                "passphrase_required",
                "KuCoin asks the creator for the new key's passphrase; none was chosen".into(),
            ));
        };
        let body = create_body(req, passphrase)?;
        let answer = self
            .call(&master, &endpoints::CREATE_SUB_KEY, &[], Some(&body))
            .await?;
        let field = |name: &str| answer.data[name].as_str().filter(|v| !v.is_empty());
        let (Some(api_key), Some(secret)) = (field("apiKey"), field("apiSecret")) else {
            // Accepted, yet without the key: it may exist, found again by
            // its remark.
            return Err(Failure::new(
                ConnectorError::OutcomeUnknown(
                    "the create was accepted but its reply holds no apiKey and apiSecret".into(),
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
                created_at_ms: answer.data["createdAt"].as_i64(),
            },
            reply: answer.reply,
        })
    }

    pub(crate) async fn test_new_key(&self, key: &NewKey) -> Result<Reply, Failure> {
        let Some(passphrase) = key.passphrase.as_ref() else {
            return Err(refused_here(
                "passphrase_required",
                "a KuCoin key signs with its passphrase; the new key has none".into(),
            ));
        };
        let caller = Caller {
            api_key: &key.api_key,
            secret: &key.api_secret,
            passphrase,
            signed_by: SignedBy::TargetKey,
        };
        let answer = self.call(&caller, &endpoints::QUERY_KEY, &[], None).await?;
        Ok(answer.reply)
    }
}

/// A listed key's shape: `permission` split and sorted, `ipWhitelist` as
/// shown (masked), `remark`, `createdAt` (Unix ms). Read-only when it holds
/// "General" alone (General is "limited to read-only operations").
pub fn shape_of(k: &Value) -> KeyShape {
    let permissions = endpoints::permission_names(k["permission"].as_str().unwrap_or(""));
    KeyShape {
        read_only: permissions
            .iter()
            .all(|p| p == endpoints::READ_ONLY_PERMISSION),
        permissions,
        ips: keyrevoke_core::connector::permission_list(k["ipWhitelist"].as_str().unwrap_or("")),
        created_at_ms: k["createdAt"].as_i64().filter(|ms| *ms > 0),
        label: k["remark"]
            .as_str()
            .filter(|r| !r.is_empty())
            .map(str::to_string),
    }
}

/// The create body; refused here when the exchange would refuse it or the
/// copy could not be faithful: a remark over 24 characters, or IPs that the
/// list showed masked.
pub fn create_body(req: &CreateKey, passphrase: &Secret) -> Result<String, Failure> {
    if req.label.is_empty() || req.label.chars().count() > MAX_REMARK_CHARS {
        return Err(refused_here(
            "bad_label",
            format!(
                "a KuCoin key's remark is 1 to {MAX_REMARK_CHARS} characters; `{}` is not",
                req.label
            ),
        ));
    }
    if let Some(masked) = req.shape.ips.iter().find(|ip| ip.contains('*')) {
        return Err(refused_here(
            "ip_list_masked",
            format!(
                "KuCoin shows the old key's IP whitelist masked ({masked}): the new key's IPs cannot be copied from it; rotate this key on the API management page"
            ),
        ));
    }
    let mut body = json!({
        "subName": req.account,
        "passphrase": passphrase.expose(),
        "remark": req.label,
        "permission": req.shape.permissions.join(","),
    });
    if !req.shape.ips.is_empty() {
        body["ipWhitelist"] = json!(req.shape.ips.join(","));
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ips: &[&str], label: &str) -> CreateKey {
        CreateKey {
            account: "AAAAAAAAAA0007".into(),
            shape: KeyShape {
                permissions: vec!["General".into(), "Spot".into()],
                ips: ips.iter().map(|s| s.to_string()).collect(),
                ..KeyShape::default()
            },
            label: label.into(),
            passphrase: None,
        }
    }

    #[test]
    fn the_documented_list_item_reads_as_its_shape() {
        // The fields of Get Sub-Account API List's reply items.
        let shape = shape_of(&json!({
            "subName": "AAAAAAAAAA0007",
            "remark": "remark",
            "apiKey": "630325e0e750870001829864",
            "apiVersion": 3,
            "permission": "General,Spot",
            "ipWhitelist": "",
            "createdAt": 1661150688000_i64,
            "uid": 169579801,
            "isMaster": false,
        }));
        assert_eq!(shape.permissions, ["General", "Spot"]);
        assert!(shape.ips.is_empty() && !shape.read_only);
        assert_eq!(shape.label.as_deref(), Some("remark"));
        assert_eq!(shape.created_at_ms, Some(1_661_150_688_000));
        assert!(shape_of(&json!({ "permission": "General" })).read_only);
    }

    #[test]
    fn the_create_body_holds_the_documented_fields() {
        let pass = Secret::from("Passphrase1");
        let body: Value =
            serde_json::from_str(&create_body(&request(&["1.1.1.1"], "bot-17"), &pass).unwrap())
                .unwrap();
        assert_eq!(
            body,
            json!({
                "subName": "AAAAAAAAAA0007",
                "passphrase": "Passphrase1",
                "remark": "bot-17",
                "permission": "General,Spot",
                "ipWhitelist": "1.1.1.1",
            })
        );
        let unbound: Value =
            serde_json::from_str(&create_body(&request(&[], "bot-17"), &pass).unwrap()).unwrap();
        assert!(unbound.get("ipWhitelist").is_none(), "{unbound}");
    }

    #[test]
    fn masked_ips_and_long_remarks_are_refused_before_sending() {
        let pass = Secret::from("Passphrase1");
        let masked = create_body(&request(&["203.**.154"], "bot-17"), &pass).unwrap_err();
        assert!(masked.to_string().contains("masked"), "{masked}");
        let long = create_body(&request(&[], &"x".repeat(25)), &pass).unwrap_err();
        assert!(long.to_string().contains("1 to 24"), "{long}");
    }
}
