//! What every dialect does with a request, in one place: count it, route it
//! (an unknown endpoint is counted and answered 404), hold it to the
//! exchange's per-IP window, inject the configured faults before and after
//! handling it, and count how it was answered. A dialect implements
//! [`Dialect`] with only what is its exchange's own: its routes, auth,
//! limits, replies and codes.

use crate::ExchangeSim;
use crate::faults::{self, After, Before};
use crate::limits::SlidingVerdict;
use crate::outage::OutageKind;
use crate::stats::Stats;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// One request, as a dialect reads it.
pub struct Request {
    /// The client's address: the exchange counts its IP limits by it.
    pub peer: IpAddr,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    /// A header's value, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query string as sent, without `?` ("" when there is none).
    pub fn query(&self) -> &str {
        self.uri.query().unwrap_or("")
    }
}

/// Why a request reaches no endpoint.
pub enum Unrouted {
    /// No such endpoint: counted as `unknown_endpoint` and answered with
    /// [`Dialect::not_found`].
    NotFound,
    /// Refused in the exchange's own words (a known path under another
    /// method, say): counted as `refused`.
    Refused(Response),
}

/// How a dialect answers a request over its per-IP limit.
pub enum OverIpLimit {
    /// A rate-limit reply: counted as `rate_limited`.
    RateLimited(Response),
    /// The IP is banned: counted as `ip_banned`.
    Banned(Response),
}

/// How a dialect answered a routed request.
pub enum Answer {
    /// Counted as `ok`; an injected fault may still replace it.
    Ok(Response),
    /// Counted as `refused`; an injected fault may still replace it.
    Refused(Response),
    /// Refused by one of the exchange's own rate limits before it acted
    /// (the dialect counts it as `rate_limited`): counted as `refused`, and
    /// an injected fault may still replace it, as with [`Answer::Refused`].
    /// Unlike a refusal, it is no request the exchange judged, so a
    /// deletion it names is not counted against the key.
    Limited(Response),
    /// Turned away before the exchange acted: sent as it is, with no fault
    /// after it (the dialect counts what it must).
    TurnedAway(Response),
}

impl Answer {
    /// [`Answer::Ok`] when `ok`, else [`Answer::Refused`].
    pub fn replied(ok: bool, response: Response) -> Answer {
        if ok {
            Answer::Ok(response)
        } else {
            Answer::Refused(response)
        }
    }
}

/// One exchange's dialect: what [`serve`] asks of it.
pub trait Dialect: Send + Sync + 'static {
    type Endpoint: Copy + Send;

    fn sim(&self) -> &ExchangeSim;

    /// The endpoint a method and path name.
    fn route(&self, method: &Method, path: &str) -> Result<Self::Endpoint, Unrouted>;

    /// The reply to an unknown endpoint.
    fn not_found(&self) -> Response {
        faults::plain(StatusCode::NOT_FOUND, "404 page not found")
    }

    /// Whether the endpoint counts against the exchange's per-IP window.
    fn ip_limited(&self, _endpoint: Self::Endpoint) -> bool {
        true
    }

    /// The reply to a request over the per-IP limit; `already_banned` when
    /// an earlier excess banned the IP and the ban still holds.
    fn over_ip_limit(&self, already_banned: bool) -> OverIpLimit;

    /// The key a key-deletion request names, read from the request as sent
    /// (not from the authenticated caller, so that a key that is gone and
    /// asked to delete itself counts too); `None` for every other endpoint.
    fn delete_target(&self, _endpoint: Self::Endpoint, _request: &Request) -> Option<String> {
        None
    }

    /// The exchange's rate-limit reply, for an injected rate-limit fault.
    fn injected_rate_limit(&self) -> Response;

    /// Authenticate, limit and act on a request, at the exchange's `now`
    /// (Unix ms).
    fn answer(&self, endpoint: Self::Endpoint, request: &Request, now: i64) -> Answer;
}

/// The router that serves a dialect on every path.
pub fn router<D: Dialect>(dialect: D) -> Router {
    Router::new()
        .fallback(handle::<D>)
        .with_state(Arc::new(dialect))
}

async fn handle<D: Dialect>(
    State(dialect): State<Arc<D>>,
    extensions: Extensions,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Served by the simulator's listener with connection info; a router
    // driven some other way counts as one loopback client.
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
    let request = Request {
        peer,
        method,
        uri,
        headers,
        body,
    };
    serve(&*dialect, &request).await
}

/// One request through the steps every dialect shares.
pub async fn serve<D: Dialect>(dialect: &D, request: &Request) -> Response {
    let sim = dialect.sim();
    sim.stats.saw_request(keyrevoke_core::http::unix_ms());
    let endpoint = match dialect.route(&request.method, request.uri.path()) {
        Ok(e) => e,
        Err(Unrouted::NotFound) => {
            Stats::bump(&sim.stats.unknown_endpoint);
            return dialect.not_found();
        }
        Err(Unrouted::Refused(response)) => {
            Stats::bump(&sim.stats.refused);
            return response;
        }
    };
    if let Some(kind) = sim.timeline.arrived() {
        return refused_by_outage(dialect, kind);
    }
    if sim.limits && dialect.ip_limited(endpoint) {
        let verdict = sim.ip_window.hit(request.peer, 1);
        if verdict != SlidingVerdict::Allowed {
            return match dialect.over_ip_limit(verdict == SlidingVerdict::Banned) {
                OverIpLimit::RateLimited(response) => {
                    Stats::bump(&sim.stats.rate_limited);
                    response
                }
                OverIpLimit::Banned(response) => {
                    Stats::bump(&sim.stats.ip_banned);
                    response
                }
            };
        }
    }
    match sim.fault_before() {
        Before::Proceed => {}
        Before::Unavailable => {
            sim.stats.injected(&sim.stats.injected_unavailable);
            return faults::unavailable();
        }
        Before::RateLimited => {
            sim.stats.injected(&sim.stats.injected_rate_limited);
            return dialect.injected_rate_limit();
        }
        Before::Stall(d) => {
            sim.stats.injected(&sim.stats.injected_stall);
            tokio::time::sleep(d).await;
        }
    }
    // A deletion the exchange judged (one past the IP window, the injected
    // refusals and the exchange's own limits), and whether it deleted.
    let target = dialect.delete_target(endpoint, request);
    let answer = dialect.answer(endpoint, request, sim.now_ms());
    if let Some(target) = &target {
        match &answer {
            Answer::Ok(_) => sim.stats.delete_requests.saw(target, true),
            Answer::Refused(_) => sim.stats.delete_requests.saw(target, false),
            Answer::TurnedAway(_) | Answer::Limited(_) => {}
        }
    }
    let deleted = target.is_some() && matches!(answer, Answer::Ok(_));
    let response = match answer {
        Answer::TurnedAway(response) => return response,
        Answer::Ok(response) => {
            Stats::bump(&sim.stats.ok);
            response
        }
        Answer::Refused(response) | Answer::Limited(response) => {
            Stats::bump(&sim.stats.refused);
            response
        }
    };
    if deleted && sim.delete_times_out() {
        sim.stats.injected(&sim.stats.injected_gateway_timeout);
        return faults::gateway_timeout();
    }
    match sim.fault_after() {
        After::Reply => response,
        After::GatewayTimeout => {
            sim.stats.injected(&sim.stats.injected_gateway_timeout);
            faults::gateway_timeout()
        }
        After::Reset => {
            sim.stats.injected(&sim.stats.injected_reset);
            faults::reset()
        }
    }
}

/// A request refused by a scheduled outage, counted as the dialect's own
/// refusal would be.
fn refused_by_outage<D: Dialect>(dialect: &D, kind: OutageKind) -> Response {
    let stats = &dialect.sim().stats;
    match kind {
        OutageKind::RateLimit => {
            Stats::bump(&stats.rate_limited);
            dialect.injected_rate_limit()
        }
        OutageKind::IpBan => match dialect.over_ip_limit(true) {
            OverIpLimit::RateLimited(response) => {
                Stats::bump(&stats.rate_limited);
                response
            }
            OverIpLimit::Banned(response) => {
                Stats::bump(&stats.ip_banned);
                response
            }
        },
    }
}

/// A form-encoded string without its `signature` pair, and that signature:
/// what Binance and MEXC sign (`totalParams`) is the rest, as sent.
pub fn split_signature(raw: &str) -> (String, Option<String>) {
    let mut signature = None;
    let kept: Vec<&str> = raw
        .split('&')
        .filter(|kv| match kv.strip_prefix("signature=") {
            Some(sig) => {
                signature = Some(sig.to_string());
                false
            }
            None => true,
        })
        .collect();
    (kept.join("&"), signature)
}

/// Parameters, decoded: the query string's first, then the body's (a name in
/// both is read from the query string, as Binance and MEXC document).
#[derive(Default)]
pub struct FormParams(Vec<(String, String)>);

impl FormParams {
    pub fn read(query: &str, body: &str) -> FormParams {
        let mut p = FormParams::default();
        for part in [query, body] {
            for (k, v) in form_pairs(part) {
                if p.get(&k).is_none() {
                    p.0.push((k, v));
                }
            }
        }
        p
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        form_value(&self.0, name)
    }

    /// The parameter, when sent and not empty.
    pub fn present(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

/// Undo form URL-encoding: `+` is a space, `%XX` a byte; a `%` not followed
/// by two hex digits stays as it is.
pub fn form_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi * 16 + lo);
                i += 2;
            }
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A form-encoded string's pairs (`a=1&b`), decoded, in their order; a name
/// without `=` has the value "".
pub fn form_pairs(form: &str) -> Vec<(String, String)> {
    form.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// The first value of `name` among a form's pairs.
pub fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A request body that is a JSON object, as the write endpoints take.
pub fn json_object(body: &[u8]) -> Option<Value> {
    match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    }
}

/// The first entry of an IP list to bind a key to that is not an IP
/// address (a masked `203.**.154`, say), if any.
pub fn first_bad_ip(ips: &[String]) -> Option<&str> {
    ips.iter()
        .map(String::as_str)
        .find(|ip| ip.parse::<std::net::IpAddr>().is_err())
}

/// Unix ms as ISO 8601 UTC with milliseconds, `2023-11-14T22:13:20.123Z`
/// (civil-from-days, proleptic Gregorian).
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_match_known_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn form_components_are_percent_decoded() {
        assert_eq!(
            form_decode("bot001%40virtual.example"),
            "bot001@virtual.example"
        );
        assert_eq!(form_decode("a+b%2Cc"), "a b,c");
        assert_eq!(form_decode("%EF%BC%91"), "１");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("a+b%2Bc%"), "a b+c%");
        assert_eq!(form_decode("%zz%4"), "%zz%4", "not an escape");
    }

    #[test]
    fn pairs_keep_their_order_and_a_bare_name_has_an_empty_value() {
        let pairs = form_pairs("apiKey=67*b3&subName=test&passphrase=abc%21%40%2311&flag");
        assert_eq!(form_value(&pairs, "passphrase"), Some("abc!@#11"));
        assert_eq!(form_value(&pairs, "flag"), Some(""));
        assert_eq!(form_value(&pairs, "absent"), None);
        assert_eq!(pairs[0], ("apiKey".to_string(), "67*b3".to_string()));
    }
}
