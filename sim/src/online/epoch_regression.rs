//! **epoch-regression**: a partition's leader epoch went backwards, or one epoch was given to
//! two different leaders.
//!
//! Rule (SIMULATION.md, online checkers: leader epochs only grow; KIP-101/KIP-279 rely on an
//! epoch naming exactly one leader's term). Re-announcing the current epoch with the same
//! leader (an ISR change) is fine.

use super::{anomaly, At, Election};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "epoch-regression";

pub fn check(tp: &Tp, latest: Option<Election>, election: Election, at: At) -> Option<Anomaly> {
    let latest = latest?;
    let what = if election.leader_epoch < latest.leader_epoch {
        format!(
            "{tp} elected broker {} at epoch {}, below the earlier epoch {} (broker {})",
            election.leader, election.leader_epoch, latest.leader_epoch, latest.leader
        )
    } else if election.leader_epoch == latest.leader_epoch && election.leader != latest.leader {
        format!(
            "{tp} elected broker {} at epoch {}, which already belonged to broker {}",
            election.leader, election.leader_epoch, latest.leader
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
        let events = [elected(1, 3, &[1, 2], true), elected(2, 2, &[1, 2], true)];
        let found = run(&events);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 1);
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
    fn online_epoch_regression_growing_or_same_leader_is_fine() {
        let events = [
            elected(1, 3, &[1, 2], true),
            elected(1, 3, &[1], true),
            elected(2, 4, &[2], true),
        ];
        assert_eq!(kinds(&events), vec![]);
    }
}
