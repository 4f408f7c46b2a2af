//! **generation-double-owner**: two members of one group were assigned the same partition in
//! the same generation.
//!
//! Guarantee: every assignor (eager or cooperative) gives a partition to at most one member of
//! a generation, and the coordinator hands each member the assignment its leader computed for
//! that generation, persisted once (KIP-429 keeps this for cooperative rebalancing: a moving
//! partition is assigned to nobody until its owner revoked it). Decided from the assignments
//! members recorded and, when the wire was recorded, from every SyncGroup the coordinators
//! answered. A static member that restarts takes over its predecessor's assignment in the same
//! generation, so members are known by their instance id when they have one.

use std::collections::{BTreeMap, BTreeSet};

use super::owner_key;
use crate::checker::{ops, Anomaly, FinalState};
use crate::history::wire::WireEvent;
use crate::history::{EventKind, History, Tp};

pub const KIND: &str = "generation-double-owner";

/// The owners of one (group, generation, partition), each with the history indexes that show
/// it (empty for an assignment seen only at the wire).
type Owners = BTreeMap<String, BTreeSet<usize>>;

pub fn check(history: &History, _final_state: &FinalState) -> Vec<Anomaly> {
    let mut claims: BTreeMap<(&str, i32, &Tp), Owners> = BTreeMap::new();
    for event in &history.events {
        if let EventKind::AssignmentReceived {
            group,
            member_id,
            group_instance_id,
            generation,
            partitions,
        } = &event.kind
        {
            let owner = owner_key(member_id, group_instance_id.as_deref());
            for tp in partitions {
                let owners = claims.entry((group, *generation, tp)).or_default();
                owners.entry(owner.clone()).or_default().insert(event.index);
            }
        }
    }
    for event in &history.wire {
        if let WireEvent::GroupSynced {
            group,
            member_id,
            group_instance_id,
            generation,
            partitions,
            ..
        } = event
        {
            let owner = owner_key(member_id, group_instance_id.as_deref());
            for tp in partitions {
                let owners = claims.entry((group, *generation, tp)).or_default();
                owners.entry(owner.clone()).or_default();
            }
        }
    }
    (claims.into_iter())
        .filter(|(_, owners)| owners.len() > 1)
        .map(|((group, generation, tp), owners)| anomaly(group, generation, tp, &owners))
        .collect()
}

fn anomaly(group: &str, generation: i32, tp: &Tp, owners: &Owners) -> Anomaly {
    let names: Vec<&str> = owners.keys().map(String::as_str).collect();
    Anomaly {
        kind: KIND.to_string(),
        tp: Some(tp.clone()),
        value: None,
        offset: None,
        description: format!(
            "group {group} generation {generation} assigned {tp} to {} members: {}",
            names.len(),
            names.join(", ")
        ),
        events: ops::event_list(owners.values().flatten().copied()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{tp, HistoryBuilder};
    use super::*;

    #[test]
    fn one_owner_per_partition_and_generation_is_fine() {
        let mut b = HistoryBuilder::new();
        b.assign(1, "g", "m1", 1, &[tp(0), tp(1)]);
        // The next generation moves t/1; another group may own t/0 in the same generation.
        b.assign(1, "g", "m1", 2, &[tp(0)]);
        b.assign(2, "g", "m2", 2, &[tp(1)]);
        b.assign(3, "other", "m3", 2, &[tp(0)]);
        // A restarted static member takes over its instance's assignment in the generation.
        b.assign_static(4, "s", "m4", Some("i1"), 5, &[tp(0)]);
        b.assign_static(5, "s", "m5", Some("i1"), 5, &[tp(0)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn two_members_owning_a_partition_in_one_generation_is_an_anomaly() {
        let mut b = HistoryBuilder::new();
        let first = b.assign(1, "g", "m1", 3, &[tp(0), tp(1)]);
        let second = b.assign(2, "g", "m2", 3, &[tp(1)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].kind, KIND);
        assert_eq!(anomalies[0].tp, Some(tp(1)));
        assert_eq!(anomalies[0].events, vec![first, second]);
        assert!(anomalies[0].description.contains("member m1, member m2"));
    }

    #[test]
    fn assignments_seen_only_at_the_wire_count() {
        let synced = |member: &str, partitions: Vec<Tp>| WireEvent::GroupSynced {
            node: 1,
            group: "g".into(),
            member_id: member.into(),
            group_instance_id: None,
            generation: 7,
            partitions,
        };
        let mut history = History::default();
        history.wire_recorded = true;
        history.wire = vec![synced("m1", vec![tp(0)]), synced("m2", vec![tp(1)])];
        assert_eq!(check(&history, &FinalState::default()), vec![]);
        history.wire.push(synced("m3", vec![tp(0)]));
        let anomalies = check(&history, &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].tp, Some(tp(0)));
        assert_eq!(anomalies[0].events, Vec::<usize>::new());
    }
}
