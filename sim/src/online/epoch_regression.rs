//! **epoch-regression**: one leader epoch was given to two different leaders, or a leader's
//! own epochs went backwards (it leads at an epoch below one it already led at).
//!
//! Rule (SIMULATION.md, online checkers: leader epochs only grow; KIP-101/KIP-279 rely on an
//! epoch naming exactly one leader's term). Re-announcing the current epoch with the same
//! leader (an ISR change) is fine, and so is a replica adopting late an older epoch that the
//! controller gave it before a newer one went to another broker (a paused broker resuming
//! with a queued role change): that epoch was still given out once, and in order.

use std::collections::BTreeMap;

use super::{anomaly, At, Election};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "epoch-regression";

/// `elections` holds every (epoch → leader) announced so far for the partition.
pub fn check(
    tp: &Tp,
    elections: &BTreeMap<i32, i32>,
    election: Election,
    at: At,
) -> Option<Anomaly> {
    let reused = elections
        .get(&election.leader_epoch)
        .filter(|&&leader| leader != election.leader);
    let own_later = elections
        .iter()
        .filter(|(&epoch, &leader)| leader == election.leader && epoch > election.leader_epoch)
        .map(|(&epoch, _)| epoch)
        .max();
    let what = if let Some(other) = reused {
        format!(
            "{tp} elected broker {} at epoch {}, which already belonged to broker {other}",
            election.leader, election.leader_epoch
        )
    } else if let Some(later) = own_later {
        format!(
            "{tp} elected broker {} at epoch {}, below its own earlier epoch {later}",
            election.leader, election.leader_epoch
        )
    } else {
        return None;
    };
    Some(anomaly(KIND, tp, None, at, what))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn online_epoch_regression_backwards_is_reported() {
        let events = [
            elected(1, 3, &[1, 2], true),
            elected(2, 4, &[1, 2], true),
            elected(1, 2, &[1, 2], true),
        ];
        let found = run(&events);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 2);
        assert_eq!(found[0].1.kind, "epoch-regression");
        assert_eq!(found[0].1.tp, Some(tp()));
        assert_eq!(found[0].1.offset, None);
    }

    #[test]
    fn online_epoch_regression_repeated_epoch_other_leader_is_reported() {
        let events = [elected(1, 3, &[1, 2], true), elected(2, 3, &[1, 2], true)];
        assert_eq!(kinds(&events), vec![("epoch-regression".into(), None)]);
    }

    #[test]
    fn online_epoch_regression_late_adoption_of_an_older_epoch_is_fine() {
        // Broker 2 was given epoch 1, froze, and adopted it after broker 3 got epoch 2.
        let events = [
            elected(1, 0, &[1, 2, 3], true),
            elected(3, 2, &[3], true),
            elected(2, 1, &[2, 3], true),
        ];
        assert_eq!(kinds(&events), vec![]);
    }

    #[test]
    fn online_epoch_regression_growing_or_same_leader_is_fine() {
        let events = [
            elected(1, 3, &[1, 2], true),
            elected(1, 3, &[1], true),
            elected(2, 4, &[2], true),
        ];
        assert_eq!(kinds(&events), vec![]);
    }
}
