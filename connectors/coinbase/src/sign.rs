//! Coinbase CDP API-key JWTs (Advanced Trade REST).
//!
//! Sources, confirmed against each other:
//! - coinbase/coinbase-advanced-py 1.8.4 (PyPI), `coinbase/jwt_generator.py`
//!   (`build_jwt`, `_load_private_key`, `format_jwt_uri`) and
//!   `coinbase/rest/rest_base.py` (`set_headers`);
//! - docs.cdp.coinbase.com/get-started/authentication/jwt-authentication
//!   ("Your JWT expires after 2 minutes"; key secret newlines may be written
//!   as `\n` escapes) and
//!   docs.cdp.coinbase.com/coinbase-app/authentication-authorization/api-key-authentication;
//! - coinbase/cdp-sdk `python/cdp/auth/utils/jwt.py` (`_parse_private_key`:
//!   literal `\n` sequences, 64-byte Ed25519 secrets = seed + public key).
//!
//! The token: header `{"alg","kid","nonce","typ":"JWT"}` (alg `ES256` for a
//! P-256 key in SEC1 PEM, `EdDSA` for an Ed25519 key given as base64 whose
//! first 32 bytes are the seed; kid = the key name; nonce = random hex),
//! claims `{"sub": key name, "iss": "cdp", "nbf": now, "exp": now + 120,
//! "uri": "GET api.coinbase.com/api/v3/brokerage/key_permissions"}` (seconds;
//! the uri is `METHOD host path`, without scheme or query), compact JWS
//! (base64url without padding; ES256 signatures are raw r‖s, RFC 7518 §3.4),
//! sent as `Authorization: Bearer <jwt>`.

use crate::endpoints;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyrevoke_core::Secret;
use keyrevoke_core::http::PreparedRequest;
use p256::ecdsa::signature::Signer as _;
use rand::RngCore;
use reqwest::Method;
use serde::Serialize;
use std::fmt;
use zeroize::Zeroizing;

pub const HEADER_AUTHORIZATION: &str = "Authorization";
/// The official SDK sends it on every request, GET included (`set_headers`).
pub const HEADER_CONTENT_TYPE: &str = "Content-Type";

/// `iss` of every CDP API-key JWT (`jwt_generator.py`).
pub const ISSUER: &str = "cdp";
/// `exp - nbf` (`jwt_generator.py`: `int(time.time()) + 120`; the docs: "Your
/// JWT expires after 2 minutes").
pub const JWT_TTL_SECS: i64 = 120;
/// Random bytes in the header nonce: `secrets.token_hex()` draws 32.
pub const NONCE_BYTES: usize = 32;

/// Why a secret cannot sign a CDP JWT. Never carries the secret itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormatError {
    /// A PEM document that is not a P-256 private key (SEC1 or PKCS#8).
    BadPem,
    /// Base64 of a length other than 32 or 64 bytes.
    BadEd25519Length(usize),
    /// Neither PEM nor base64: not a CDP key secret (a legacy v2 HMAC or an
    /// Exchange secret, say).
    NotACdpKey,
}

impl fmt::Display for KeyFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFormatError::BadPem => f.write_str(
                "the secret is a PEM document but not a P-256 EC private key (a CDP ECDSA key starts with -----BEGIN EC PRIVATE KEY-----)",
            ),
            KeyFormatError::BadEd25519Length(n) => write!(
                f,
                "the secret is base64 of {n} bytes; a CDP Ed25519 secret is base64 of 64 bytes (seed and public key) or of the 32-byte seed"
            ),
            KeyFormatError::NotACdpKey => f.write_str(
                "the secret is neither a PEM EC private key nor a base64 Ed25519 key, so it is not a CDP API key secret",
            ),
        }
    }
}

/// Which algorithm a secret signs with, found without deriving any key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Es256,
    EdDsa,
}

impl KeyType {
    pub fn alg(self) -> &'static str {
        match self {
            KeyType::Es256 => "ES256",
            KeyType::EdDsa => "EdDSA",
        }
    }
}

/// A parsed signing key. Both inner keys zeroize on drop.
pub enum SigningMaterial {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

impl fmt::Debug for SigningMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningMaterial({}, [redacted])", self.key_type().alg())
    }
}

impl SigningMaterial {
    pub fn key_type(&self) -> KeyType {
        match self {
            SigningMaterial::Es256(_) => KeyType::Es256,
            SigningMaterial::EdDsa(_) => KeyType::EdDsa,
        }
    }

    /// The JWS signature of `message`: r‖s (64 bytes) for ES256, the 64-byte
    /// Ed25519 signature for EdDSA.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            SigningMaterial::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_bytes().to_vec()
            }
            SigningMaterial::EdDsa(k) => {
                let sig: ed25519_dalek::Signature = ed25519_dalek::Signer::sign(k, message);
                sig.to_bytes().to_vec()
            }
        }
    }
}

/// The secret with literal `\n` escapes (as CDP's JSON key downloads and
/// one-line environment variables carry them) turned into newlines.
fn unescaped(secret: &str) -> Zeroizing<String> {
    Zeroizing::new(secret.trim().replace("\\n", "\n"))
}

fn is_pem(text: &str) -> bool {
    text.starts_with("-----BEGIN")
}

/// Decode an Ed25519 secret the way `jwt_generator._load_private_key` does:
/// base64 (whitespace ignored) of 64 bytes (seed then public key) or of the
/// 32-byte seed.
fn ed25519_seed(text: &str) -> Result<Zeroizing<[u8; 32]>, KeyFormatError> {
    let compact: Zeroizing<String> = Zeroizing::new(text.split_whitespace().collect());
    let raw = Zeroizing::new(
        STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| KeyFormatError::NotACdpKey)?,
    );
    if raw.len() != 32 && raw.len() != 64 {
        return Err(KeyFormatError::BadEd25519Length(raw.len()));
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&raw[..32]);
    Ok(seed)
}

fn p256_key(pem: &str) -> Result<p256::SecretKey, KeyFormatError> {
    use p256::pkcs8::DecodePrivateKey;
    p256::SecretKey::from_sec1_pem(pem)
        .or_else(|_| p256::SecretKey::from_pkcs8_pem(pem))
        .map_err(|_| KeyFormatError::BadPem)
}

/// Classify a secret, decoding it but deriving no public key: cheap enough
/// for validating a million-row inventory.
pub fn key_type(secret: &str) -> Result<KeyType, KeyFormatError> {
    let text = unescaped(secret);
    if is_pem(&text) {
        p256_key(&text).map(|_| KeyType::Es256)
    } else {
        ed25519_seed(&text).map(|_| KeyType::EdDsa)
    }
}

/// Parse a CDP key secret into its signing key.
pub fn parse_secret(secret: &str) -> Result<SigningMaterial, KeyFormatError> {
    let text = unescaped(secret);
    if is_pem(&text) {
        let key = p256_key(&text)?;
        Ok(SigningMaterial::Es256(p256::ecdsa::SigningKey::from(&key)))
    } else {
        let seed = ed25519_seed(&text)?;
        Ok(SigningMaterial::EdDsa(
            ed25519_dalek::SigningKey::from_bytes(&seed),
        ))
    }
}

/// The JOSE header, fields in the order PyJWT writes them (sorted).
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    kid: &'a str,
    nonce: &'a str,
    typ: &'static str,
}

/// The claims, in the order `jwt_generator.build_jwt` inserts them.
#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iss: &'static str,
    nbf: i64,
    exp: i64,
    uri: &'a str,
}

/// Build the compact JWT for `uri` at `now_secs`.
pub fn build_jwt(
    key_name: &str,
    material: &SigningMaterial,
    uri: &str,
    now_secs: i64,
    nonce: &str,
) -> String {
    let header = Header {
        alg: material.key_type().alg(),
        kid: key_name,
        nonce,
        typ: "JWT",
    };
    let claims = Claims {
        sub: key_name,
        iss: ISSUER,
        nbf: now_secs,
        exp: now_secs + JWT_TTL_SECS,
        uri,
    };
    let signing_input = format!("{}.{}", b64_json(&header), b64_json(&claims));
    let signature = material.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Compact JSON, base64url without padding.
fn b64_json<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("plain structs serialize"))
}

/// A fresh random nonce: lowercase hex of [`NONCE_BYTES`] random bytes.
pub fn random_nonce() -> String {
    let mut bytes = [0u8; NONCE_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The key that signs a request, and the host its tokens name.
pub struct Signer<'a> {
    /// The CDP key name (`organizations/{org_id}/apiKeys/{key_id}`) or id.
    pub key_name: &'a str,
    pub secret: &'a Secret,
    /// `host[:port]` of the base URL (see [`endpoints::jwt_host`]).
    pub host: &'a str,
}

impl Signer<'_> {
    /// A signed request with a fresh nonce.
    pub fn sign(
        &self,
        method: Method,
        path: &str,
        now_ms: i64,
    ) -> Result<PreparedRequest, KeyFormatError> {
        self.sign_with_nonce(method, path, now_ms, &random_nonce())
    }

    /// A signed request with the given nonce (tests pin it).
    pub fn sign_with_nonce(
        &self,
        method: Method,
        path: &str,
        now_ms: i64,
        nonce: &str,
    ) -> Result<PreparedRequest, KeyFormatError> {
        let material = parse_secret(self.secret.expose())?;
        let uri = endpoints::jwt_uri(method.as_str(), self.host, path);
        let jwt = build_jwt(
            self.key_name,
            &material,
            &uri,
            now_ms.div_euclid(1000),
            nonce,
        );
        let mutating = method != Method::GET;
        Ok(PreparedRequest {
            method,
            path_and_query: path.to_string(),
            headers: vec![
                (HEADER_CONTENT_TYPE, "application/json".to_string()),
                (HEADER_AUTHORIZATION, format!("Bearer {jwt}")),
            ],
            body: None,
            mutating,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use serde_json::Value;

    fn b64url(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).expect("base64url")
    }

    fn parts(jwt: &str) -> (Value, Value, Vec<u8>, String) {
        let mut it = jwt.split('.');
        let (h, c, s) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        assert!(it.next().is_none(), "a compact JWS has three parts");
        (
            serde_json::from_slice(&b64url(h)).unwrap(),
            serde_json::from_slice(&b64url(c)).unwrap(),
            b64url(s),
            format!("{h}.{c}"),
        )
    }

    /// Verify a token with the key's public key, as Coinbase does.
    fn verify(jwt: &str, material: &SigningMaterial) -> bool {
        let (_, _, sig, input) = parts(jwt);
        match material {
            SigningMaterial::Es256(k) => p256::ecdsa::Signature::from_slice(&sig)
                .map(|s| k.verifying_key().verify(input.as_bytes(), &s).is_ok())
                .unwrap_or(false),
            SigningMaterial::EdDsa(k) => ed25519_dalek::Signature::from_slice(&sig)
                .map(|s| {
                    k.verifying_key()
                        .verify_strict(input.as_bytes(), &s)
                        .is_ok()
                })
                .unwrap_or(false),
        }
    }

    /// RFC 6979 appendix A.2.5 (P-256, SHA-256, message "sample"): pins the
    /// ES256 primitive (deterministic nonces, r‖s encoding). Coinbase
    /// publishes no signature vectors of its own.
    #[test]
    fn es256_primitive_matches_rfc6979() {
        let x: [u8; 32] =
            hex::decode("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
                .unwrap()
                .try_into()
                .unwrap();
        let key = SigningMaterial::Es256(p256::ecdsa::SigningKey::from_bytes(&x.into()).unwrap());
        assert_eq!(
            hex::encode(key.sign(b"sample")),
            "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716\
             f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"
        );
    }

    /// RFC 8032 §7.1 TEST 1 (empty message): pins the EdDSA primitive and
    /// the seed-first reading of a base64 secret.
    #[test]
    fn eddsa_primitive_matches_rfc8032() {
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap();
        let public =
            hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap();
        let secret = STANDARD.encode([seed.as_slice(), public.as_slice()].concat());
        let key = parse_secret(&secret).expect("64-byte base64 secret parses");
        assert_eq!(key.key_type(), KeyType::EdDsa);
        assert_eq!(
            hex::encode(key.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065\
             224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        let seed_only =
            parse_secret(&STANDARD.encode(&seed)).expect("the bare 32-byte seed parses too");
        assert_eq!(key.sign(b"x"), seed_only.sign(b"x"));
    }

    /// What coinbase-advanced-py 1.8.4 sends for fixed keys, clock and nonce
    /// (test_data/official_client_vectors.json, with its provenance).
    #[test]
    fn matches_the_requests_built_by_coinbases_own_sdk() {
        let file: Value =
            serde_json::from_str(include_str!("../test_data/official_client_vectors.json"))
                .unwrap();
        for v in file["vectors"].as_array().unwrap() {
            let what = v["what"].as_str().unwrap();
            let creds = &v["credentials"];
            let req = &v["request"];
            let url = url::Url::parse(req["url"].as_str().unwrap()).unwrap();
            let secret = Secret::from(creds["api_secret"].as_str().unwrap());
            let signer = Signer {
                key_name: creds["api_key"].as_str().unwrap(),
                secret: &secret,
                host: &endpoints::jwt_host(&url),
            };
            let method: Method = req["method"].as_str().unwrap().parse().unwrap();
            let built = signer
                .sign_with_nonce(
                    method,
                    url.path(),
                    v["clock_ms"].as_i64().unwrap(),
                    v["nonce"].as_str().unwrap(),
                )
                .expect("the vector's secret parses");
            assert_eq!(built.path_and_query, url.path(), "{what}: path");
            assert_eq!(built.body, None, "{what}: a GET has no body");
            let header = |name: &str| built.header(name).map(str::to_string);
            assert_eq!(
                header("Content-Type").as_deref(),
                req["headers"]["Content-Type"].as_str(),
                "{what}: Content-Type"
            );
            // The SDK's User-Agent names the SDK; ours names keyrevoke (set by
            // the shared HTTP client). It is not part of the authentication.
            let theirs = req["headers"]["Authorization"]
                .as_str()
                .unwrap()
                .strip_prefix("Bearer ")
                .unwrap();
            let ours = header("Authorization").unwrap();
            let ours = ours.strip_prefix("Bearer ").expect("a bearer token");
            let material = parse_secret(secret.expose()).unwrap();
            let (their_header, their_claims, _, their_input) = parts(theirs);
            let (our_header, our_claims, _, our_input) = parts(ours);
            assert_eq!(
                our_input, their_input,
                "{what}: header and claims, byte for byte"
            );
            assert_eq!(our_header, their_header, "{what}");
            assert_eq!(our_claims, their_claims, "{what}");
            assert!(
                verify(theirs, &material),
                "{what}: the SDK's token verifies with the vector's key"
            );
            assert!(
                verify(ours, &material),
                "{what}: our token verifies with the vector's key"
            );
            if material.key_type() == KeyType::EdDsa {
                // Ed25519 is deterministic: the whole token must match.
                assert_eq!(ours, theirs, "{what}: the whole EdDSA token");
            }
            let public = hex::decode(creds["public_key_hex"].as_str().unwrap()).unwrap();
            let derived = match &material {
                SigningMaterial::Es256(k) => {
                    k.verifying_key().to_sec1_point(false).as_bytes().to_vec()
                }
                SigningMaterial::EdDsa(k) => k.verifying_key().to_bytes().to_vec(),
            };
            assert_eq!(
                derived, public,
                "{what}: the public key derived from the secret"
            );
        }
    }

    fn ec_secret() -> String {
        // The ES256 vector's key: a PEM with real newlines.
        let file: Value =
            serde_json::from_str(include_str!("../test_data/official_client_vectors.json"))
                .unwrap();
        file["vectors"][1]["credentials"]["api_secret"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_token_carries_the_documented_header_and_claims_and_verifies() {
        let secret = Secret::new(ec_secret());
        let signer = Signer {
            key_name: "organizations/org-1/apiKeys/key-1",
            secret: &secret,
            host: "api.coinbase.com",
        };
        let req = signer
            .sign(
                Method::GET,
                endpoints::KEY_PERMISSIONS.path,
                1_700_000_000_999,
            )
            .unwrap();
        let auth = &req
            .headers
            .iter()
            .find(|(n, _)| *n == HEADER_AUTHORIZATION)
            .unwrap()
            .1;
        let jwt = auth.strip_prefix("Bearer ").unwrap();
        let (header, claims, sig, _) = parts(jwt);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], "organizations/org-1/apiKeys/key-1");
        let nonce = header["nonce"].as_str().unwrap();
        assert_eq!(nonce.len(), 2 * NONCE_BYTES);
        assert!(
            nonce.bytes().all(|b| b.is_ascii_hexdigit()),
            "the nonce is hex: {nonce}"
        );
        assert_eq!(claims["sub"], "organizations/org-1/apiKeys/key-1");
        assert_eq!(claims["iss"], "cdp");
        assert_eq!(claims["nbf"], 1_700_000_000, "seconds, rounded down");
        assert_eq!(claims["exp"], 1_700_000_120);
        assert_eq!(
            claims["uri"],
            "GET api.coinbase.com/api/v3/brokerage/key_permissions"
        );
        assert_eq!(sig.len(), 64, "ES256 signatures are r‖s");
        assert!(verify(jwt, &parse_secret(secret.expose()).unwrap()));
        let again = signer
            .sign(
                Method::GET,
                endpoints::KEY_PERMISSIONS.path,
                1_700_000_000_999,
            )
            .unwrap();
        assert_ne!(
            again.headers, req.headers,
            "every request draws a fresh nonce"
        );
    }

    #[test]
    fn a_pem_written_with_literal_backslash_n_escapes_parses_like_the_original() {
        let pem = ec_secret();
        assert!(pem.contains('\n') && !pem.contains("\\n"));
        let escaped = pem.replace('\n', "\\n");
        let a = parse_secret(&pem).unwrap();
        let b = parse_secret(&escaped).unwrap();
        assert_eq!(a.key_type(), KeyType::Es256);
        assert_eq!(
            a.sign(b"same key"),
            b.sign(b"same key"),
            "RFC 6979 makes equal keys sign equally"
        );
        assert_eq!(key_type(&escaped), Ok(KeyType::Es256));
    }

    #[test]
    fn secrets_that_are_not_cdp_keys_are_named_as_such_without_being_shown() {
        let cases = [
            ("hunter2-legacy-hmac-secret", KeyFormatError::NotACdpKey),
            (
                "-----BEGIN EC PRIVATE KEY-----\\nbm90IGEga2V5\\n-----END EC PRIVATE KEY-----\\n",
                KeyFormatError::BadPem,
            ),
            (
                "c2l4dGVlbiBieXRlcyBsb25n",
                KeyFormatError::BadEd25519Length(18),
            ),
        ];
        for (secret, expected) in cases {
            let err = parse_secret(secret).unwrap_err();
            assert_eq!(err, expected, "{secret}");
            assert_eq!(key_type(secret), Err(expected));
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(
                    !shown.contains(secret),
                    "the message shows the secret: {shown}"
                );
            }
        }
        let parsed = parse_secret(&ec_secret()).unwrap();
        assert_eq!(format!("{parsed:?}"), "SigningMaterial(ES256, [redacted])");
    }
}
