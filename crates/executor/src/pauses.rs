//! Pauses the exchanges order, and the gentle way back after one.
//!
//! A pause is a promise to the exchange (DESIGN.md, "Pauses"): from the
//! moment a reply says stop until the time is up, no request of that scope
//! leaves, whether it was waiting for budget, already granted, or waiting
//! for a connection slot. So the check is made right before sending
//! ([`Pauses::admit`]), not only before waiting for budget.
//!
//! After a refusal (a 429, a 418 or 403 ban) the pause ends on probation:
//! one request goes first and the rest wait for its answer. Accepted, the
//! scope is clear; refused again, the next pause is at least twice the last.
//! Binance asks for this: repeated requests after a 418 lengthen the ban from
//! 2 minutes to 3 days (binance.md, "IP Limits"; `rest-api.md`); Bybit's 403
//! ban lasts "at least 10 minutes" (`docs/v5/rate-limit/rate-limit.mdx`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a request waits before asking again while another request
/// tests whether a pause is over. Short next to any exchange's pause, long
/// enough that the waiting keys of a lane cost next to nothing.
pub const PROBATION_POLL: Duration = Duration::from_millis(50);

/// The longest pause the doubling reaches: Binance's longest documented ban
/// is 3 days; the exchange's own Retry-After may still ask for more.
const MAX_DOUBLED: Duration = Duration::from_secs(3 * 24 * 3600);

#[derive(Debug)]
struct Pause {
    until: Instant,
    /// The length of the latest pause, doubled when its probe is refused.
    length: Duration,
    /// Ended by a refusal: the way back starts with one probe request.
    probation: bool,
    /// A probe request is out.
    probe_out: bool,
}

/// Leave to send one request, given by [`Pauses::admit`]: the pauses whose
/// probation this request tests. Hand it back to [`Pauses::settle`].
#[derive(Debug, Default)]
#[must_use = "a pass that probes a pause must be settled"]
pub struct Pass {
    probing: Vec<String>,
}

impl Pass {
    /// Whether this request is the one testing the end of a pause.
    pub fn is_probe(&self) -> bool {
        !self.probing.is_empty()
    }
}

/// What the exchange made of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// It answered, with anything but a rate-limit refusal.
    Answered,
    /// It refused the request for a rate limit or a ban.
    Limited,
    /// No answer (a timeout, a broken connection): nothing learned.
    Nothing,
}

/// Pauses by scope key ("ip", or an account).
#[derive(Default)]
pub struct Pauses {
    by_scope: Mutex<HashMap<String, Pause>>,
}

impl Pauses {
    /// No request of `scope` leaves for `after`. `refused`: the exchange
    /// refused a request (rather than reporting its budget used up), so the
    /// pause ends on probation.
    pub fn pause(&self, scope: &str, after: Duration, refused: bool) {
        let now = Instant::now();
        let until = now + after;
        let mut by_scope = self.by_scope.lock().unwrap();
        let p = by_scope.entry(scope.to_string()).or_insert(Pause {
            until,
            length: after,
            probation: false,
            probe_out: false,
        });
        if p.until < until {
            p.until = until;
            p.length = after;
        }
        p.probation |= refused;
    }

    /// How long a request of these scopes must wait before it may try
    /// [`Pauses::admit`]; None when it may try now.
    pub fn blocked_for(&self, scopes: &[&str]) -> Option<Duration> {
        let now = Instant::now();
        let by_scope = self.by_scope.lock().unwrap();
        scopes
            .iter()
            .filter_map(|s| by_scope.get(*s))
            .filter_map(|p| {
                if p.until > now {
                    Some(p.until - now)
                } else if p.probation && p.probe_out {
                    Some(PROBATION_POLL)
                } else {
                    None
                }
            })
            .max()
    }

    /// The last check before a request leaves: Err(wait) while any of its
    /// scopes is paused or another request is testing the end of a pause;
    /// otherwise a pass, which claims the probe of every scope on probation.
    pub fn admit(&self, scopes: &[&str]) -> Result<Pass, Duration> {
        let now = Instant::now();
        let mut by_scope = self.by_scope.lock().unwrap();
        let mut wait = None;
        for s in scopes {
            if let Some(p) = by_scope.get(*s) {
                let w = if p.until > now {
                    Some(p.until - now)
                } else if p.probation && p.probe_out {
                    Some(PROBATION_POLL)
                } else {
                    None
                };
                wait = wait.max(w);
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        let mut pass = Pass::default();
        for s in scopes {
            if let Some(p) = by_scope.get_mut(*s) {
                if p.probation {
                    p.probe_out = true;
                    pass.probing.push(s.to_string());
                } else {
                    // Ended without a refusal: nothing to test.
                    by_scope.remove(*s);
                }
            }
        }
        Ok(pass)
    }

    /// What became of a request admitted with `pass`. Call it after the
    /// pause its refusal ordered, if any, has been set.
    pub fn settle(&self, pass: Pass, heard: Heard) {
        if pass.probing.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut by_scope = self.by_scope.lock().unwrap();
        for s in &pass.probing {
            let Some(p) = by_scope.get_mut(s) else {
                continue;
            };
            p.probe_out = false;
            match heard {
                // A refusal heard after the probe left still stands.
                Heard::Answered if p.until <= now => {
                    by_scope.remove(s);
                }
                Heard::Answered | Heard::Nothing => {}
                Heard::Limited => {
                    let doubled = (p.length * 2).min(MAX_DOUBLED);
                    let ordered = p.until.saturating_duration_since(now);
                    p.length = ordered.max(doubled);
                    p.until = now + p.length;
                }
            }
        }
    }

    /// Forget pauses that ended and need no probe.
    pub fn forget_ended(&self) {
        let now = Instant::now();
        self.by_scope
            .lock()
            .unwrap()
            .retain(|_, p| p.until > now || p.probation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: &str = "ip";

    #[test]
    fn a_pause_blocks_its_scope_until_it_ends_and_no_other() {
        let p = Pauses::default();
        p.pause(IP, Duration::from_millis(40), false);
        assert!(p.admit(&[IP, "a"]).is_err(), "paused");
        assert!(p.admit(&["a"]).is_ok(), "another scope is free");
        std::thread::sleep(Duration::from_millis(50));
        let first = p.admit(&[IP]).expect("the pause ended");
        assert!(!first.is_probe(), "a budget pause needs no probe");
        assert!(p.admit(&[IP]).is_ok(), "everyone may go");
    }

    #[test]
    fn after_a_refusal_one_request_tests_the_way_back_and_the_rest_wait() {
        let p = Pauses::default();
        p.pause(IP, Duration::from_millis(30), true);
        std::thread::sleep(Duration::from_millis(40));
        let probe = p.admit(&[IP]).expect("the pause ended");
        assert!(probe.is_probe());
        assert_eq!(
            p.admit(&[IP]).err(),
            Some(PROBATION_POLL),
            "others wait for the probe's answer"
        );
        p.settle(probe, Heard::Answered);
        let next = p.admit(&[IP]).expect("the probe was accepted");
        assert!(!next.is_probe(), "the scope is clear");
    }

    #[test]
    fn a_refused_probe_doubles_the_pause() {
        let p = Pauses::default();
        p.pause(IP, Duration::from_millis(30), true);
        std::thread::sleep(Duration::from_millis(40));
        let probe = p.admit(&[IP]).unwrap();
        // The refusal orders the same pause again; the probe doubles it.
        p.pause(IP, Duration::from_millis(30), true);
        p.settle(probe, Heard::Limited);
        let wait = p.admit(&[IP]).expect_err("paused again");
        assert!(wait > Duration::from_millis(50), "doubled: {wait:?}");
    }

    #[test]
    fn a_probe_that_heard_nothing_hands_the_test_to_the_next_request() {
        let p = Pauses::default();
        p.pause(IP, Duration::from_millis(10), true);
        std::thread::sleep(Duration::from_millis(20));
        let probe = p.admit(&[IP]).unwrap();
        p.settle(probe, Heard::Nothing);
        assert!(p.admit(&[IP]).unwrap().is_probe(), "the next one probes");
    }
}
