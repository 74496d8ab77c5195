//! HashiCorp Vault / OpenBao KV version 2 as the sink.
//!
//! The current secret of a key is `<mount>/data/<prefix><exchange>/<label>`,
//! the pending one `<mount>/data/<prefix><exchange>/<label>.pending`.
//! Promotion writes the pending data to the current path with
//! check-and-set, so KV v2's version history keeps the replaced secret as
//! the prior version, then deletes the pending path with its metadata.
//!
//! The API, as OpenBao documents it (https://openbao.org/api-docs/secret/kv/kv-v2/,
//! the same as https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2):
//! - `POST /v1/:mount/data/:path` `{"options": {"cas": N}, "data": {…}}`
//!   creates a version; `cas` 0 writes only if the key does not exist, N only
//!   if N is the current version, else 400 "check-and-set parameter did not
//!   match the current version";
//! - `GET /v1/:mount/data/:path[?version=N]` answers `data.data` and
//!   `data.metadata.version`; 404 when there is none;
//! - `GET /v1/:mount/metadata/:path` answers `data.current_version`;
//! - `DELETE /v1/:mount/metadata/:path` removes every version and the
//!   metadata (204, also when there was nothing).
//!
//! Preflight: `GET /v1/auth/token/lookup-self` (the token is valid;
//! https://openbao.org/api-docs/auth/token/) and the mount's type and
//! options from `GET /v1/sys/mounts/:mount`
//! (https://openbao.org/api-docs/system/mounts/), or, for a token whose
//! policy covers only the secrets' paths (that call needs a policy on
//! `sys/mounts`), `GET /v1/sys/internal/ui/mounts/:mount`, which answers
//! any token with a policy on the mount: the CLI's own preflight
//! (https://openbao.org/api-docs/system/internal-ui-mounts/).
//! Every request carries the token in `X-Vault-Token`.
//!
//! Plain reqwest rather than a Vault client crate (vaultrs): the sink uses
//! six calls, reqwest with rustls is already the project's HTTP client
//! (`keyrevoke_core::http::build_client`), and vaultrs would add rustify, a
//! second request layer and a builder API for hundreds of endpoints, while
//! its error type carries response bodies this sink must keep out of
//! messages.

use crate::spec::field_error;
use crate::{RotatedSecret, SecretSink, SinkError, check_name};
use async_trait::async_trait;
use keyrevoke_core::{Secret, mask_key};
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::time::Duration;
use url::Url;
use zeroize::Zeroizing;

const TOKEN_HEADER: &str = "X-Vault-Token";
const PENDING_SUFFIX: &str = ".pending";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct VaultSink {
    client: reqwest::Client,
    /// The server's address, ending in `/`.
    base: String,
    token: HeaderValue,
    mount: String,
    prefix: String,
}

/// A secret's fields as Vault holds them: the sink's JSON object, every
/// value a string, wiped when dropped.
type SecretData = BTreeMap<String, Zeroizing<String>>;

/// What a promotion starts from: read first, then written with
/// check-and-set against `current_version`.
pub(crate) struct PromoteState {
    pending: Option<SecretData>,
    /// 0 when the current path has never been written.
    current_version: u64,
    /// The key in the current version, when it can be read.
    current_api_key: Option<String>,
}

impl VaultSink {
    pub fn new(address: Url, token: Secret, mount: &str, prefix: &str) -> Result<Self, SinkError> {
        let mount = mount.trim().trim_matches('/');
        check_path("mount", mount, false)?;
        let prefix = prefix.trim().trim_start_matches('/');
        check_path("prefix", prefix, true)?;
        let mut token = HeaderValue::from_str(token.expose().trim())
            .map_err(|_| field_error("token", "has characters an HTTP header cannot carry"))?;
        token.set_sensitive(true);
        Ok(VaultSink {
            client: keyrevoke_core::http::build_client(REQUEST_TIMEOUT),
            base: format!("{}/", address.as_str().trim_end_matches('/')),
            token,
            mount: mount.to_string(),
            prefix: prefix.to_string(),
        })
    }

    fn secret_path(&self, exchange: &str, label: &str) -> Result<String, SinkError> {
        check_name("exchange", exchange)?;
        check_name("label", label)?;
        Ok(format!("{}{exchange}/{label}", self.prefix))
    }

    fn data_path(&self, secret_path: &str) -> String {
        format!("{}/data/{secret_path}", self.mount)
    }

    fn metadata_path(&self, secret_path: &str) -> String {
        format!("{}/metadata/{secret_path}", self.mount)
    }

    /// One request to `/v1/<api_path>`. A transport failure is a write
    /// error: nothing is known to have changed.
    async fn send(
        &self,
        method: Method,
        api_path: &str,
        body: Option<String>,
    ) -> Result<Reply, SinkError> {
        let url = format!("{}v1/{api_path}", self.base);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .header(TOKEN_HEADER, self.token.clone());
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        // A write cut after it was sent may have taken effect.
        let mutating = method != Method::GET;
        let failed = |e: reqwest::Error| {
            SinkError::Write(format!(
                "vault {method} {}: {}",
                self.shown(api_path),
                keyrevoke_core::http::classify_transport(&e, mutating).error
            ))
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        // The body may hold a secret: kept in a buffer wiped on drop (the
        // HTTP stack's own buffers are beyond reach).
        let body = Zeroizing::new(response.bytes().await.map_err(failed)?.to_vec());
        Ok(Reply { status, body })
    }

    /// `api_path` as people read it: the server's path without `/v1/`.
    fn shown(&self, api_path: &str) -> String {
        api_path.split('?').next().unwrap_or(api_path).to_string()
    }

    async fn write_data(
        &self,
        secret_path: &str,
        data_json: &str,
        cas: Option<u64>,
    ) -> Result<(), SinkError> {
        let options = cas.map_or(String::new(), |v| format!("\"options\":{{\"cas\":{v}}},"));
        let body = format!("{{{options}\"data\":{data_json}}}");
        let path = self.data_path(secret_path);
        let reply = self.send(Method::POST, &path, Some(body)).await?;
        if reply.status.is_success() {
            return Ok(());
        }
        let errors = reply.errors();
        Err(SinkError::Write(match cas {
            Some(version) if errors.contains("check-and-set") => format!(
                "vault refused the write to {path}: check-and-set against version {version} \
                 failed, the secret changed since it was read ({errors}); nothing promoted"
            ),
            _ => format!("vault refused the write to {path}: {errors}"),
        }))
    }

    /// The data of `version` (the latest when `None`) at `secret_path`, or
    /// `None` when there is none (never written, or deleted).
    async fn read_data(
        &self,
        secret_path: &str,
        version: Option<u64>,
    ) -> Result<Option<SecretData>, SinkError> {
        let mut path = self.data_path(secret_path);
        if let Some(v) = version {
            path.push_str(&format!("?version={v}"));
        }
        let reply = self.send(Method::GET, &path, None).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        #[derive(Deserialize)]
        struct Read {
            data: ReadData,
        }
        #[derive(Deserialize)]
        struct ReadData {
            data: Option<SecretData>,
        }
        let read: Read = reply.json(&self.shown(&path))?;
        Ok(read.data.data)
    }

    /// The current version number at `secret_path`; 0 when it has none.
    async fn current_version(&self, secret_path: &str) -> Result<u64, SinkError> {
        let path = self.metadata_path(secret_path);
        let reply = self.send(Method::GET, &path, None).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(0);
        }
        #[derive(Deserialize)]
        struct Metadata {
            data: MetadataData,
        }
        #[derive(Deserialize)]
        struct MetadataData {
            current_version: u64,
        }
        let metadata: Metadata = reply.json(&path)?;
        Ok(metadata.data.current_version)
    }

    pub(crate) async fn read_for_promote(
        &self,
        exchange: &str,
        label: &str,
    ) -> Result<PromoteState, SinkError> {
        let current = self.secret_path(exchange, label)?;
        let pending = self
            .read_data(&format!("{current}{PENDING_SUFFIX}"), None)
            .await?;
        let current_version = self.current_version(&current).await?;
        let current_api_key = match current_version {
            0 => None,
            v => self
                .read_data(&current, Some(v))
                .await?
                .and_then(|data| data.get("api_key").map(|k| k.to_string())),
        };
        Ok(PromoteState {
            pending,
            current_version,
            current_api_key,
        })
    }

    pub(crate) async fn finish_promote(
        &self,
        exchange: &str,
        label: &str,
        api_key: &str,
        state: PromoteState,
    ) -> Result<(), SinkError> {
        let current = self.secret_path(exchange, label)?;
        let pending_path = format!("{current}{PENDING_SUFFIX}");
        let pending_key = |p: &SecretData| p.get("api_key").map(|k| k.to_string());
        if state.current_api_key.as_deref() == Some(api_key) {
            // Promoted already. A pending copy of the same key is what a
            // promotion cut between its write and its delete leaves; a
            // pending secret of another key belongs to a later rotation.
            if state.pending.as_ref().and_then(pending_key).as_deref() == Some(api_key) {
                self.delete(&pending_path).await?;
            }
            return Ok(());
        }
        let Some(pending) = state.pending else {
            return Err(SinkError::Write(format!(
                "nothing to promote: no pending secret at {} and the current one is not key {}",
                self.data_path(&pending_path),
                mask_key(api_key)
            )));
        };
        let stored_key = pending_key(&pending).unwrap_or_default();
        if stored_key != api_key {
            return Err(SinkError::Write(format!(
                "the pending secret at {} is for key {}, not {}; nothing promoted",
                self.data_path(&pending_path),
                mask_key(&stored_key),
                mask_key(api_key)
            )));
        }
        let data_json =
            Zeroizing::new(serde_json::to_string(&pending).expect("a map of strings serializes"));
        self.write_data(&current, &data_json, Some(state.current_version))
            .await?;
        self.delete(&pending_path).await
    }

    /// Remove every version and the metadata of `secret_path`.
    async fn delete(&self, secret_path: &str) -> Result<(), SinkError> {
        let path = self.metadata_path(secret_path);
        let reply = self.send(Method::DELETE, &path, None).await?;
        if reply.status.is_success() || reply.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(SinkError::Write(format!(
                "vault refused to delete {path}: {}",
                reply.errors()
            )))
        }
    }

    /// The mount's engine, from the documented endpoint, or when the token
    /// may not read that, from the one the CLI uses.
    async fn mount_info(&self) -> Result<MountInfo, SinkError> {
        let unreachable = |e: SinkError| field_error("address", e);
        let mut reply = self
            .send(Method::GET, &format!("sys/mounts/{}", self.mount), None)
            .await
            .map_err(unreachable)?;
        if reply.status == StatusCode::FORBIDDEN {
            reply = self
                .send(
                    Method::GET,
                    &format!("sys/internal/ui/mounts/{}", self.mount),
                    None,
                )
                .await
                .map_err(unreachable)?;
        }
        if !reply.status.is_success() {
            return Err(field_error(
                "mount",
                format!(
                    "vault has no mount `{}` for this token: {}",
                    self.mount,
                    reply.errors()
                ),
            ));
        }
        #[derive(Deserialize)]
        struct Mount {
            data: MountInfo,
        }
        let mount: Mount = reply
            .json("sys/mounts")
            .map_err(|e| field_error("mount", e))?;
        Ok(mount.data)
    }
}

#[derive(Deserialize)]
struct MountInfo {
    #[serde(rename = "type")]
    engine: String,
    #[serde(default)]
    options: Option<BTreeMap<String, String>>,
}

impl MountInfo {
    fn kv_version(&self) -> Option<&str> {
        matches!(self.engine.as_str(), "kv" | "kv-v2").then(|| {
            self.options
                .as_ref()
                .and_then(|o| o.get("version"))
                .map_or("1", String::as_str)
        })
    }
}

struct Reply {
    status: StatusCode,
    body: Zeroizing<Vec<u8>>,
}

impl Reply {
    /// Vault's `errors` list (`permission denied`, `check-and-set parameter
    /// did not match the current version`), or the status when it has none.
    fn errors(&self) -> String {
        #[derive(Deserialize)]
        struct Errors {
            errors: Vec<String>,
        }
        match serde_json::from_slice::<Errors>(&self.body) {
            Ok(e) if !e.errors.is_empty() => {
                // Vault's multi-errors span lines ("1 error occurred:\n\t* …"):
                // one line, for logs and the audit.
                let joined = e.errors.join("; ");
                let one_line: Vec<&str> = joined.split_whitespace().collect();
                format!("{} (HTTP {})", one_line.join(" "), self.status.as_u16())
            }
            _ => format!("HTTP {}", self.status.as_u16()),
        }
    }

    /// The body as `T`, after a success status. The serde error is not
    /// shown: it may quote a value of the body.
    fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, SinkError> {
        if !self.status.is_success() {
            return Err(SinkError::Write(format!(
                "vault answered {what} with {}",
                self.errors()
            )));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            SinkError::Write(format!(
                "vault's answer to {what} is not the KV v2 shape (line {}, column {})",
                e.line(),
                e.column()
            ))
        })
    }
}

/// A mount or prefix: path segments of letters, digits, `.`, `_` and `-`,
/// no `.` or `..` segment, no empty one (but a prefix may be empty or end
/// in `/`).
fn check_path(field: &str, value: &str, is_prefix: bool) -> Result<(), SinkError> {
    if value.is_empty() {
        return if is_prefix {
            Ok(())
        } else {
            Err(field_error(field, "is empty"))
        };
    }
    let segments = value
        .strip_suffix('/')
        .filter(|_| is_prefix)
        .unwrap_or(value);
    for segment in segments.split('/') {
        let ok = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(field_error(
                field,
                format!(
                    "`{value}` is not a path of names made of letters, digits, `.`, `_` and `-`"
                ),
            ));
        }
    }
    Ok(())
}

#[async_trait]
impl SecretSink for VaultSink {
    fn describe(&self) -> String {
        format!("vault {}{}", self.base, self.mount)
    }

    fn location(&self, exchange: &str, label: &str) -> String {
        self.data_path(&format!("{}{exchange}/{label}", self.prefix))
    }

    async fn preflight(&self) -> Result<(), SinkError> {
        let reply = self
            .send(Method::GET, "auth/token/lookup-self", None)
            .await
            .map_err(|e| field_error("address", e))?;
        if !reply.status.is_success() {
            return Err(field_error(
                "token",
                format!("vault does not accept the token: {}", reply.errors()),
            ));
        }
        let mount = self.mount_info().await?;
        match mount.kv_version() {
            Some("2") => Ok(()),
            Some(v) => Err(field_error(
                "mount",
                format!(
                    "`{}` is KV version {v}; the sink needs version 2 (versions keep the previous secret, check-and-set guards the promotion)",
                    self.mount
                ),
            )),
            None => Err(field_error(
                "mount",
                format!(
                    "`{}` is a `{}` mount, not KV version 2",
                    self.mount, mount.engine
                ),
            )),
        }
    }

    async fn store_pending(&self, secret: &RotatedSecret) -> Result<(), SinkError> {
        let current = self.secret_path(&secret.exchange, &secret.label)?;
        let plaintext = secret.plaintext();
        self.write_data(&format!("{current}{PENDING_SUFFIX}"), &plaintext, None)
            .await
    }

    async fn promote(&self, exchange: &str, label: &str, api_key: &str) -> Result<(), SinkError> {
        let state = self.read_for_promote(exchange, label).await?;
        self.finish_promote(exchange, label, api_key, state).await
    }

    async fn discard_pending(&self, exchange: &str, label: &str) -> Result<(), SinkError> {
        let current = self.secret_path(exchange, label)?;
        self.delete(&format!("{current}{PENDING_SUFFIX}")).await
    }
}

#[cfg(test)]
mod tests;
