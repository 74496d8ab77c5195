//! The canonical form of an audit record, its hash and its HMAC.
//!
//! Everything that decides which bytes get hashed lives here, so that the
//! writer and the verifier cannot drift apart. The crate documentation
//! states the same rules in prose for independent verifiers.

use hmac::{Hmac, Mac};
use keyrevoke_core::Secret;
use keyrevoke_core::store::{AuditEvent, AuditKind};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt;
use std::io::Write as _;

/// `prev` of the first record: 64 zeros.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The `outcome` of the `run` record that [`crate::AuditLog::open`] appends
/// after cutting off a torn tail; [`crate::verify`] counts these records.
pub const TORN_TAIL_REPAIRED: &str = "torn_tail_repaired";

/// 32 bytes as 64 lowercase hex digits, kept inline: the writer computes two
/// of these per record and should not allocate for them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hex32([u8; 64]);

impl Hex32 {
    pub(crate) const GENESIS: Hex32 = Hex32([b'0'; 64]);

    pub(crate) fn from_bytes(bytes: &[u8]) -> Hex32 {
        let mut out = [0u8; 64];
        // Cannot fail: 32 bytes always fill exactly 64 hex digits.
        hex::encode_to_slice(bytes, &mut out).expect("32 bytes encode to 64 hex digits");
        Hex32(out)
    }

    /// SHA-256 of `bytes`.
    pub(crate) fn sha256(bytes: &[u8]) -> Hex32 {
        Hex32::from_bytes(&Sha256::digest(bytes))
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }

    /// Parse 64 lowercase hex digits (the only spelling the format allows).
    pub(crate) fn parse(text: &str) -> Option<Hex32> {
        let bytes: [u8; 64] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            .then_some(Hex32(bytes))
    }
}

impl fmt::Debug for Hex32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// HMAC-SHA256 keyed with the operator's signing key. The key itself is
/// only ever held inside the HMAC state (which does not print it).
#[derive(Clone)]
pub(crate) struct Signer {
    mac: Hmac<Sha256>,
}

impl Signer {
    pub(crate) fn new(key: &Secret) -> Result<Signer, String> {
        if key.is_empty() {
            return Err("the audit signing key is empty".to_string());
        }
        let mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
            .map_err(|_| "the audit signing key cannot key HMAC-SHA256".to_string())?;
        Ok(Signer { mac })
    }

    /// HMAC over the record's `hash` as its 64 ASCII hex digits.
    pub(crate) fn sign(&self, hash: &Hex32) -> Hex32 {
        let mut mac = self.mac.clone();
        mac.update(hash.as_str().as_bytes());
        Hex32::from_bytes(&mac.finalize().into_bytes())
    }

    /// Constant-time check of a stored `hmac` against `hash`.
    pub(crate) fn verifies(&self, hash: &Hex32, stored_hmac: &str) -> bool {
        let Ok(tag) = hex::decode(stored_hmac) else {
            return false;
        };
        let mut mac = self.mac.clone();
        mac.update(hash.as_str().as_bytes());
        mac.verify_slice(&tag).is_ok()
    }
}

/// The fields a record's hash covers, in canonical order. Optional fields
/// that are `None` are left out of the serialization altogether.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Body<'a> {
    pub seq: u64,
    pub time: &'a str,
    pub kind: Option<&'a str>,
    pub exchange: Option<&'a str>,
    pub key: Option<&'a str>,
    pub fingerprint: Option<&'a str>,
    pub action: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub route: Option<&'a str>,
    pub http_status: Option<u16>,
    pub exchange_code: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub message: Option<&'a str>,
    pub prev: &'a str,
}

pub(crate) fn kind_name(kind: AuditKind) -> &'static str {
    match kind {
        AuditKind::Attempt => "attempt",
        AuditKind::Probe => "probe",
        AuditKind::Outcome => "outcome",
        AuditKind::Run => "run",
    }
}

impl<'a> Body<'a> {
    pub(crate) fn of_event(seq: u64, time: &'a str, event: &'a AuditEvent, prev: &'a str) -> Self {
        Body {
            seq,
            time,
            kind: event.kind.map(kind_name),
            exchange: event.exchange.map(|e| e.as_str()),
            key: event.key.as_deref(),
            fingerprint: event.fingerprint.as_deref(),
            action: event.action.map(|a| a.as_str()),
            channel: event.channel.as_deref(),
            route: event.route.map(|r| r.as_str()),
            http_status: event.http_status,
            exchange_code: event.exchange_code.as_deref(),
            outcome: event.outcome.as_deref(),
            message: event.message.as_deref(),
            prev,
        }
    }

    /// Append the canonical bytes that the record's `hash` covers:
    /// `{"seq":N,"time":"..",<present optional fields>,"prev":".."}`.
    pub(crate) fn write_canonical(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"seq\":");
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{}", self.seq);
        string_field(out, "time", Some(self.time));
        string_field(out, "kind", self.kind);
        string_field(out, "exchange", self.exchange);
        string_field(out, "key", self.key);
        string_field(out, "fingerprint", self.fingerprint);
        string_field(out, "action", self.action);
        string_field(out, "channel", self.channel);
        string_field(out, "route", self.route);
        if let Some(status) = self.http_status {
            out.extend_from_slice(b",\"http_status\":");
            let _ = write!(out, "{status}");
        }
        string_field(out, "exchange_code", self.exchange_code);
        string_field(out, "outcome", self.outcome);
        string_field(out, "message", self.message);
        string_field(out, "prev", Some(self.prev));
        out.push(b'}');
    }
}

fn string_field(out: &mut Vec<u8>, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        out.push(b',');
        write_json_string(out, name);
        out.push(b':');
        write_json_string(out, value);
    }
}

/// A JSON string with the minimal escaping of RFC 8259 (the same bytes
/// `serde_json`'s compact writer produces): `"` and `\` are escaped as
/// `\"` and `\\`; U+0008, U+0009, U+000A, U+000C, U+000D as `\b`, `\t`,
/// `\n`, `\f`, `\r`; every other control character below U+0020 as `\u00XX`
/// with lowercase hex; everything else (`/`, U+007F, all non-ASCII) is
/// written as its raw UTF-8 bytes.
pub(crate) fn write_json_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        plain_from = i + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

/// Turn `out[body_start..]`, which must hold a canonical body, into a full
/// record line: `..,"prev":"..","hash":"..."[,"hmac":".."]}` plus `\n`.
/// Returns the record's hash.
pub(crate) fn seal(out: &mut Vec<u8>, body_start: usize, signer: Option<&Signer>) -> Hex32 {
    let hash = Hex32::sha256(&out[body_start..]);
    let hmac = signer.map(|s| s.sign(&hash));
    close_line(out, &hash, hmac.as_ref().map(Hex32::as_str));
    out.push(b'\n');
    hash
}

/// Replace the body's closing `}` by the `hash` (and `hmac`) members and
/// close the object again.
fn close_line(out: &mut Vec<u8>, hash: &Hex32, hmac: Option<&str>) {
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
    out.extend_from_slice(b",\"hash\":\"");
    out.extend_from_slice(hash.as_str().as_bytes());
    out.push(b'"');
    if let Some(hmac) = hmac {
        out.extend_from_slice(b",\"hmac\":");
        write_json_string(out, hmac);
    }
    out.push(b'}');
}

/// The writer's side of the chain: the next seq, the previous hash and the
/// optional signer.
pub(crate) struct Chain {
    next_seq: u64,
    prev: Hex32,
    signer: Option<Signer>,
}

impl Chain {
    pub(crate) fn resume(last_seq: u64, last_hash: Hex32, signer: Option<Signer>) -> Chain {
        Chain {
            next_seq: last_seq + 1,
            prev: last_hash,
            signer,
        }
    }

    /// Stamp `event` as the next record and append its line to `out`.
    pub(crate) fn append(&mut self, time: &str, event: &AuditEvent, out: &mut Vec<u8>) {
        let start = out.len();
        Body::of_event(self.next_seq, time, event, self.prev.as_str()).write_canonical(out);
        self.prev = seal(out, start, self.signer.as_ref());
        self.next_seq += 1;
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    pub(crate) fn last_hash(&self) -> Hex32 {
        self.prev
    }
}

/// A record line as read back from disk. Values stay text so that the
/// verifier does not depend on which exchanges or actions this build knows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredRecord<'a> {
    pub seq: u64,
    #[serde(borrow)]
    pub time: Cow<'a, str>,
    #[serde(borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub exchange: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub key: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub fingerprint: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub action: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub route: Option<Cow<'a, str>>,
    #[serde(default)]
    pub http_status: Option<u16>,
    #[serde(borrow, default)]
    pub exchange_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub outcome: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub prev: Cow<'a, str>,
    #[serde(borrow)]
    pub hash: Cow<'a, str>,
    #[serde(borrow, default)]
    pub hmac: Option<Cow<'a, str>>,
}

impl StoredRecord<'_> {
    pub(crate) fn body(&self) -> Body<'_> {
        Body {
            seq: self.seq,
            time: &self.time,
            kind: self.kind.as_deref(),
            exchange: self.exchange.as_deref(),
            key: self.key.as_deref(),
            fingerprint: self.fingerprint.as_deref(),
            action: self.action.as_deref(),
            channel: self.channel.as_deref(),
            route: self.route.as_deref(),
            http_status: self.http_status,
            exchange_code: self.exchange_code.as_deref(),
            outcome: self.outcome.as_deref(),
            message: self.message.as_deref(),
            prev: &self.prev,
        }
    }

    /// Hash of this record's canonical body, computed in `scratch`; on
    /// return `scratch` holds the full canonical line (without `\n`) that
    /// this record must have been written as, carrying its stored `hash`
    /// and `hmac` so that a non-canonical spelling can be told from an edit.
    pub(crate) fn rehash(&self, scratch: &mut Vec<u8>) -> Hex32 {
        scratch.clear();
        self.body().write_canonical(scratch);
        let computed = Hex32::sha256(scratch);
        scratch.pop();
        scratch.extend_from_slice(b",\"hash\":");
        write_json_string(scratch, &self.hash);
        if let Some(hmac) = &self.hmac {
            scratch.extend_from_slice(b",\"hmac\":");
            write_json_string(scratch, hmac);
        }
        scratch.push(b'}');
        computed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::{Action, ExchangeId, Route};

    #[test]
    fn json_strings_match_serde_json_byte_for_byte() {
        let tricky = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "controls \u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} del \u{7f}",
            "unicode … é 日本 😀 line-sep \u{2028}",
        ];
        for text in tricky {
            let mut ours = Vec::new();
            write_json_string(&mut ours, text);
            let theirs = serde_json::to_string(text).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                theirs,
                "escaping of {text:?} differs from serde_json"
            );
        }
    }

    #[test]
    fn canonical_body_has_fixed_order_and_omits_absent_fields() {
        let event = AuditEvent {
            kind: Some(AuditKind::Attempt),
            exchange: Some(ExchangeId::new("bybit")),
            key: Some("AKIA…9XQZ".into()),
            action: Some(Action::Revoke),
            route: Some(Route::DeleteSelf),
            http_status: Some(200),
            message: Some("ok".into()),
            ..AuditEvent::default()
        };
        let mut out = Vec::new();
        Body::of_event(7, "2025-01-02T03:04:05.678Z", &event, GENESIS_PREV)
            .write_canonical(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "{{\"seq\":7,\"time\":\"2025-01-02T03:04:05.678Z\",\"kind\":\"attempt\",\"exchange\":\"bybit\",\
                 \"key\":\"AKIA…9XQZ\",\"action\":\"revoke\",\"route\":\"delete_self\",\"http_status\":200,\
                 \"message\":\"ok\",\"prev\":\"{GENESIS_PREV}\"}}"
            )
        );
    }

    /// An independent recomputation (serde_json for the escaping, `format!`
    /// for the layout, sha2/hmac directly) must give the writer's hash and
    /// HMAC: the documented rules are enough to verify a log.
    #[test]
    fn hash_and_hmac_are_reproducible_from_the_documented_rules() {
        let event = AuditEvent {
            kind: Some(AuditKind::Outcome),
            exchange: Some(ExchangeId::new("okx")),
            fingerprint: Some("ba7816bf8f01cfea".into()),
            outcome: Some("revoked".into()),
            message: Some("tab\there \"quoted\"".into()),
            ..AuditEvent::default()
        };
        let key = Secret::from("operator-signing-key");
        let mut chain = Chain::resume(0, Hex32::GENESIS, Some(Signer::new(&key).unwrap()));
        let mut line = Vec::new();
        chain.append("2025-01-02T03:04:05.678Z", &event, &mut line);
        let line = String::from_utf8(line).unwrap();

        let q = |s: &str| serde_json::to_string(s).unwrap();
        let body = format!(
            "{{\"seq\":1,\"time\":{},\"kind\":{},\"exchange\":{},\"fingerprint\":{},\"outcome\":{},\"message\":{},\"prev\":{}}}",
            q("2025-01-02T03:04:05.678Z"),
            q("outcome"),
            q("okx"),
            q("ba7816bf8f01cfea"),
            q("revoked"),
            q("tab\there \"quoted\""),
            q(GENESIS_PREV)
        );
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"operator-signing-key").unwrap();
        mac.update(hash.as_bytes());
        let hmac = hex::encode(mac.finalize().into_bytes());
        let expected = format!(
            "{},\"hash\":\"{hash}\",\"hmac\":\"{hmac}\"}}\n",
            &body[..body.len() - 1]
        );
        assert_eq!(line, expected);
        assert_eq!(chain.last_hash().as_str(), hash);
    }

    /// The example line of the crate documentation, as a known answer.
    #[test]
    fn the_documented_example_line_is_what_the_writer_produces() {
        let event = AuditEvent {
            kind: Some(AuditKind::Attempt),
            exchange: Some(ExchangeId::new("bybit")),
            key: Some(keyrevoke_core::mask_key("AKIAIOSFODNN7EXAMPLE9XQZ")),
            fingerprint: Some(
                keyrevoke_core::Fingerprint::of("AKIAIOSFODNN7EXAMPLE9XQZ")
                    .short()
                    .to_string(),
            ),
            action: Some(Action::Revoke),
            channel: Some("delete".into()),
            route: Some(Route::DeleteSelf),
            http_status: Some(200),
            exchange_code: Some("0".into()),
            outcome: Some("revoked".into()),
            message: Some("api key deleted".into()),
        };
        let key = Secret::from("operator-signing-key");
        let mut chain = Chain::resume(0, Hex32::GENESIS, Some(Signer::new(&key).unwrap()));
        let mut line = Vec::new();
        chain.append("2025-01-02T03:04:05.678Z", &event, &mut line);
        let documented = concat!(
            r#"{"seq":1,"time":"2025-01-02T03:04:05.678Z","kind":"attempt","exchange":"bybit","#,
            r#""key":"AKIA…9XQZ","fingerprint":"5d565d1ab9d88002","action":"revoke","#,
            r#""channel":"delete","route":"delete_self","http_status":200,"exchange_code":"0","#,
            r#""outcome":"revoked","message":"api key deleted","#,
            r#""prev":"0000000000000000000000000000000000000000000000000000000000000000","#,
            r#""hash":"12eb6a734193d59a36dac1c3ff8738c100f0ba8458f3c72f713c3b7a402244e6","#,
            r#""hmac":"564d13b21cde86b5161ea61f4e957f95eb7261987b499b69e10b2dffb1ea7ff5"}"#,
            "\n"
        );
        assert_eq!(String::from_utf8(line).unwrap(), documented);
    }

    #[test]
    fn hex_parsing_accepts_only_64_lowercase_digits() {
        assert!(Hex32::parse(GENESIS_PREV).is_some());
        assert!(
            Hex32::parse(&"A".repeat(64)).is_none(),
            "uppercase must be refused"
        );
        assert!(
            Hex32::parse(&"a".repeat(63)).is_none(),
            "short must be refused"
        );
    }
}
