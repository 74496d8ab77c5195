//! The last guard before a request leaves: what each account (and each
//! egress address) actually sent in its tier's last window, measured when
//! it is sent.
//!
//! The governor grants budget at virtual instants; the task granted wakes a
//! little later, and on a loaded machine one task may wake tens of
//! milliseconds late while the next wakes on time. Their requests then
//! leave closer together than the grants were, and a rolling window (Bybit
//! counts its per-UID limits in a "rolling time window per second",
//! `docs/v5/rate-limit/rate-limit.mdx`) sees more than its capacity, since
//! the headroom of a 1 s tier at the default scale is only 20 ms. Counting
//! real send instants closes that gap: a request waits, still holding its
//! grant, until the window it would land in has room.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least margin a window gets: what a loaded machine (ours, or the
/// exchange's front end) may delay one request more than the next.
const MIN_MARGIN: Duration = Duration::from_millis(25);

/// One tier's window, as the exchange counts it plus a margin.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub capacity: u32,
    /// The documented period plus half the headroom the scale keeps (at
    /// least [`MIN_MARGIN`]): wide enough to absorb the exchange's own
    /// timing, narrow enough that requests paced by the governor seldom
    /// wait here (a 1 s window at the default scale keeps 97.5% of its
    /// rate).
    pub span: Duration,
}

impl Window {
    pub fn new(capacity: u32, period: Duration, scale: f64) -> Self {
        let half_headroom = period.mul_f64(((1.0 - scale) / 2.0).clamp(0.0, 0.5));
        Window {
            capacity: capacity.max(1),
            span: period + half_headroom.max(MIN_MARGIN),
        }
    }
}

/// The sends of one (account tier, account): when, and of what weight.
type SendLog = VecDeque<(Instant, u32)>;

/// Send instants per (account tier, account).
#[derive(Default)]
pub struct SendLogs {
    logs: Mutex<HashMap<(usize, String), SendLog>>,
}

impl SendLogs {
    /// Record a send now of `charges` ((tier index, its window, weight))
    /// for `account` when every window has room: Ok. Otherwise nothing is
    /// recorded and Err says how long until the fullest one has room.
    pub fn claim(
        &self,
        account: &str,
        charges: &[(usize, Window, u32)],
        now: Instant,
    ) -> Result<(), Duration> {
        let mut logs = self.logs.lock().unwrap();
        let mut wait = Duration::ZERO;
        for (tier, window, weight) in charges {
            let Some(log) = logs.get_mut(&(*tier, account.to_string())) else {
                continue;
            };
            while log
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) >= window.span)
            {
                log.pop_front();
            }
            wait = wait.max(room_after(log, *window, *weight, now));
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for (tier, _, weight) in charges {
            logs.entry((*tier, account.to_string()))
                .or_default()
                .push_back((now, *weight));
        }
        Ok(())
    }

    /// Forget accounts whose windows have all passed.
    pub fn forget_idle(&self, longest: Duration) {
        let now = Instant::now();
        self.logs.lock().unwrap().retain(|_, log| {
            log.back()
                .is_some_and(|(t, _)| now.duration_since(*t) < longest)
        });
    }
}

/// How long until `weight` more fits in a pruned `log`: the oldest sends
/// must leave the window until what remains, plus `weight`, is at most the
/// capacity.
fn room_after(
    log: &VecDeque<(Instant, u32)>,
    window: Window,
    weight: u32,
    now: Instant,
) -> Duration {
    let weight = weight.clamp(1, window.capacity);
    let mut used: u32 = log.iter().map(|(_, w)| w).sum();
    for (sent, w) in log {
        if used + weight <= window.capacity {
            break;
        }
        used -= w;
        // Once `sent` leaves the window, its weight is free again.
        let leaves = *sent + window.span;
        if used + weight <= window.capacity {
            return leaves.saturating_duration_since(now);
        }
    }
    Duration::ZERO
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_A_SECOND: Window = Window {
        capacity: 5,
        span: Duration::from_millis(1000),
    };

    #[test]
    fn a_sixth_send_waits_until_the_first_leaves_the_window() {
        let logs = SendLogs::default();
        let t0 = Instant::now();
        for i in 0..5 {
            let at = t0 + Duration::from_millis(100 * i);
            assert!(logs.claim("a", &[(0, FIVE_A_SECOND, 1)], at).is_ok());
        }
        let at = t0 + Duration::from_millis(600);
        assert_eq!(
            logs.claim("a", &[(0, FIVE_A_SECOND, 1)], at),
            Err(Duration::from_millis(400))
        );
        assert!(
            logs.claim("b", &[(0, FIVE_A_SECOND, 1)], at).is_ok(),
            "another account"
        );
        assert!(
            logs.claim("a", &[(1, FIVE_A_SECOND, 1)], at).is_ok(),
            "another tier"
        );
        let later = t0 + Duration::from_millis(1000);
        assert!(logs.claim("a", &[(0, FIVE_A_SECOND, 1)], later).is_ok());
    }

    #[test]
    fn a_refused_claim_records_nothing_in_any_tier() {
        let logs = SendLogs::default();
        let t0 = Instant::now();
        let one = Window {
            capacity: 1,
            span: Duration::from_secs(1),
        };
        assert!(logs.claim("a", &[(1, one, 1)], t0).is_ok());
        // Tier 0 has room, tier 1 has not: neither records the send.
        assert!(logs.claim("a", &[(0, one, 1), (1, one, 1)], t0).is_err());
        assert!(logs.claim("a", &[(0, one, 1)], t0).is_ok());
    }

    #[test]
    fn weights_count_until_enough_has_left() {
        let logs = SendLogs::default();
        let t0 = Instant::now();
        let w = Window {
            capacity: 10,
            span: Duration::from_secs(1),
        };
        assert!(logs.claim("a", &[(0, w, 4)], t0).is_ok());
        let t1 = t0 + Duration::from_millis(300);
        assert!(logs.claim("a", &[(0, w, 4)], t1).is_ok());
        // 8 of 10 used: a weight of 7 needs both earlier sends gone.
        assert_eq!(
            logs.claim("a", &[(0, w, 7)], t1),
            Err(Duration::from_millis(1000))
        );
        assert_eq!(
            logs.claim("a", &[(0, w, 6)], t1),
            Err(Duration::from_millis(700))
        );
    }

    #[test]
    fn the_margin_is_half_the_headroom_and_never_under_the_minimum() {
        let w = Window::new(5, Duration::from_secs(1), 0.98);
        assert_eq!(w.span, Duration::from_millis(1025));
        let w = Window::new(600, Duration::from_secs(5), 0.98);
        assert_eq!(w.span, Duration::from_millis(5050));
    }
}
