//! Points ledgers (§7): credits earned with an expiry, spent oldest first.

use super::R;
use crate::tight::Tight;
use crate::time::FOREVER;
use crate::value::Value;
use serde::{Deserialize, Serialize};

/// Points earned by one event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Credit {
    /// When they were earned.
    pub t: i64,
    /// When they expire (they count until, not at, this instant).
    pub expires: i64,
    /// What is left unspent.
    pub remaining: f64,
}

/// A customer's unspent credits in one ledger, in earning order (ties in
/// arrival order).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Credits(Tight<Credit>);

fn live(c: &Credit, now: i64) -> bool {
    c.t <= now && now < c.expires && c.remaining > 0.0
}

impl Credits {
    /// Asks for its block (see `hint`).
    pub fn prefetch(&self) {
        crate::hint::prefetch(self.0.as_ptr());
    }

    /// Adds a credit in FIFO (earning) order: after every credit earned at
    /// or before it.
    pub fn earn(&mut self, credit: Credit) {
        let at = self.0.partition_point(|c| c.t <= credit.t);
        self.0.insert(at, credit);
    }

    /// Spends `amount` from the oldest unexpired credits at `now`; returns
    /// the shortfall (what the balance could not cover).
    pub fn spend(&mut self, now: i64, amount: f64) -> f64 {
        let mut left = amount;
        for c in self.0.as_mut_slice().iter_mut().filter(|c| live(c, now)) {
            if left <= 0.0 {
                break;
            }
            let take = c.remaining.min(left);
            c.remaining -= take;
            left -= take;
        }
        self.0.retain(|c| c.remaining > 0.0);
        left.max(0.0)
    }

    /// Drops spent and expired credits.
    pub fn prune(&mut self, now: i64) {
        self.0.retain(|c| c.remaining > 0.0 && c.expires > now);
    }

    /// Drops the `n` oldest credits (a customer past the per-customer
    /// limit); returns how many there were.
    pub fn evict(&mut self, n: usize) -> usize {
        self.0.take_front(n, drop)
    }

    /// Credits held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The first instant a credit leaves. A ledger's credits all expire
    /// the same time after they were earned (or never), and spent ones are
    /// gone, so that is the oldest's expiry.
    pub fn next_leave(&self) -> Option<i64> {
        self.0.first().map(|c| c.expires)
    }

    /// `balance(L)`: unexpired, unspent points, until the next credit
    /// expires.
    pub fn balance(&self, now: i64) -> R {
        let mut sum = 0.0;
        let mut until = FOREVER;
        for c in self.0.iter().filter(|c| live(c, now)) {
            sum += c.remaining;
            until = until.min(c.expires);
        }
        R::fixed(Value::Number(sum), until)
    }

    /// `expiring(L in D)`: points whose expiry `x` has `now < x <= now + D`;
    /// it changes when a credit enters that horizon or expires.
    pub fn expiring(&self, now: i64, horizon: i64) -> R {
        let mut sum = 0.0;
        let mut until = FOREVER;
        for c in self.0.iter().filter(|c| live(c, now)) {
            let enters = c.expires.saturating_sub(horizon);
            if enters <= now {
                sum += c.remaining;
            } else {
                until = until.min(enters);
            }
            until = until.min(c.expires);
        }
        R::fixed(Value::Number(sum), until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credit(t: i64, expires: i64, remaining: f64) -> Credit {
        Credit {
            t,
            expires,
            remaining,
        }
    }

    #[test]
    fn fifo_across_expiry_with_shortfall() {
        let mut c = Credits::default();
        c.earn(credit(10, 100, 5.0));
        c.earn(credit(20, 110, 7.0));
        c.earn(credit(30, 120, 3.0));
        // At 105 the first credit has expired: spends start with the second.
        assert_eq!(c.spend(105, 8.0), 0.0);
        assert_eq!(c.balance(105).v, Value::Number(2.0));
        // Partial spend, then a shortfall.
        assert_eq!(c.spend(106, 4.0), 2.0);
        assert_eq!(c.balance(106).v, Value::Number(0.0));
    }

    #[test]
    fn expiring_enters_the_horizon_and_leaves_at_expiry() {
        let mut c = Credits::default();
        c.earn(credit(0, 100, 5.0));
        let r = c.expiring(50, 30);
        assert_eq!((r.v, r.until), (Value::Number(0.0), 70));
        let r = c.expiring(70, 30);
        assert_eq!((r.v, r.until), (Value::Number(5.0), 100));
        let r = c.expiring(100, 30);
        assert_eq!(r.v, Value::Number(0.0), "counts until, not at, its expiry");
        assert_eq!(c.balance(99).until, 100);
    }
}
