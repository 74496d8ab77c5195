//! `revoke --triage`: probe each key first, and send the writes of keys that
//! can move funds before the others (DESIGN.md, "Triage and verification").
//!
//! Without it a key's first request is its strongest channel: one request
//! per neutralized key. With it every key costs a probe more, which buys two
//! things an operator may want more than speed: a key found dead gets no
//! write at all, and a withdraw- or transfer-enabled key never waits behind
//! a read-only one.
//!
//! The order holds among the keys an exchange's lane works on at once (its
//! per-exchange concurrency): a key that cannot move funds waits, before its
//! first write, until no key of the lane is still being probed or holds a
//! fund-moving write not yet sent.

use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// One exchange's order of writes under triage.
#[derive(Default)]
pub struct FundsFirst {
    /// Keys being probed, plus fund-moving keys whose write has not left.
    ahead: Mutex<usize>,
    changed: Notify,
}

/// How long a waiting key sleeps before looking again should a wake-up be
/// missed; the order only needs to hold, not to be instant.
const RECHECK: Duration = Duration::from_millis(100);

/// A key's place in the order, from its probe until its write leaves.
/// Dropped without [`Place::write_leaves`] (an error, a cancel), it gives
/// its place up.
pub struct Place<'a> {
    order: &'a FundsFirst,
    holding: bool,
}

impl FundsFirst {
    /// A key starts its probe: keys that cannot move funds wait for it.
    pub fn probing(&self) -> Place<'_> {
        *self.ahead.lock().unwrap() += 1;
        Place {
            order: self,
            holding: true,
        }
    }

    fn release(&self) {
        let mut ahead = self.ahead.lock().unwrap();
        *ahead = ahead.saturating_sub(1);
        if *ahead == 0 {
            self.changed.notify_waiters();
        }
    }

    /// Wait until no key is being probed and no fund-moving write waits.
    pub async fn wait_turn(&self) {
        loop {
            let notified = self.changed.notified();
            if *self.ahead.lock().unwrap() == 0 {
                return;
            }
            let _ = tokio::time::timeout(RECHECK, notified).await;
        }
    }
}

impl Place<'_> {
    /// The probe found a key that cannot move funds (or could not tell):
    /// it gives its place up and waits for those that can.
    pub async fn after_fund_moving(mut self) {
        self.give_up();
        self.order.wait_turn().await;
    }

    /// A fund-moving key's first write is leaving: it no longer holds
    /// anyone back.
    pub fn write_leaves(mut self) {
        self.give_up();
    }

    fn give_up(&mut self) {
        if std::mem::take(&mut self.holding) {
            self.order.release();
        }
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.give_up();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_key_that_cannot_move_funds_waits_for_the_fund_moving_write() {
        let order = Arc::new(FundsFirst::default());
        let urgent = order.probing();
        let calm = order.probing();
        let waiter = {
            let order = order.clone();
            tokio::spawn(async move {
                let calm = order.probing();
                calm.after_fund_moving().await;
            })
        };
        drop(calm);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(
            !waiter.is_finished(),
            "held while a fund-moving write waits"
        );
        urgent.write_leaves();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("released once it left")
            .unwrap();
    }
}
