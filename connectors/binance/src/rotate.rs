//! Rotation: the master reads a sub key's permissions, name and time from
//! its key listing and its IPs from the key's IP restriction, creates the
//! replacement with `POST /sapi/v1/sub-account/subAccountApi`, and the new
//! key tests itself with `apiRestrictions` (see `endpoints.rs` for the
//! sources).
//!
//! Permissions travel as the listing's and the create's own flag names
//! (`canTrade`, `canFuturesTrade`…), those that are true.

use crate::BinanceConnector;
use crate::endpoints::{self, IP_RESTRICTED, LISTED_FLAGS};
use keyrevoke_core::rotation::{CreateKey, Created, Described, KeyShape, NewKey, listed_key};
use keyrevoke_core::sign::Params;
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure, Reply, Secret};
use serde_json::Value;

/// `status=1`: "IP Unrestricted".
const IP_UNRESTRICTED: &str = "1";

fn master_only(cred: &Credential) -> Result<(), Failure> {
    match cred.role {
        CredentialRole::Master => Ok(()),
        CredentialRole::Broker => Err(Failure::local(ConnectorError::Unsupported(format!(
            "credential `{}` is a broker credential; Binance sub keys are rotated by their master",
            cred.name
        )))),
    }
}

impl BinanceConnector {
    pub(crate) async fn describe_sub_key(
        &self,
        cred: &Credential,
        email: &str,
        api_key: &str,
    ) -> Result<Described, Failure> {
        master_only(cred)?;
        let listing = self
            .call_as(
                cred,
                &endpoints::QUERY_SUB_KEYS,
                &endpoints::find_sub_key_params(email, api_key),
            )
            .await?;
        let row = listed_key(
            &listing.body["rows"],
            "apikey",
            api_key,
            email,
            &listing.reply.meta,
        )?;
        let mut shape = shape_of(row);
        let restriction = self
            .call_as(
                cred,
                &endpoints::GET_SUB_KEY_IP_RESTRICTION,
                &endpoints::sub_key_params(email, api_key),
            )
            .await?;
        shape.ips = ips_of(&restriction.body);
        Ok(Described {
            shape,
            reply: Reply {
                meta: restriction.reply.meta,
                usage: [listing.reply.usage, restriction.reply.usage].concat(),
            },
        })
    }

    pub(crate) async fn create_sub_key(
        &self,
        cred: &Credential,
        req: &CreateKey,
    ) -> Result<Created, Failure> {
        master_only(cred)?;
        let params = create_params(req)?;
        let answer = self
            .call_as(cred, &endpoints::CREATE_SUB_KEY, &params)
            .await?;
        let field = |name: &str| answer.body[name].as_str().filter(|v| !v.is_empty());
        let (Some(api_key), Some(secret)) = (field("apiKey"), field("secretKey")) else {
            // Accepted, yet without the key: it may exist, found again by
            // its name.
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
                passphrase: None,
                account: req.account.clone(),
                // The reply carries no time; the listing's `timestamp` does.
                created_at_ms: None,
            },
            reply: answer.reply,
        })
    }

    pub(crate) async fn test_new_key(&self, key: &NewKey) -> Result<Reply, Failure> {
        let answer = self
            .call(
                &key.api_key,
                &key.api_secret,
                &endpoints::API_RESTRICTIONS,
                &Params::new(),
            )
            .await?;
        Ok(answer.reply)
    }
}

/// A listed key's shape: its true flags, sorted; `apiName`; `timestamp`,
/// taken for its creation time (the docs do not name the field; it is the
/// only time the listing holds). Read-only when no flag is true. Its IPs
/// come from the IP restriction ([`ips_of`]).
pub fn shape_of(row: &Value) -> KeyShape {
    let mut permissions: Vec<String> = LISTED_FLAGS
        .iter()
        .filter(|f| row[**f].as_bool() == Some(true))
        .map(|f| f.to_string())
        .collect();
    permissions.sort();
    KeyShape {
        read_only: permissions.is_empty(),
        permissions,
        ips: Vec::new(),
        created_at_ms: row["timestamp"].as_i64(),
        label: row["apiName"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(str::to_string),
    }
}

/// The IP list of an IP restriction reply, empty when unrestricted
/// (`ipRestrict` arrives as a string in the docs' example; a boolean is
/// read too).
pub fn ips_of(restriction: &Value) -> Vec<String> {
    let restricted = match &restriction["ipRestrict"] {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if !restricted {
        return Vec::new();
    }
    restriction["ipList"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The create's parameters: the sub account, the name, the IP status (2
/// with the list, 1 without), then each flag the shape holds, set true.
pub fn create_params(req: &CreateKey) -> Result<Params, Failure> {
    if let Some(unknown) = req
        .shape
        .permissions
        .iter()
        .find(|p| !LISTED_FLAGS.contains(&p.as_str()))
    {
        return Err(Failure::local(ConnectorError::Permanent {
            code: "bad_permission".into(),
            message: format!("`{unknown}` is not a permission Binance's create sets"),
        }));
    }
    let mut params = Params::new()
        .with("email", req.account.clone())
        .with("apiName", req.label.clone());
    params = if req.shape.ips.is_empty() {
        params.with("status", IP_UNRESTRICTED)
    } else {
        params
            .with("status", IP_RESTRICTED)
            .with("ipAddress", req.shape.ips.join(","))
    };
    for flag in LISTED_FLAGS {
        if req.shape.permissions.iter().any(|p| p == flag) {
            params = params.with(flag, "true");
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listed_key_and_its_ip_restriction_read_as_its_shape() {
        // The fields of QuerySubAccountApiKeyResponseRowsInner and of
        // GetIpRestrictionForASubAccountApiKeyResponse.
        let shape = shape_of(&json!({
            "email": "bot001@virtual.example",
            "apiName": "bot-17",
            "apikey": "k-1",
            "canTrade": true,
            "canMarginLoanRepay": false,
            "canFuturesTrade": true,
            "canUniversalTransfer": false,
            "canVanillaOptions": false,
            "timestamp": 1_686_213_565_000_i64,
        }));
        assert_eq!(shape.permissions, ["canFuturesTrade", "canTrade"]);
        assert!(!shape.read_only);
        assert_eq!(shape.label.as_deref(), Some("bot-17"));
        assert_eq!(shape.created_at_ms, Some(1_686_213_565_000));
        let restricted = json!({
            "ipRestrict": "true",
            "ipList": ["69.210.67.14", "8.34.21.10"],
            "updateTime": 1_636_371_437_000_i64,
            "apiKey": "k-1",
        });
        assert_eq!(ips_of(&restricted), ["69.210.67.14", "8.34.21.10"]);
        assert!(ips_of(&json!({ "ipRestrict": "false", "ipList": [] })).is_empty());
        assert_eq!(
            ips_of(&json!({ "ipRestrict": true, "ipList": ["1.1.1.1"] })),
            ["1.1.1.1"]
        );
    }

    #[test]
    fn the_create_names_the_account_the_ip_status_and_the_flags_held() {
        let req = |ips: &[&str]| CreateKey {
            account: "bot001@virtual.example".into(),
            shape: KeyShape {
                permissions: vec!["canFuturesTrade".into(), "canTrade".into()],
                ips: ips.iter().map(|s| s.to_string()).collect(),
                ..KeyShape::default()
            },
            label: "rotated-bot-17".into(),
            passphrase: None,
        };
        assert_eq!(
            create_params(&req(&["1.1.1.1", "2.2.2.2"]))
                .unwrap()
                .encode(),
            "email=bot001%40virtual.example&apiName=rotated-bot-17&status=2&ipAddress=1.1.1.1%2C2.2.2.2&canTrade=true&canFuturesTrade=true"
        );
        assert_eq!(
            create_params(&req(&[])).unwrap().encode(),
            "email=bot001%40virtual.example&apiName=rotated-bot-17&status=1&canTrade=true&canFuturesTrade=true"
        );
        let mut odd = req(&[]);
        odd.shape.permissions.push("enableWithdrawals".into());
        assert!(create_params(&odd).is_err());
    }
}
