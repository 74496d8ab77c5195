//! One key's rotation up to the sink serving its new secret: describe the
//! old key, create the new one (same permissions and IP list), store it as
//! pending, test it with its own secret, promote it. Each step is recorded
//! in the journal before the next, and a run that finds a step begun but
//! not finished makes it safe first: a key created whose secret this
//! process no longer holds is found by its label and deleted before
//! another is created, so one old key never has two live replacements, and
//! the old key is never touched here (it is deleted afterwards, once the
//! new secret is current).

use super::ledger::{self, Record, Step};
use super::plan::PlannedKey;
use base64::Engine;
use hmac::{Hmac, Mac};
use keyrevoke_core::discovery::PageRequest;
use keyrevoke_core::rotation::{CreateKey, KeyShape, NewKey, RotationCall};
use keyrevoke_core::{
    Action, ConnectorError, Credential, JobStore, KeyJob, KeyMaterial, Operation, Route, Secret,
    mask_key,
};
use keyrevoke_executor::calls::{Call, CallError};
use keyrevoke_executor::discover::{ListError, acting_credential as acting};
use keyrevoke_executor::{Executor, RunEnd};
use keyrevoke_sink::{RotatedSecret, SecretSink};
use rand::Rng;
use sha2::Sha256;

/// Creates tried for one key in one run before it is given up (each one
/// whose reply was lost is found and deleted before the next).
const MAX_CREATES: u32 = 3;

/// How one key's rotation ended in this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Its age is under the plan's limit (days old, if the exchange says).
    NotDue(Option<u64>),
    /// `--dry-run`: described only (days old, if the exchange says).
    DryRun(Option<u64>),
    /// Done: the new key is in service, the old one is gone.
    Rotated { old_key: String },
    /// The sink serves the new key; the old one is next to be deleted.
    Promoted { new_key: String },
    /// Nothing changed for the service: the old key still works. Why.
    Failed(String),
    /// The run stopped (interrupted, or the journal or audit failed).
    Stopped(RunEnd),
}

pub struct Rotation<'a> {
    pub exec: &'a Executor,
    pub store: &'a dyn JobStore,
    pub sink: &'a dyn SecretSink,
    /// Rotate whatever the key's age (`--all`).
    pub all: bool,
    /// Describe only (`--dry-run`).
    pub dry_run: bool,
}

/// Either the step's value, or how this key's rotation ends now.
type StepResult<T> = Result<T, Fate>;

impl Rotation<'_> {
    /// Rotate `key`, resuming from `record`.
    pub async fn rotate(&self, key: &PlannedKey, mut record: Record) -> Fate {
        match self.advance(key, &mut record).await {
            Ok(new_key) => Fate::Promoted { new_key },
            Err(fate) => fate,
        }
    }

    async fn advance(&self, key: &PlannedKey, record: &mut Record) -> StepResult<String> {
        if self.dry_run {
            let shape = self.describe(key, &record.current).await?;
            return Err(Fate::DryRun(shape.created_at_ms.map(age_days)));
        }
        if record.step == Step::Promoted {
            return Ok(record.new_key.clone().unwrap_or_default());
        }
        if record.step == Step::Tested {
            // Tested and stored: promoting needs no secret.
            return self.promote(key, record).await;
        }
        let shape = self.describe(key, &record.current).await?;
        let under_way = record.step != Step::Idle;
        if !under_way && !self.all {
            let age = shape.created_at_ms.map(age_days);
            match age {
                Some(days) if days >= u64::from(key.max_age_days) => {}
                _ => return Err(Fate::NotDue(age)),
            }
        }
        // A step begun by a run that is gone: its secret went with it.
        if matches!(record.step, Step::Creating | Step::Created | Step::Stored) {
            self.remove_orphans(key, record).await?;
        }
        let mut creates = 0;
        let new = loop {
            creates += 1;
            match self.create(key, record, &shape).await {
                Ok(new) => break new,
                Err(CreateEnd::Lost(why)) if creates < MAX_CREATES => {
                    tracing::warn!(label = %key.label, "create reply lost ({why}): finding it");
                    self.remove_orphans(key, record).await?;
                }
                Err(CreateEnd::Lost(why)) => {
                    self.remove_orphans(key, record).await?;
                    return Err(self
                        .fail(key, record, format!("create kept failing: {why}"))
                        .await);
                }
                Err(CreateEnd::Refused(why)) => {
                    return Err(self
                        .fail(key, record, format!("create refused: {why}"))
                        .await);
                }
                Err(CreateEnd::Stopped(fate)) => return Err(fate),
            }
        };
        self.store_and_test(key, record, &new).await?;
        self.promote(key, record).await
    }

    /// The old key's permissions, IP list and age, via its credential.
    async fn describe(&self, key: &PlannedKey, current: &str) -> StepResult<KeyShape> {
        let job = acting(&key.via);
        let call = Call {
            job: &job,
            op: Operation::Rotate(RotationCall::Describe),
            action: Action::Rotate,
            what: format!(
                "describe {} of {} for {}",
                mask_key(current),
                key.account,
                key.label
            ),
            repeatable: true,
        };
        let (cred, account) = (key.via.clone(), key.account.clone());
        let current = current.to_string();
        match self
            .exec
            .call(&call, |c| {
                let (cred, account, current) = (cred.clone(), account.clone(), current.clone());
                async move { c.describe_key(&cred, &account, &current).await }
            })
            .await
        {
            Ok(d) => Ok(d.shape),
            Err(CallError::Stopped(end)) => Err(Fate::Stopped(end)),
            Err(CallError::Failed(f)) => Err(Fate::Failed(format!(
                "cannot read key {} under {}: {f}",
                mask_key(&current),
                key.account
            ))),
        }
    }

    async fn create(
        &self,
        key: &PlannedKey,
        record: &mut Record,
        shape: &KeyShape,
    ) -> Result<NewKey, CreateEnd> {
        let tag = new_tag();
        record.step = Step::Creating;
        record.tag = Some(tag.clone());
        record.new_key = None;
        // Recorded before it is sent: a key the exchange makes is always
        // findable by this label, whatever happens next.
        self.put(key, record).await.map_err(CreateEnd::Stopped)?;
        let request = CreateKey {
            account: key.account.clone(),
            shape: shape.clone(),
            label: tag.clone(),
            passphrase: Some(passphrase_for(&key.via, &tag)),
        };
        let job = acting(&key.via);
        let call = Call {
            job: &job,
            op: Operation::Rotate(RotationCall::Create),
            action: Action::Rotate,
            what: format!("create key {tag} under {} for {}", key.account, key.label),
            repeatable: false,
        };
        let cred = key.via.clone();
        let result = self
            .exec
            .call(&call, |c| {
                let (cred, request) = (cred.clone(), request.clone());
                async move { c.create_key(&cred, &request).await }
            })
            .await;
        let created = match result {
            Ok(c) => c.key,
            Err(CallError::Stopped(end)) => return Err(CreateEnd::Stopped(Fate::Stopped(end))),
            Err(CallError::Failed(f)) => {
                return Err(match f.error {
                    ConnectorError::Transient(_) | ConnectorError::OutcomeUnknown(_) => {
                        CreateEnd::Lost(f.to_string())
                    }
                    _ => CreateEnd::Refused(f.to_string()),
                });
            }
        };
        record.step = Step::Created;
        record.new_key = Some(created.api_key.clone());
        self.put(key, record).await.map_err(CreateEnd::Stopped)?;
        Ok(created)
    }

    /// Store the new secret as pending, then test the key with it. On a
    /// refusal the new key is deleted and the old one stays in service.
    async fn store_and_test(
        &self,
        key: &PlannedKey,
        record: &mut Record,
        new: &NewKey,
    ) -> StepResult<()> {
        let secret = RotatedSecret {
            exchange: key.exchange.to_string(),
            label: key.label.clone(),
            api_key: new.api_key.clone(),
            api_secret: new.api_secret.clone(),
            passphrase: new.passphrase.clone(),
            created_at: created_at(new.created_at_ms),
            replaces: mask_key(&record.current),
        };
        if let Err(e) = self.sink.store_pending(&secret).await {
            let why = format!("the sink refused the new secret: {e}");
            self.remove_orphans(key, record).await?;
            return Err(self.fail(key, record, why).await);
        }
        record.step = Step::Stored;
        self.put(key, record).await?;
        let job = KeyJob::new(
            KeyMaterial {
                exchange: key.exchange,
                api_key: new.api_key.clone(),
                api_secret: Some(new.api_secret.clone()),
                passphrase: new.passphrase.clone(),
                account: Some(new.account.clone()),
                label: Some(key.label.clone()),
            },
            None,
        );
        let call = Call {
            job: &job,
            op: Operation::Rotate(RotationCall::Test),
            action: Action::Rotate,
            what: format!("test the new key for {} with its own secret", key.label),
            repeatable: true,
        };
        let tested = self
            .exec
            .call(&call, |c| {
                let new = new.clone();
                async move { c.test_key(&new).await }
            })
            .await;
        match tested {
            Ok(_) => {}
            Err(CallError::Stopped(end)) => return Err(Fate::Stopped(end)),
            Err(CallError::Failed(f)) => {
                let why = format!("the new key failed its test: {f}");
                self.remove_orphans(key, record).await?;
                return Err(self.fail(key, record, why).await);
            }
        }
        record.step = Step::Tested;
        self.put(key, record).await
    }

    async fn promote(&self, key: &PlannedKey, record: &mut Record) -> StepResult<String> {
        let new_key = record.new_key.clone().unwrap_or_default();
        if let Err(e) = self
            .sink
            .promote(key.exchange.as_str(), &key.label, &new_key)
            .await
        {
            // Tested and pending: the next run promotes it. The old key
            // stays in service until then.
            record.why = Some(format!("the sink refused to promote the new secret: {e}"));
            let _ = self.put(key, record).await;
            return Err(Fate::Failed(record.why.clone().unwrap_or_default()));
        }
        record.step = Step::Promoted;
        record.why = None;
        self.put(key, record).await?;
        Ok(new_key)
    }

    /// Delete every key under the account that bears this rotation's tag
    /// (or is its recorded new key), drop any pending secret, and record
    /// the rotation idle again: afterwards no replacement exists.
    async fn remove_orphans(&self, key: &PlannedKey, record: &mut Record) -> StepResult<()> {
        let mut doomed: Vec<String> = record.new_key.iter().cloned().collect();
        if let Some(tag) = record.tag.clone() {
            doomed.extend(self.keys_labelled(key, &tag).await?);
        }
        doomed.sort();
        doomed.dedup();
        doomed.retain(|k| *k != record.current);
        for api_key in &doomed {
            self.delete_new(key, record, api_key).await?;
        }
        if let Err(e) = self
            .sink
            .discard_pending(key.exchange.as_str(), &key.label)
            .await
        {
            return Err(Fate::Failed(format!(
                "cannot drop the pending secret of a deleted key: {e}"
            )));
        }
        record.step = Step::Idle;
        record.tag = None;
        record.new_key = None;
        self.put(key, record).await
    }

    /// Keys under the plan's account whose exchange label is `tag`.
    async fn keys_labelled(&self, key: &PlannedKey, tag: &str) -> StepResult<Vec<String>> {
        let mut found = Vec::new();
        let mut request = PageRequest::keys_of(&key.account);
        loop {
            match self.exec.list_page(&key.via, &request).await {
                Ok(page) => {
                    found.extend(
                        page.keys
                            .iter()
                            .filter(|k| k.label.as_deref() == Some(tag))
                            .map(|k| k.api_key.clone()),
                    );
                    match page.next {
                        Some(cursor) => request = request.continued(cursor),
                        None => return Ok(found),
                    }
                }
                Err(ListError::Stopped(end)) => return Err(Fate::Stopped(end)),
                Err(ListError::Refused(f)) => {
                    return Err(Fate::Failed(format!(
                        "a key labelled {tag} may exist under {} but its keys cannot be listed ({f}): delete it by hand",
                        key.account
                    )));
                }
            }
        }
    }

    /// Delete a replacement that will not be used, by its credential.
    async fn delete_new(&self, key: &PlannedKey, record: &Record, api_key: &str) -> StepResult<()> {
        let job = KeyJob::new(
            KeyMaterial {
                exchange: key.exchange,
                api_key: api_key.to_string(),
                api_secret: None,
                passphrase: record
                    .tag
                    .as_deref()
                    .map(|tag| passphrase_for(&key.via, tag)),
                account: Some(key.account.clone()),
                label: record.tag.clone(),
            },
            Some(key.via.clone()),
        );
        let call = Call {
            job: &job,
            op: Operation::Route(Route::DeleteByMaster),
            action: Action::Revoke,
            what: format!(
                "delete {}, an unused replacement for {}",
                mask_key(api_key),
                key.label
            ),
            repeatable: true,
        };
        let result = self
            .exec
            .call(&call, |c| {
                let job = job.clone();
                async move { c.perform(Route::DeleteByMaster, &job).await }
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(CallError::Stopped(end)) => Err(Fate::Stopped(end)),
            // Already gone (a delete whose reply was lost, then asked again).
            Err(CallError::Failed(f)) if matches!(f.error, ConnectorError::KeyDead(_)) => Ok(()),
            Err(CallError::Failed(f)) => Err(Fate::Failed(format!(
                "cannot delete {}, an unused replacement, under {}: {f}; delete it by hand",
                mask_key(api_key),
                key.account
            ))),
        }
    }

    async fn fail(&self, key: &PlannedKey, record: &mut Record, why: String) -> Fate {
        record.why = Some(why.clone());
        if let Err(fate) = self.put(key, record).await {
            return fate;
        }
        Fate::Failed(why)
    }

    async fn put(&self, key: &PlannedKey, record: &Record) -> StepResult<()> {
        ledger::put(self.store, key.exchange, &key.label, record)
            .await
            .map_err(|e| Fate::Stopped(RunEnd::Fatal(e.to_string())))
    }
}

/// How a create ended, short of a new key.
enum CreateEnd {
    /// Its reply was lost: a key may or may not exist.
    Lost(String),
    /// The exchange refused it: nothing was made.
    Refused(String),
    Stopped(Fate),
}

/// A fresh label for a new key at the exchange: letters and digits only,
/// short enough for every exchange's note or label field.
fn new_tag() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..10)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("kr{tail}")
}

/// The passphrase a new key is created with (OKX, KuCoin), derived from
/// the creating credential's secret and the key's tag: a run that lost the
/// new key's secret can still delete it (KuCoin asks for the passphrase),
/// and the passphrase is as secret as the credential that makes keys.
/// Upper and lower case, a digit and a symbol, for the exchanges' rules.
pub fn passphrase_for(cred: &Credential, tag: &str) -> Secret {
    let mut mac = Hmac::<Sha256>::new_from_slice(cred.api_secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"keyrevoke rotate passphrase:");
    mac.update(tag.as_bytes());
    let digest = mac.finalize().into_bytes();
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..18]);
    Secret::new(format!("Kr{body}!7"))
}

fn age_days(created_at_ms: i64) -> u64 {
    let now = keyrevoke_core::http::unix_ms();
    (now.saturating_sub(created_at_ms).max(0) / 86_400_000) as u64
}

fn created_at(ms: Option<i64>) -> String {
    let ms = ms.unwrap_or_else(keyrevoke_core::http::unix_ms);
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(secret: &str) -> Credential {
        Credential {
            name: "m".into(),
            exchange: keyrevoke_core::ExchangeId::new("okx"),
            api_key: "MASTER".into(),
            api_secret: Secret::from(secret),
            passphrase: None,
            role: keyrevoke_core::CredentialRole::Master,
        }
    }

    #[test]
    fn a_passphrase_is_found_again_from_its_tag_and_meets_the_rules() {
        let a = passphrase_for(&cred("one"), "krabc");
        assert_eq!(a.expose(), passphrase_for(&cred("one"), "krabc").expose());
        assert_ne!(a.expose(), passphrase_for(&cred("one"), "krabd").expose());
        assert_ne!(a.expose(), passphrase_for(&cred("two"), "krabc").expose());
        let p = a.expose();
        assert_eq!(p.len(), 28);
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(|c| c.is_ascii_digit()));
        assert!(p.contains('!'));
    }

    #[test]
    fn tags_are_short_alphanumeric_and_fresh() {
        let (a, b) = (new_tag(), new_tag());
        assert_ne!(a, b);
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
