//! The signing case: the connector's signer reproduces, byte for byte, the
//! examples the exchange's own docs publish and every request an official
//! SDK or ccxt sent for the calls keyrevoke makes (`test_data/*.json`,
//! copied from `../shared/vectors/`). Every vector of every file must be
//! rebuilt: a vector the connector has no builder for fails the case, so a
//! file cannot be half checked.

use keyrevoke_core::http::PreparedRequest;
use serde_json::Value;

/// What a connector's signer is checked against.
pub struct Signing {
    /// The exchange's published examples, each rebuilt by the connector.
    pub published: Vec<Published>,
    /// Files of captured requests and how the connector builds each one.
    pub captured: Vec<Captured>,
}

/// One example from the exchange's docs: what the connector's signer made
/// of the documented inputs, beside what the docs print.
pub struct Published {
    /// Where the docs print it (page, section).
    pub source: &'static str,
    pub ours: String,
    pub documented: &'static str,
}

/// A file of captured requests (`{"vectors": [{what, credentials,
/// clock_ms, request: {method, url, headers, body}}]}`).
pub struct Captured {
    /// Its name, for messages (`test_data/ccxt_vectors.json`).
    pub file: &'static str,
    /// Its text (`include_str!`).
    pub json: &'static str,
    /// The origin the captured URLs start with (`https://api.gateio.ws`).
    pub origin: &'static str,
    /// Headers left out of the comparison, on both sides: ones the client
    /// adds that are no part of the exchange's authentication (python-okx's
    /// `x-simulated-trading`), or that clients send or not as they please;
    /// say why beside each.
    pub ignore_headers: &'static [&'static str],
    /// The connector's request for one vector, built by its own endpoint
    /// table and signer with the vector's credentials and clock; `None`
    /// for a vector it has no builder for (the case then fails).
    pub build: fn(&Value) -> Option<PreparedRequest>,
}

/// Every mismatch between the connector's signing and the vectors, one
/// line each; empty when all agree. Also a mismatch: no vector at all, a
/// file that does not parse or holds none, a vector without a builder.
pub fn mismatches(signing: &Signing) -> Vec<String> {
    let mut out = Vec::new();
    if signing.published.is_empty() && signing.captured.is_empty() {
        out.push("no published example and no captured request to check".into());
    }
    for p in &signing.published {
        if p.ours != p.documented {
            out.push(format!(
                "{}: ours {}, documented {}",
                p.source, p.ours, p.documented
            ));
        }
    }
    for file in &signing.captured {
        out.extend(
            captured_mismatches(file)
                .into_iter()
                .map(|m| format!("{}: {m}", file.file)),
        );
    }
    out
}

fn captured_mismatches(file: &Captured) -> Vec<String> {
    let parsed: Value = match serde_json::from_str(file.json) {
        Ok(v) => v,
        Err(e) => return vec![format!("does not parse: {e}")],
    };
    let Some(vectors) = parsed["vectors"].as_array().filter(|v| !v.is_empty()) else {
        return vec!["holds no vector".into()];
    };
    let mut out = Vec::new();
    for v in vectors {
        let what = v["what"].as_str().unwrap_or("(unnamed)");
        // A file may give one clock for all its vectors.
        let mut v = v.clone();
        if v["clock_ms"].is_null() {
            v["clock_ms"] = parsed["clock_ms"].clone();
        }
        match (file.build)(&v) {
            None => out.push(format!("`{what}`: the connector has no builder for it")),
            Some(mut built) => out.extend({
                let ignored = |name: &str| {
                    file.ignore_headers
                        .iter()
                        .any(|i| i.eq_ignore_ascii_case(name))
                };
                built.headers.retain(|(name, _)| !ignored(name));
                built
                    .differences_from_captured(file.origin, &without(file.ignore_headers, &v))
                    .into_iter()
                    .map(|d| format!("`{what}`: {d}"))
            }),
        }
    }
    out
}

/// The vector's request, less the headers to ignore.
fn without(ignore: &[&str], vector: &Value) -> Value {
    let mut request = vector["request"].clone();
    if let Some(headers) = request["headers"].as_object_mut() {
        headers.retain(|name, _| !ignore.iter().any(|i| i.eq_ignore_ascii_case(name)));
    }
    request
}

/// The vector's credentials: (api key, secret, passphrase if any).
pub fn credentials(vector: &Value) -> (&str, &str, Option<&str>) {
    let c = &vector["credentials"];
    (
        c["api_key"].as_str().unwrap_or_default(),
        c["api_secret"].as_str().unwrap_or_default(),
        c["passphrase"].as_str(),
    )
}

/// The body to sign for a vector: the client's own bytes where they hold
/// the same JSON as ours once `same` has normalized both (clients format
/// JSON their own way: python's `json.dumps` puts spaces after separators,
/// and what a client signs is what it sends, so the signature over its
/// bytes must agree); ours otherwise, so a difference in content shows.
pub fn body_as_sent(ours: Option<String>, vector: &Value, same: fn(&mut Value)) -> Option<String> {
    let content = |text: &str| {
        serde_json::from_str::<Value>(text).ok().map(|mut json| {
            same(&mut json);
            json
        })
    };
    match (ours, vector["request"]["body"].as_str()) {
        (Some(ours), Some(theirs)) if content(&ours) == content(theirs) => Some(theirs.to_string()),
        (ours, _) => ours,
    }
}

/// The vector's frozen clock, in milliseconds.
pub fn clock_ms(vector: &Value) -> i64 {
    vector["clock_ms"].as_i64().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::endpoint::Method;

    const FILE: &str = r#"{"vectors": [
        {"what": "a read", "credentials": {"api_key": "k", "api_secret": "s"}, "clock_ms": 5,
         "request": {"method": "GET", "url": "https://x.test/a?t=5",
                     "headers": {"K": "k"}, "body": null}}
    ]}"#;

    fn read(v: &Value) -> Option<PreparedRequest> {
        (v["what"] == "a read").then(|| PreparedRequest {
            method: Method::GET,
            path_and_query: format!("/a?t={}", clock_ms(v)),
            headers: vec![("K", credentials(v).0.to_string())],
            body: None,
            mutating: false,
        })
    }

    fn signing(build: fn(&Value) -> Option<PreparedRequest>, documented: &'static str) -> Signing {
        Signing {
            published: vec![Published {
                source: "docs",
                ours: "abc".into(),
                documented,
            }],
            captured: vec![Captured {
                file: "v.json",
                json: FILE,
                origin: "https://x.test",
                ignore_headers: &[],
                build,
            }],
        }
    }

    #[test]
    fn agreeing_vectors_have_no_mismatch() {
        assert_eq!(mismatches(&signing(read, "abc")), Vec::<String>::new());
    }

    #[test]
    fn a_wrong_signature_a_wrong_request_and_a_missing_builder_are_each_named() {
        assert_eq!(
            mismatches(&signing(read, "abd")),
            vec!["docs: ours abc, documented abd"]
        );
        let wrong_path = |v: &Value| {
            read(v).map(|mut r| {
                r.path_and_query = "/b".into();
                r
            })
        };
        let m = mismatches(&signing(wrong_path, "abc"));
        assert!(m[0].starts_with("v.json: `a read`: url"), "{m:?}");
        let m = mismatches(&signing(|_| None, "abc"));
        assert_eq!(
            m,
            vec!["v.json: `a read`: the connector has no builder for it"]
        );
        let empty = Signing {
            published: vec![],
            captured: vec![],
        };
        assert_eq!(mismatches(&empty).len(), 1);
    }
}
