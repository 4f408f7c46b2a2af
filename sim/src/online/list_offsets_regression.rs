//! **list-offsets-regression**: a client's ListOffsets(latest) was answered with an offset
//! below one an earlier answer for the same partition gave.
//!
//! Rule (KIP-207: ListOffsets is monotonic across leader changes). The latest offset is the
//! leader's high watermark; a new leader learns the committed end one fetch after its
//! followers, so right after an election its HW can lag the old leader's and, without
//! KIP-207's OFFSET_NOT_AVAILABLE, a consumer asking for the end of the log sees it move
//! backwards. An unclean election waives the rule (the new leader's log is the truth), and so
//! does a committed prefix lost everywhere (reported as its own anomaly).

use super::{anomaly, At, PartitionModel};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "list-offsets-regression";

pub fn check(
    tp: &Tp,
    partition: &mut PartitionModel,
    broker: i32,
    offset: i64,
    at: At,
) -> Option<Anomaly> {
    let highest = partition.latest_listed;
    partition.latest_listed = highest.max(Some(offset));
    let highest = highest.filter(|&highest| offset < highest)?;
    let what = format!(
        "broker {broker} answered ListOffsets(latest) for {tp} with {offset}, below the {highest} answered before"
    );
    Some(anomaly(KIND, tp, Some(offset), at, what))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn online_list_offsets_regression_across_a_leader_change_is_reported() {
        let mut events = replicated_prefix();
        events.extend([listed(1, 4), elected(2, 1, &[2, 1], true), listed(2, 2)]);
        let found = run(&events);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1.kind, "list-offsets-regression");
        assert_eq!(found[0].1.offset, Some(2));
    }

    #[test]
    fn online_list_offsets_growing_or_after_an_unclean_election_is_fine() {
        let mut events = replicated_prefix();
        events.extend([listed(1, 2), listed(1, 4), listed(2, 4)]);
        assert_eq!(kinds(&events), vec![]);
        let mut events = replicated_prefix();
        events.extend([listed(1, 4), elected(2, 1, &[2], false), listed(2, 2)]);
        assert_eq!(kinds(&events), vec![]);
    }
}
