//! Shared HTTP plumbing for connectors: one client, base-URL rules, transport
//! error classification and the exchange clock offset. Exchange-specific
//! request building stays in the connectors.

use crate::error::{ConnectorError, Failure, ReplyMeta};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
pub use url::Url;

/// The HTTP client connectors share.
pub use reqwest::Client;

/// Validate a base URL: `https://` anywhere, plain `http://` only on a
/// loopback address, where nothing leaves the machine.
pub fn parse_base_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim());
    // Messages show the URL without any `user:password@`.
    let shown = without_userinfo(raw);
    let raw = shown.as_str();
    let url = url.map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback_host(&url) {
                return Err(format!(
                    "`{raw}` uses plain http:// on a non-loopback host; use https:// (http is accepted only for 127.0.0.0/8, ::1 and localhost)"
                ));
            }
        }
        other => return Err(format!("`{raw}`: unsupported scheme `{other}`")),
    }
    if url.host_str().is_none() {
        return Err(format!("`{raw}` has no host"));
    }
    Ok(url)
}

/// A URL as it may be shown: `user:password@` replaced (exchange base URLs
/// carry none, but a mistyped proxy-style URL might, and errors echo it).
fn without_userinfo(raw: &str) -> String {
    match raw.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => raw.to_string(),
            }
        }
        None => raw.to_string(),
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The one HTTP client of a run: rustls, pooled, with a per-request timeout so
/// that a stalled exchange shows up as a classified failure.
pub fn build_client(request_timeout: Duration) -> reqwest::Client {
    build_client_from(request_timeout, None)
}

/// As [`build_client`], its connections bound to `local_address` when given:
/// the exchange sees requests from that address, and counts its per-IP
/// limits there.
pub fn build_client_from(
    request_timeout: Duration,
    local_address: Option<IpAddr>,
) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local_address)
        .use_rustls_tls()
        .timeout(request_timeout)
        .connect_timeout(request_timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .user_agent(concat!("keyrevoke/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the TLS backend is compiled in")
}

/// Classify a transport error. A request that never connected took no effect;
/// one that failed after it was sent may have, when it changes state.
pub fn classify_transport(err: &reqwest::Error, mutating: bool) -> Failure {
    let what = if err.is_timeout() {
        "request timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    let error = if err.is_connect() || !mutating {
        ConnectorError::Transient(what.to_string())
    } else {
        ConnectorError::OutcomeUnknown(what.to_string())
    };
    Failure::local(error)
}

/// Classify an HTTP status that carries no exchange code we know. A 5xx on a
/// state-changing call may have taken effect (exchanges say so explicitly:
/// "the execution status is UNKNOWN"), so it must be verified.
pub fn classify_status(status: u16, mutating: bool, body: &str) -> Option<Failure> {
    let meta = ReplyMeta {
        http_status: Some(status),
        code: None,
        message: Some(short(body)),
    };
    let error = match status {
        200..=299 => return None,
        429 => ConnectorError::RateLimited {
            retry_after: None,
            scope: crate::error::LimitScope::Ip,
        },
        500..=599 if mutating => ConnectorError::OutcomeUnknown(format!("HTTP {status}")),
        500..=599 => ConnectorError::Transient(format!("HTTP {status}")),
        _ => ConnectorError::Permanent {
            code: format!("HTTP {status}"),
            message: short(body),
        },
    };
    Some(Failure::new(error, meta))
}

/// A failed reply, read in the order every connector reads one, so that no
/// two exchanges differ in it: the exchange's rate-limit reply first
/// (`rate_limited`: nothing took effect), then a 5xx (a write's outcome is
/// then unknown), then the exchange's own refusal (`refused`, from its code
/// table), then any other status outside 2xx. `None`: no failure; the
/// connector reads the body for its success.
pub fn failure_in_order(
    raw: &RawResponse,
    mutating: bool,
    meta: &ReplyMeta,
    rate_limited: Option<ConnectorError>,
    refused: Option<ConnectorError>,
) -> Option<Failure> {
    if let Some(e) = rate_limited {
        return Some(Failure::new(e, meta.clone()));
    }
    if raw.status >= 500 {
        return classify_status(raw.status, mutating, &raw.body);
    }
    if let Some(e) = refused {
        return Some(Failure::new(e, meta.clone()));
    }
    classify_status(raw.status, mutating, &raw.body)
}

/// A request as data: built and signed by a connector, sent by [`send`].
/// Pure, so that signers are tested byte for byte against published vectors.
/// Its `Debug` shows the method and path only: some exchanges put a
/// passphrase in the query, and every signature header is a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    pub method: reqwest::Method,
    /// Path and query, e.g. `/v5/user/query-api?x=1`.
    pub path_and_query: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
    /// Whether the call changes state on the exchange (so that a failure
    /// after sending leaves the outcome unknown).
    pub mutating: bool,
}

impl PreparedRequest {
    /// An unsigned GET of a public endpoint (the server time, say).
    pub fn get(path_and_query: &str) -> Self {
        PreparedRequest {
            method: reqwest::Method::GET,
            path_and_query: path_and_query.to_string(),
            headers: Vec::new(),
            body: None,
            mutating: false,
        }
    }

    /// A header's value, by its name in any case (as HTTP compares them).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How this request differs from one an official SDK or ccxt sent to
    /// `origin` (`https://api.example.com`), captured as `{"method", "url",
    /// "headers": {name: value}, "body"}` in the shared vectors: method,
    /// URL, every header (no more, no fewer) and body. Empty when they are
    /// the same byte for byte; the connectors' vector tests assert that.
    pub fn differences_from_captured(
        &self,
        origin: &str,
        captured: &serde_json::Value,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |what: &str, ours: Option<&str>, theirs: Option<&str>| {
            if ours != theirs {
                out.push(format!("{what}: ours {ours:?}, captured {theirs:?}"));
            }
        };
        differ(
            "method",
            Some(self.method.as_str()),
            captured["method"].as_str(),
        );
        let url = format!("{origin}{}", self.path_and_query);
        differ("url", Some(&url), captured["url"].as_str());
        let theirs = captured["headers"].as_object();
        for (name, value) in theirs.into_iter().flatten() {
            differ(&format!("header {name}"), self.header(name), value.as_str());
        }
        differ("body", self.body.as_deref(), captured["body"].as_str());
        let count = theirs.map_or(0, |h| h.len());
        if count != self.headers.len() {
            out.push(format!(
                "headers: ours {:?}, captured {count}",
                self.headers.iter().map(|(n, _)| *n).collect::<Vec<_>>()
            ));
        }
        out
    }
}

impl std::fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path_and_query.split('?').next().unwrap_or("");
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("path", &path)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// What came back, before the connector reads the exchange's error codes.
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl RawResponse {
    /// A reply built by hand (connectors' reply tests): `headers` as
    /// (name, value), which must be valid header text.
    pub fn new(status: u16, headers: &[(&'static str, &str)], body: &str) -> RawResponse {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().expect("a header value"));
        }
        RawResponse {
            status,
            headers: map,
            body: body.to_string(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A header read as a number (a usage or reset header), when it is one.
    pub fn header_number<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.header(name).and_then(|v| v.trim().parse().ok())
    }
}

/// Send a prepared request to `base` and read the whole reply. Transport
/// failures are classified here, once for every connector.
/// Requests sent per base URL by [`send`] in this process: what the run
/// spent at each exchange, probes and second calls included.
static SENT: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

fn count_sent(base: &Url) {
    let mut sent = SENT.lock().unwrap();
    let sent = sent.get_or_insert_with(HashMap::new);
    match sent.get_mut(base.as_str()) {
        Some(n) => *n += 1,
        None => {
            sent.insert(base.as_str().to_string(), 1);
        }
    }
}

/// Requests [`send`] has sent to `base` so far in this process.
pub fn requests_sent(base: &Url) -> u64 {
    SENT.lock()
        .unwrap()
        .as_ref()
        .and_then(|sent| sent.get(base.as_str()).copied())
        .unwrap_or(0)
}

pub async fn send(
    client: &reqwest::Client,
    base: &Url,
    req: PreparedRequest,
) -> Result<RawResponse, Failure> {
    count_sent(base);
    let url = format!(
        "{}{}",
        base.as_str().trim_end_matches('/'),
        req.path_and_query
    );
    let mut builder = client.request(req.method.clone(), url);
    for (name, value) in &req.headers {
        builder = builder.header(*name, value);
    }
    if let Some(body) = req.body {
        builder = builder.body(body);
    }
    let response = builder
        .send()
        .await
        .map_err(|e| classify_transport(&e, req.mutating))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .text()
        .await
        .map_err(|e| classify_transport(&e, req.mutating))?;
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

/// Parse a `Retry-After` header given in seconds.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// What of a reply body the audit keeps: its first 200 bytes.
pub fn short(body: &str) -> String {
    truncate(body, 200)
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Our estimate of an exchange's clock: local time plus a measured offset.
#[derive(Debug, Default)]
pub struct ExchangeClock {
    offset_ms: AtomicI64,
}

impl ExchangeClock {
    pub fn now_ms(&self) -> i64 {
        unix_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Record the server's time, read between `sent_ms` and `received_ms`
    /// (local), assuming the reply was stamped halfway.
    pub fn observe(&self, server_ms: i64, sent_ms: i64, received_ms: i64) {
        let midpoint = sent_ms + (received_ms - sent_ms) / 2;
        self.offset_ms
            .store(server_ms - midpoint, Ordering::Relaxed);
    }

    /// Re-read the exchange's clock: send the unsigned server-time
    /// `request`, let `read` find the server's Unix ms in the reply (or
    /// refuse the reply), and record it. Returns the local Unix ms at which
    /// the reply came in.
    pub async fn sync(
        &self,
        client: &reqwest::Client,
        base: &Url,
        request: PreparedRequest,
        read: impl FnOnce(RawResponse) -> Result<Option<i64>, Failure>,
    ) -> Result<i64, Failure> {
        let sent = unix_ms();
        let raw = send(client, base, request).await?;
        let received = unix_ms();
        match read(raw)? {
            Some(server_ms) => {
                self.observe(server_ms, sent, received);
                Ok(received)
            }
            None => Err(server_time_missing()),
        }
    }
}

/// A server-time reply that carries no time.
pub fn server_time_missing() -> Failure {
    Failure::local(ConnectorError::Transient(
        "server time missing from reply".into(),
    ))
}

#[cfg(test)]
mod tests {
    fn raw(status: u16) -> RawResponse {
        RawResponse::new(status, &[], "{}")
    }

    /// A rate limit beats everything, a 5xx beats the exchange's refusal
    /// (a write's outcome is unknown however the body reads), the refusal
    /// beats its bare status, and a 2xx without refusal is no failure.
    #[test]
    fn failures_are_read_in_one_order() {
        let meta = ReplyMeta::default();
        let limited = || {
            Some(ConnectorError::RateLimited {
                retry_after: None,
                scope: crate::error::LimitScope::Account,
            })
        };
        let refused = || Some(ConnectorError::KeyDead("gone".into()));
        let read = |status, limit: Option<ConnectorError>, refusal| {
            failure_in_order(&raw(status), true, &meta, limit, refusal).map(|f| f.error)
        };
        assert!(matches!(
            read(429, limited(), refused()),
            Some(ConnectorError::RateLimited { .. })
        ));
        assert!(matches!(
            read(503, None, refused()),
            Some(ConnectorError::OutcomeUnknown(_))
        ));
        assert!(matches!(
            read(400, None, refused()),
            Some(ConnectorError::KeyDead(_))
        ));
        assert!(matches!(
            read(403, None, None),
            Some(ConnectorError::Permanent { .. })
        ));
        assert!(read(200, None, None).is_none());
    }

    use super::*;

    #[test]
    fn base_url_errors_never_show_a_password() {
        for bad in [
            "http://user:hunter2pass@example.com/api",
            "ftp://user:hunter2pass@127.0.0.1",
        ] {
            let err = parse_base_url(bad).unwrap_err();
            assert!(!err.contains("hunter2pass"), "{err}");
            assert!(err.contains("***@"), "{err}");
        }
    }

    #[test]
    fn debug_of_a_request_shows_no_query_and_no_header_values() {
        let r = PreparedRequest {
            method: reqwest::Method::DELETE,
            path_and_query: "/api/v1/sub/api-key?apiKey=K&passphrase=hunter2".into(),
            headers: vec![("KC-API-SIGN", "c2lnbmF0dXJl".into())],
            body: None,
            mutating: true,
        };
        let shown = format!("{r:?}");
        assert!(shown.contains("/api/v1/sub/api-key"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("c2lnbmF0dXJl"), "{shown}");
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(parse_base_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_base_url("http://127.5.0.1:8080").is_ok());
        assert!(parse_base_url("http://localhost:1").is_ok());
        assert!(parse_base_url("http://[::1]:1").is_ok());
        assert!(parse_base_url("https://api.bybit.com").is_ok());
        let err = parse_base_url("http://10.0.0.1").unwrap_err();
        assert!(err.contains("non-loopback"), "{err}");
        assert!(parse_base_url("http://api.bybit.com").is_err());
        assert!(parse_base_url("ftp://127.0.0.1").is_err());
    }

    #[test]
    fn a_5xx_on_a_delete_is_an_unknown_outcome_but_on_a_read_is_transient() {
        let f = classify_status(504, true, "gateway timeout").unwrap();
        assert!(matches!(f.error, ConnectorError::OutcomeUnknown(_)));
        let f = classify_status(503, false, "").unwrap();
        assert!(matches!(f.error, ConnectorError::Transient(_)));
        assert!(classify_status(200, true, "").is_none());
    }

    #[test]
    fn clock_offset_uses_the_round_trip_midpoint() {
        let c = ExchangeClock::default();
        c.observe(10_500, 1_000, 1_200);
        assert_eq!(c.offset_ms(), 9_400);
    }
}
