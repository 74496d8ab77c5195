//! The rotation plan's `[sink]` table and the sink it opens.
//!
//! ```toml
//! [sink]
//! kind = "age"                 # the default
//! dir = "rotated"              # relative to the plan's folder
//! recipients = ["age1…"]       # and/or recipients_file = "…"
//!
//! # kind = "vault"
//! # address = "http://127.0.0.1:8200", token = "env:VAULT_TOKEN",
//! # mount = "secret", prefix = "keyrevoke/"
//! ```
//!
//! One flat table rather than a serde-tagged enum: `kind` may be left out
//! (age is the default), and a field of the other kind gets an error that
//! names it instead of serde's "unknown field" on a field that exists.

use crate::age::AgeSink;
use crate::vault::VaultSink;
use crate::{SecretSink, SinkError};
use keyrevoke_core::http::parse_base_url;
use keyrevoke_core::inventory::SecretSpec;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// The age sink's folder when the plan names none.
pub const DEFAULT_AGE_DIR: &str = "rotated";
/// The KV v2 mount a Vault dev server has from the start.
pub const DEFAULT_VAULT_MOUNT: &str = "secret";
pub const DEFAULT_VAULT_PREFIX: &str = "keyrevoke/";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    #[default]
    Age,
    Vault,
}

impl SinkKind {
    fn name(self) -> &'static str {
        match self {
            SinkKind::Age => "age",
            SinkKind::Vault => "vault",
        }
    }
}

/// The `[sink]` table as written. No `Debug` derive: `token` may hold the
/// Vault token itself.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSpec {
    #[serde(default)]
    pub kind: SinkKind,
    // kind = "age"
    pub dir: Option<String>,
    pub recipients: Option<Vec<String>>,
    pub recipients_file: Option<String>,
    // kind = "vault"
    pub address: Option<String>,
    /// A value, `env:NAME` or `file:PATH`, as any secret field.
    pub token: Option<String>,
    pub mount: Option<String>,
    pub prefix: Option<String>,
}

impl fmt::Debug for SinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkSpec")
            .field("kind", &self.kind)
            .field("dir", &self.dir)
            .field("recipients", &self.recipients)
            .field("recipients_file", &self.recipients_file)
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("mount", &self.mount)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// `sink.<field>: <why>`, the form every settings error takes.
pub(crate) fn field_error(field: &str, why: impl fmt::Display) -> SinkError {
    SinkError::Config(format!("sink.{field}: {why}"))
}

/// Open the sink `spec` describes; relative paths are taken from
/// `plan_dir`, the folder of the plan that holds it. Nothing is written:
/// [`SecretSink::preflight`] checks that the sink takes writes.
pub fn open(spec: &SinkSpec, plan_dir: &Path) -> Result<Box<dyn SecretSink>, SinkError> {
    spec.refuse_fields_of_other_kind()?;
    match spec.kind {
        SinkKind::Age => {
            let dir = relative_to(plan_dir, spec.dir.as_deref().unwrap_or(DEFAULT_AGE_DIR));
            let recipients = spec.age_recipients(plan_dir)?;
            Ok(Box::new(AgeSink::new(dir, &recipients)?))
        }
        SinkKind::Vault => {
            let address = spec
                .address
                .as_deref()
                .ok_or_else(|| field_error("address", "required for kind = \"vault\""))?;
            let address = parse_base_url(address).map_err(|why| field_error("address", why))?;
            let token = spec
                .token
                .as_deref()
                .ok_or_else(|| field_error("token", "required for kind = \"vault\""))?;
            let token = SecretSpec::parse(token.trim(), plan_dir)
                .resolve()
                .map_err(|why| field_error("token", why))?;
            let mount = spec.mount.as_deref().unwrap_or(DEFAULT_VAULT_MOUNT);
            let prefix = spec.prefix.as_deref().unwrap_or(DEFAULT_VAULT_PREFIX);
            Ok(Box::new(VaultSink::new(address, token, mount, prefix)?))
        }
    }
}

impl SinkSpec {
    /// A field of the other kind is a mistake (a vault plan with `dir`
    /// left over would store nothing there): say which.
    fn refuse_fields_of_other_kind(&self) -> Result<(), SinkError> {
        let age_fields = [
            ("dir", self.dir.is_some()),
            ("recipients", self.recipients.is_some()),
            ("recipients_file", self.recipients_file.is_some()),
        ];
        let vault_fields = [
            ("address", self.address.is_some()),
            ("token", self.token.is_some()),
            ("mount", self.mount.is_some()),
            ("prefix", self.prefix.is_some()),
        ];
        let foreign = match self.kind {
            SinkKind::Age => vault_fields.as_slice(),
            SinkKind::Vault => age_fields.as_slice(),
        };
        match foreign.iter().find(|(_, set)| *set) {
            Some((field, _)) => Err(field_error(
                field,
                format!("not a setting of kind = \"{}\"", self.kind.name()),
            )),
            None => Ok(()),
        }
    }

    /// `recipients` and the lines of `recipients_file` together, each with
    /// the place it came from for errors. The file has the format of
    /// `age -R` recipients files (age(1), "Recipient files"): one per line,
    /// lines starting with `#` and empty lines ignored, as the age crate's
    /// own identity-file parser does.
    fn age_recipients(&self, plan_dir: &Path) -> Result<Vec<(String, String)>, SinkError> {
        let mut found = Vec::new();
        for (i, r) in self.recipients.iter().flatten().enumerate() {
            found.push((format!("sink.recipients[{i}]"), r.trim().to_string()));
        }
        if let Some(file) = &self.recipients_file {
            let path = relative_to(plan_dir, file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                field_error(
                    "recipients_file",
                    format!("cannot read `{}`: {e}", path.display()),
                )
            })?;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if !line.is_empty() && !line.starts_with('#') {
                    found.push((
                        format!("sink.recipients_file line {}", i + 1),
                        line.to_string(),
                    ));
                }
            }
        }
        if found.is_empty() {
            return Err(field_error(
                "recipients",
                "no recipient: give `recipients` or a `recipients_file` with at least one",
            ));
        }
        Ok(found)
    }
}

fn relative_to(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path.trim());
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPIENT: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    fn spec(toml_text: &str) -> Result<SinkSpec, String> {
        #[derive(Deserialize)]
        struct Plan {
            sink: SinkSpec,
        }
        toml::from_str::<Plan>(toml_text)
            .map(|p| p.sink)
            .map_err(|e| e.to_string())
    }

    fn open_err(toml_text: &str, plan_dir: &Path) -> String {
        match open(&spec(toml_text).unwrap(), plan_dir) {
            Ok(sink) => panic!("opened {}", sink.describe()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn kind_defaults_to_age_in_the_plans_folder() {
        let plan_dir = Path::new("/plans/acme");
        let s = spec(&format!("[sink]\nrecipients = [\"{RECIPIENT}\"]\n")).unwrap();
        assert_eq!(s.kind, SinkKind::Age);
        let sink = open(&s, plan_dir).unwrap();
        assert_eq!(sink.describe(), "age files under /plans/acme/rotated");
        assert_eq!(
            sink.location("bybit", "bot-17"),
            "/plans/acme/rotated/bybit/bot-17.age"
        );
    }

    #[test]
    fn an_unknown_field_is_refused_by_name() {
        let err = spec("[sink]\nkind = \"age\"\nrecipent = []\n").unwrap_err();
        assert!(err.contains("unknown field `recipent`"), "{err}");
        let err = spec("[sink]\nkind = \"s3\"\n").unwrap_err();
        assert!(err.contains("unknown variant `s3`"), "{err}");
    }

    #[test]
    fn a_field_of_the_other_kind_is_named() {
        let dir = Path::new("/p");
        let err = open_err(
            &format!("[sink]\nrecipients = [\"{RECIPIENT}\"]\nmount = \"secret\"\n"),
            dir,
        );
        assert_eq!(err, "sink.mount: not a setting of kind = \"age\"");
        let err = open_err(
            "[sink]\nkind = \"vault\"\naddress = \"http://127.0.0.1:1\"\ntoken = \"t\"\ndir = \"x\"\n",
            dir,
        );
        assert_eq!(err, "sink.dir: not a setting of kind = \"vault\"");
    }

    #[test]
    fn age_needs_a_recipient_and_names_a_bad_one() {
        let dir = Path::new("/p");
        let err = open_err("[sink]\nkind = \"age\"\n", dir);
        assert!(err.starts_with("sink.recipients: no recipient"), "{err}");
        let err = open_err(
            &format!("[sink]\nrecipients = [\"{RECIPIENT}\", \"age1nope\"]\n"),
            dir,
        );
        assert!(err.starts_with("sink.recipients[1]: `age1nope`"), "{err}");
    }

    #[test]
    fn a_recipients_file_is_read_beside_the_plan_with_comments_skipped() {
        let plan = tempfile::tempdir().unwrap();
        std::fs::write(
            plan.path().join("team.txt"),
            format!("# ops team\n\n{RECIPIENT}\nage1broken\n"),
        )
        .unwrap();
        let err = open_err("[sink]\nrecipients_file = \"team.txt\"\n", plan.path());
        assert!(
            err.starts_with("sink.recipients_file line 4: `age1broken`"),
            "{err}"
        );
        std::fs::write(
            plan.path().join("team.txt"),
            format!("# ops\n{RECIPIENT}\n"),
        )
        .unwrap();
        let spec = spec("[sink]\nrecipients_file = \"team.txt\"\n").unwrap();
        assert!(open(&spec, plan.path()).is_ok());
        let err = open_err("[sink]\nrecipients_file = \"gone.txt\"\n", plan.path());
        assert!(
            err.starts_with("sink.recipients_file: cannot read `"),
            "{err}"
        );
    }

    #[test]
    fn vault_defaults_mount_and_prefix_and_reads_the_token_reference() {
        let plan = tempfile::tempdir().unwrap();
        std::fs::write(plan.path().join("token"), "s.file-token\n").unwrap();
        let s = spec(
            "[sink]\nkind = \"vault\"\naddress = \"http://127.0.0.1:8200\"\ntoken = \"file:token\"\n",
        )
        .unwrap();
        let sink = open(&s, plan.path()).unwrap();
        assert_eq!(sink.describe(), "vault http://127.0.0.1:8200/secret");
        assert_eq!(
            sink.location("okx", "mm-1"),
            "secret/data/keyrevoke/okx/mm-1"
        );
        assert!(!format!("{s:?}").contains("file:token"), "{s:?}");
    }

    #[test]
    fn vault_settings_errors_name_their_field_and_never_the_token() {
        let dir = Path::new("/p");
        let err = open_err("[sink]\nkind = \"vault\"\ntoken = \"t\"\n", dir);
        assert_eq!(err, "sink.address: required for kind = \"vault\"");
        let err = open_err(
            "[sink]\nkind = \"vault\"\naddress = \"http://10.0.0.9:8200\"\ntoken = \"t\"\n",
            dir,
        );
        assert!(
            err.starts_with("sink.address: ") && err.contains("non-loopback"),
            "{err}"
        );
        let err = open_err(
            "[sink]\nkind = \"vault\"\naddress = \"https://vault.example\"\n",
            dir,
        );
        assert_eq!(err, "sink.token: required for kind = \"vault\"");
        let err = open_err(
            "[sink]\nkind = \"vault\"\naddress = \"https://vault.example\"\ntoken = \"env:KEYREVOKE_SINK_TEST_UNSET_TOKEN\"\n",
            dir,
        );
        assert_eq!(
            err,
            "sink.token: environment variable `KEYREVOKE_SINK_TEST_UNSET_TOKEN` is not set"
        );
        let err = open_err(
            "[sink]\nkind = \"vault\"\naddress = \"https://vault.example\"\ntoken = \"hunter2-token\"\nprefix = \"../x/\"\n",
            dir,
        );
        assert!(err.starts_with("sink.prefix: "), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = open_err(
            "[sink]\nkind = \"vault\"\naddress = \"https://vault.example\"\ntoken = \"hunter2-token\"\nmount = \"\"\n",
            dir,
        );
        assert!(err.starts_with("sink.mount: "), "{err}");
    }
}
