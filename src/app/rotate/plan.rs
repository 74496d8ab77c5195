//! The rotation plan (TOML): where new secrets go (`[sink]`) and which keys
//! to rotate (`[[keys]]`). Every problem is reported with its file, line
//! and field, and nothing is sent while any remains.

use keyrevoke_core::config::Config;
use keyrevoke_core::inventory::{InputError, SecretSpec};
use keyrevoke_core::exchange::ExchangeSet;
use keyrevoke_core::{Credential, ExchangeId, Secret};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rotate a key once the exchange says it is older than this, unless the
/// plan says otherwise.
pub const DEFAULT_MAX_AGE_DAYS: u32 = 90;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    sink: Option<toml::Value>,
    #[serde(default)]
    keys: Vec<toml::Spanned<KeyFields>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFields {
    exchange: String,
    label: String,
    api_key: String,
    account: String,
    via: String,
    max_age_days: Option<u32>,
    passphrase: Option<String>,
}

/// One key of the plan, checked against the config.
#[derive(Clone, Debug)]
pub struct PlannedKey {
    pub exchange: ExchangeId,
    /// Unique within the plan: names the secret in the sink.
    pub label: String,
    /// The key to replace, as the plan names it (a past rotation's ledger
    /// may name a newer one).
    pub api_key: String,
    pub account: String,
    /// The config credential that creates and deletes the sub keys.
    pub via: Arc<Credential>,
    pub max_age_days: u32,
    /// The old key's own passphrase (KuCoin deletes a sub key only with it).
    pub passphrase: Option<Secret>,
    pub line: u64,
}

pub struct RotationPlan {
    pub path: PathBuf,
    /// The `[sink]` table, opened by `keyrevoke_sink`.
    pub sink: toml::Value,
    pub keys: Vec<PlannedKey>,
}

impl RotationPlan {
    /// The folder the plan's relative paths are taken from.
    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> u64 {
    text[..offset.min(text.len())].matches('\n').count() as u64 + 1
}

pub fn load(
    path: &Path,
    config: &Config,
    known: &ExchangeSet,
) -> Result<RotationPlan, Vec<InputError>> {
    let err = |line, field: Option<&str>, msg: String| InputError::new(path, line, field, msg);
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![err(None, None, format!("cannot read the plan: {e}"))])?;
    let file: PlanFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start));
        vec![err(line, None, e.message().to_string())]
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    let Some(sink) = file.sink else {
        return Err(vec![err(
            None,
            Some("sink"),
            "the plan has no [sink]: say where new secrets go".into(),
        )]);
    };
    if file.keys.is_empty() {
        problems.push(err(None, Some("keys"), "the plan names no [[keys]]".into()));
    }
    let mut labels = HashSet::new();
    let mut keys = Vec::new();
    for spanned in &file.keys {
        let line = line_of(&text, spanned.span().start);
        let k = spanned.get_ref();
        let mut bad = |field: &str, msg: String| problems.push(err(Some(line), Some(field), msg));
        let exchange = match known.parse(&k.exchange) {
            Ok(x) => x,
            Err(e) => {
                bad("exchange", e.to_string());
                continue;
            }
        };
        if k.label.is_empty() || k.label.contains(['/', '\\']) || k.label.starts_with('.') {
            bad(
                "label",
                format!("`{}`: a label names a file: no slash, not empty, no leading dot", k.label),
            );
        }
        if !labels.insert((exchange, k.label.clone())) {
            bad("label", format!("`{}` is used twice for {exchange}", k.label));
        }
        for (field, value) in [("api_key", &k.api_key), ("account", &k.account)] {
            if value.trim().is_empty() {
                bad(field, "must not be empty".into());
            }
        }
        let via = match config.credentials.get(&k.via) {
            Some(c) if c.exchange == exchange => Some(c.clone()),
            Some(c) => {
                bad(
                    "via",
                    format!("credential `{}` is for {}, not {exchange}", k.via, c.exchange),
                );
                None
            }
            None => {
                bad(
                    "via",
                    format!("no credential `{}` in the config's [credentials]", k.via),
                );
                None
            }
        };
        if k.max_age_days == Some(0) {
            bad("max_age_days", "must be at least 1".into());
        }
        let passphrase = match &k.passphrase {
            None => None,
            Some(raw) => match SecretSpec::parse(raw, dir).resolve() {
                Ok(s) => Some(s),
                Err(e) => {
                    bad("passphrase", e);
                    None
                }
            },
        };
        if let Some(via) = via {
            keys.push(PlannedKey {
                exchange,
                label: k.label.clone(),
                api_key: k.api_key.trim().to_string(),
                account: k.account.trim().to_string(),
                via,
                max_age_days: k.max_age_days.unwrap_or(DEFAULT_MAX_AGE_DAYS),
                passphrase,
                line,
            });
        }
    }
    if problems.is_empty() {
        Ok(RotationPlan {
            path: path.to_path_buf(),
            sink,
            keys,
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> ExchangeSet {
        crate::app::registry::exchanges()
    }

    fn config() -> Config {
        let text = r#"
[credentials.acme]
exchange = "bybit"
api_key = "MASTERKEY0001"
api_secret = "s3cret"
"#;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, text).unwrap();
        Config::load(&p, &known()).unwrap()
    }

    fn load_text(text: &str) -> Result<RotationPlan, Vec<InputError>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.toml");
        std::fs::write(&p, text).unwrap();
        load(&p, &config(), &known())
    }

    const SINK: &str = "[sink]\nkind = \"age\"\nrecipients = [\"age1x\"]\n";

    #[test]
    fn a_good_plan_loads_with_defaults() {
        let plan = load_text(&format!(
            "{SINK}\n[[keys]]\nexchange = \"bybit\"\nlabel = \"bot-1\"\napi_key = \"K1\"\naccount = \"1001\"\nvia = \"acme\"\n"
        ))
        .unwrap();
        assert_eq!(plan.keys.len(), 1);
        assert_eq!(plan.keys[0].max_age_days, DEFAULT_MAX_AGE_DAYS);
        assert_eq!(plan.keys[0].line, 5);
        assert_eq!(plan.keys[0].via.name, "acme");
    }

    #[test]
    fn each_problem_names_its_line_and_field() {
        let errs = load_text(&format!(
            "{SINK}\n[[keys]]\nexchange = \"bybit\"\nlabel = \"a\"\napi_key = \"K1\"\naccount = \"1\"\nvia = \"nobody\"\n\n[[keys]]\nexchange = \"okx\"\nlabel = \"a/b\"\napi_key = \"K2\"\naccount = \"s\"\nvia = \"acme\"\nmax_age_days = 0\n"
        ))
        .err()
        .unwrap();
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert!(shown.iter().any(|e| e.contains(":5") && e.contains("via")), "{shown:?}");
        assert!(shown.iter().any(|e| e.contains(":12") && e.contains("label")), "{shown:?}");
        assert!(
            shown.iter().any(|e| e.contains(":12") && e.contains("credential `acme` is for bybit")),
            "{shown:?}"
        );
        assert!(shown.iter().any(|e| e.contains("max_age_days")), "{shown:?}");
    }

    #[test]
    fn an_unknown_field_or_a_missing_sink_is_refused() {
        let errs = load_text("[[keys]]\nexchange = \"bybit\"\nlabel = \"a\"\napi_key = \"K\"\naccount = \"1\"\nvia = \"acme\"\ncolour = \"red\"\n")
            .err()
            .unwrap();
        assert!(errs[0].to_string().contains("colour"), "{}", errs[0]);
        assert!(errs[0].line.is_some());
        let errs = load_text("[[keys]]\nexchange = \"bybit\"\nlabel = \"a\"\napi_key = \"K\"\naccount = \"1\"\nvia = \"acme\"\n")
            .err()
            .unwrap();
        assert!(errs[0].to_string().contains("[sink]"), "{}", errs[0]);
    }
}
