//! Points ledgers (§7): credits earned with an expiry, spent oldest first.

use super::{FOREVER, R};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Points earned by one event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Credit {
    /// When they were earned.
    pub t: i64,
    /// Arrival order of the earning event.
    pub seq: u64,
    /// When they expire (they count until, not at, this instant).
    pub expires: i64,
    /// What is left unspent.
    pub remaining: f64,
}

fn live(c: &Credit, now: i64) -> bool {
    c.t <= now && now < c.expires && c.remaining > 0.0
}

/// Adds a credit in FIFO (earning) order.
pub fn earn(credits: &mut VecDeque<Credit>, credit: Credit) {
    let at = credits.partition_point(|c| (c.t, c.seq) <= (credit.t, credit.seq));
    credits.insert(at, credit);
}

/// Spends `amount` from the oldest unexpired credits at `now`; returns the
/// shortfall (what the balance could not cover).
pub fn spend(credits: &mut VecDeque<Credit>, now: i64, amount: f64) -> f64 {
    let mut left = amount;
    for c in credits.iter_mut().filter(|c| live(c, now)) {
        if left <= 0.0 {
            break;
        }
        let take = c.remaining.min(left);
        c.remaining -= take;
        left -= take;
    }
    credits.retain(|c| c.remaining > 0.0);
    left.max(0.0)
}

/// Drops spent and expired credits.
pub fn prune(credits: &mut VecDeque<Credit>, now: i64) {
    credits.retain(|c| c.remaining > 0.0 && c.expires > now);
}

/// `balance(L)`: unexpired, unspent points, until the next credit expires.
pub fn balance(credits: &VecDeque<Credit>, now: i64) -> R {
    let mut sum = 0.0;
    let mut until = FOREVER;
    for c in credits.iter().filter(|c| live(c, now)) {
        sum += c.remaining;
        until = until.min(c.expires);
    }
    R::fixed(Value::Number(sum), until)
}

/// `expiring(L in D)`: points whose expiry `x` has `now < x <= now + D`;
/// it changes when a credit enters that horizon or expires.
pub fn expiring(credits: &VecDeque<Credit>, now: i64, horizon: i64) -> R {
    let mut sum = 0.0;
    let mut until = FOREVER;
    for c in credits.iter().filter(|c| live(c, now)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn credit(t: i64, expires: i64, remaining: f64) -> Credit {
        Credit {
            t,
            seq: t as u64,
            expires,
            remaining,
        }
    }

    #[test]
    fn fifo_across_expiry_with_shortfall() {
        let mut c = VecDeque::new();
        earn(&mut c, credit(10, 100, 5.0));
        earn(&mut c, credit(20, 110, 7.0));
        earn(&mut c, credit(30, 120, 3.0));
        // At 105 the first credit has expired: spends start with the second.
        assert_eq!(spend(&mut c, 105, 8.0), 0.0);
        assert_eq!(balance(&c, 105).v, Value::Number(2.0));
        // Partial spend, then a shortfall.
        assert_eq!(spend(&mut c, 106, 4.0), 2.0);
        assert_eq!(balance(&c, 106).v, Value::Number(0.0));
    }

    #[test]
    fn expiring_enters_the_horizon_and_leaves_at_expiry() {
        let mut c = VecDeque::new();
        earn(&mut c, credit(0, 100, 5.0));
        let r = expiring(&c, 50, 30);
        assert_eq!((r.v, r.until), (Value::Number(0.0), 70));
        let r = expiring(&c, 70, 30);
        assert_eq!((r.v, r.until), (Value::Number(5.0), 100));
        let r = expiring(&c, 100, 30);
        assert_eq!(r.v, Value::Number(0.0), "counts until, not at, its expiry");
        assert_eq!(balance(&c, 99).until, 100);
    }
}
