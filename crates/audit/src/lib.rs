//! Hash-chained, optionally HMAC-signed JSON Lines audit trail and its verifier.
//!
//! [`AuditLog`] implements [`keyrevoke_core::AuditSink`]: every `append`
//! returns once its record is on disk. [`verify`] checks a log and names the
//! first line that was edited, deleted, inserted, reordered or torn.
//!
//! # Record format
//!
//! The log is UTF-8 JSON Lines: one record per line, each line ending in
//! `\n`, nothing else in the file. A record is one JSON object whose members
//! appear in this fixed order:
//!
//! | member          | JSON type | presence                                       |
//! |-----------------|-----------|------------------------------------------------|
//! | `seq`           | integer   | always; 1 for the first line, then +1 per line |
//! | `time`          | string    | always; RFC 3339 UTC with milliseconds, e.g. `2025-01-02T03:04:05.678Z` |
//! | `kind`          | string    | if set: `attempt`, `probe`, `outcome`, `run`    |
//! | `exchange`      | string    | if set                                         |
//! | `key`           | string    | if set; the masked key (`AKIA…9XQZ`), never the key |
//! | `fingerprint`   | string    | if set                                         |
//! | `action`        | string    | if set                                         |
//! | `channel`       | string    | if set                                         |
//! | `route`         | string    | if set                                         |
//! | `http_status`   | integer   | if set                                         |
//! | `exchange_code` | string    | if set                                         |
//! | `outcome`       | string    | if set                                         |
//! | `message`       | string    | if set                                         |
//! | `prev`          | string    | always; the previous record's `hash`, 64 zeros for the first record |
//! | `hash`          | string    | always; see below                              |
//! | `hmac`          | string    | only when the log is signed; see below         |
//!
//! Absent fields are left out (never `null`).
//!
//! ## Canonical serialization
//!
//! A record is written in exactly one way, so that a verifier can recompute
//! the hashed bytes from the parsed values:
//!
//! - no whitespace anywhere: `{"name":value,"name":value}`;
//! - integers in plain decimal (no sign, no leading zeros, no exponent);
//! - strings with the minimal escaping of RFC 8259, as `serde_json` writes
//!   them: `"` → `\"`, `\` → `\\`, U+0008 → `\b`, U+0009 → `\t`,
//!   U+000A → `\n`, U+000C → `\f`, U+000D → `\r`, any other character below
//!   U+0020 → `\u00xx` (lowercase hex); every other character, including
//!   `/`, U+007F and all non-ASCII, as its raw UTF-8 bytes;
//! - `hash`, `prev` and `hmac` as 64 lowercase hex digits.
//!
//! ## Hash and HMAC
//!
//! - **`hash`** = lowercase hex SHA-256 of the canonical serialization of the
//!   record *without* `hash` and `hmac`, i.e. of the bytes
//!   `{"seq":…,"time":…,…,"prev":"…"}` (no trailing newline).
//! - **`hmac`** = lowercase hex HMAC-SHA256, keyed with the UTF-8 bytes of
//!   the operator's signing key, over the 64 ASCII characters of `hash`.
//! - The line on disk is that hashed object with `,"hash":"…"` (and then
//!   `,"hmac":"…"`) inserted before its closing `}`, followed by `\n`.
//!
//! Example: one signed line, with the signing key `operator-signing-key`
//! (a known-answer test in `record.rs` pins it):
//!
//! ```text
//! {"seq":1,"time":"2025-01-02T03:04:05.678Z","kind":"attempt","exchange":"bybit","key":"AKIA…9XQZ","fingerprint":"5d565d1ab9d88002","action":"revoke","channel":"delete","route":"delete_self","http_status":200,"exchange_code":"0","outcome":"revoked","message":"api key deleted","prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"12eb6a734193d59a36dac1c3ff8738c100f0ba8458f3c72f713c3b7a402244e6","hmac":"564d13b21cde86b5161ea61f4e957f95eb7261987b499b69e10b2dffb1ea7ff5"}
//! ```
//!
//! An independent check in Python, for instance: parse the line into an
//! (order-keeping) dict, pop `hash` and `hmac`, and hash
//! `json.dumps(record, separators=(",", ":"), ensure_ascii=False)` encoded
//! as UTF-8; the HMAC is `hmac.new(key, hash.encode(), sha256)`.
//!
//! ## Verification rules
//!
//! Line *n* (1-based) is sound when it parses as a record with only the
//! members above; its recomputed hash equals its `hash`; it is byte-for-byte
//! the canonical line for its values; its `seq` is *n*-th in the chain
//! (previous seq + 1, starting at 1); its `prev` equals the previous line's
//! `hash` (64 zeros on line 1); and, with a key, its `hmac` is valid. Without
//! a key, `hmac`s cannot be checked, but either every record carries one or
//! none does.
//!
//! ## Crash repair
//!
//! A crash mid-append can leave a partial last line (a record that was never
//! acknowledged). [`AuditLog::open`] cuts it off and appends a `run` record
//! with `outcome` = [`TORN_TAIL_REPAIRED`] saying how many bytes were
//! dropped (and their SHA-256). Damage anywhere else, or a last line that is
//! complete JSON but breaks the chain, is treated as tampering: the open is
//! refused and the log left as it is.

mod record;
mod repair;
mod verify;
mod writer;

pub use record::{GENESIS_PREV, TORN_TAIL_REPAIRED};
pub use repair::TornTailRepair;
pub use verify::{Problem, VerifyError, VerifyReport, verify};
pub use writer::{AuditLog, ChainHead, OpenReport};

#[cfg(test)]
mod tests;
