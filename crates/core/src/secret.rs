//! Secret values and the only forms of a key that may be displayed.
//!
//! A [`Secret`] zeroizes on drop, prints as `[redacted]` and can only be read
//! through [`Secret::expose`], which connectors call while signing.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(SecretString::from(value))
    }

    /// The secret's value, for signing only. Never log or format it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `AKIA…9XQZ`: enough for an operator to recognise a key, not to use it.
/// Short keys show fewer characters so that at least half stays hidden.
pub fn mask_key(api_key: &str) -> String {
    let chars: Vec<char> = api_key.chars().collect();
    let shown = match chars.len() {
        0..=4 => 0,
        5..=11 => 2,
        _ => 4,
    };
    if shown == 0 {
        return "…".to_string();
    }
    let head: String = chars[..shown].iter().collect();
    let tail: String = chars[chars.len() - shown..].iter().collect();
    format!("{head}…{tail}")
}

/// The shortest run of key characters taken for an API key: the keys of
/// every supported exchange are longer (Bybit 18, KuCoin 24, OKX 36,
/// Binance 64), and a 13-digit timestamp is shorter.
const KEY_LIKE_MIN_LEN: usize = 16;

/// Mask, as [`mask_key`] does, every run of letters, digits, `-` and `_` in
/// an exchange's message that could be an API key: 16 characters or more,
/// with both a letter and a digit. Exchanges echo keys in their errors
/// (Bybit's 10004 "error sign" quotes the signed string, the key in it);
/// messages reach the journal, the audit and the logs, which hold masked
/// keys only. Plain words and numbers pass unchanged.
pub fn redact_api_keys(text: &str) -> std::borrow::Cow<'_, str> {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let key_like = |run: &str| {
        run.len() >= KEY_LIKE_MIN_LEN
            && run.chars().any(|c| c.is_ascii_alphabetic())
            && run.chars().any(|c| c.is_ascii_digit())
    };
    if !text.split(|c| !is_key_char(c)).any(key_like) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut run_start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (is_key_char(c) && i < text.len(), run_start) {
            (true, None) => run_start = Some(i),
            (true, Some(_)) => {}
            (false, start) => {
                if let Some(start) = start {
                    let run = &text[start..i];
                    if key_like(run) {
                        out.push_str(&mask_key(run));
                    } else {
                        out.push_str(run);
                    }
                    run_start = None;
                }
                if i < text.len() {
                    out.push(c);
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// SHA-256 of the API key, hex. The journal and the audit identify a key by
/// it; [`Fingerprint::short`] is the prefix shown to people.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(api_key: &str) -> Self {
        Fingerprint(hex::encode(Sha256::digest(api_key.as_bytes())))
    }

    pub fn from_hex(hex: String) -> Self {
        Fingerprint(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 16-hex-digit prefix used in reports and audit records.
    pub fn short(&self) -> &str {
        &self.0[..16.min(self.0.len())]
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.short())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_secret_is_redacted() {
        let s = Secret::from("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn keys_echoed_in_a_message_are_masked_and_the_rest_kept() {
        // Bybit's 10004 quotes what was signed: timestamp, key, window, body.
        let msg = "error sign! origin_string[1676431576621XqZ7mR2pL9vT4wK8hB5000{}]";
        let out = redact_api_keys(msg);
        assert!(!out.contains("XqZ7mR2pL9vT4wK8hB"), "{out}");
        assert!(out.starts_with("error sign! origin_string[1676…"), "{out}");
        assert!(out.ends_with("{}]"), "{out}");
        let okx = "apiKey 4f2a9c1e-7b3d-4e5f-8a6b-0c1d2e3f4a5b does not exist";
        assert_eq!(redact_api_keys(okx), "apiKey 4f2a…4a5b does not exist");
        for plain in [
            "Permission denied, please check your API key permissions.",
            "IP banned until 1676431576621.",
            "origin_string",
        ] {
            assert_eq!(redact_api_keys(plain), plain, "left as it is");
        }
    }

    #[test]
    fn masking_keeps_at_most_half_of_a_key() {
        assert_eq!(mask_key("AKIAIOSFODNN7EXAMPLE9XQZ"), "AKIA…9XQZ");
        assert_eq!(mask_key("abcdefgh"), "ab…gh");
        assert_eq!(mask_key("abc"), "…");
    }

    #[test]
    fn fingerprint_is_sha256_hex_of_the_key() {
        // sha256("abc") from FIPS 180-2, appendix B.1.
        let f = Fingerprint::of("abc");
        assert_eq!(
            f.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(f.short(), "ba7816bf8f01cfea");
    }
}
