//! Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
//! Backoff and Jitter"): sleep a uniform random time in
//! `[0, min(cap, base * 2^attempt)]`, so that retries of many keys spread out
//! instead of hitting a recovering exchange together.

use rand::Rng;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The ceiling for the `attempt`-th retry (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u64.checked_shl(attempt.min(30)).unwrap_or(u64::MAX);
        let ms = (self.base.as_millis() as u64).saturating_mul(factor);
        Duration::from_millis(ms).min(self.cap)
    }

    /// A delay for the `attempt`-th retry; never shorter than what the
    /// exchange asked for with Retry-After.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis() as u64;
        let jittered = Duration::from_millis(rng.gen_range(0..=ceiling));
        match retry_after {
            Some(asked) => asked.max(jittered),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(2), Duration::from_millis(400));
        assert_eq!(b.ceiling(10), Duration::from_secs(1));
        assert_eq!(b.ceiling(200), Duration::from_secs(1));
    }

    #[test]
    fn delays_stay_under_the_ceiling_and_honour_retry_after() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(3, None, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(800)));
        assert!(
            delays.iter().any(|d| *d < Duration::from_millis(400)),
            "jitter spreads delays"
        );
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(5)), &mut rng),
            Duration::from_secs(5)
        );
    }
}
