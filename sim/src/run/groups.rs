//! The report's consumer-group section: every generation of every group the history saw, with
//! its members, the protocol they joined with, the partitions each was assigned, and the last
//! offset each member committed (acknowledged) in that generation.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::history::{EventKind, History, Outcome};

/// One member of one generation.
#[derive(Default)]
struct Member {
    process: u32,
    group_instance_id: Option<String>,
    protocol: Option<String>,
    partitions: Vec<String>,
    /// Partition → the last offset committed in this generation and acknowledged.
    committed: BTreeMap<String, i64>,
}

/// `None` when the history has no group activity (the report then leaves the key out).
pub fn generations(history: &History) -> Option<Value> {
    // (group, generation) → member id → member
    let mut generations: BTreeMap<(String, i32), BTreeMap<String, Member>> = BTreeMap::new();
    let mut commits: BTreeMap<u64, (String, i32, String, Vec<(String, i64)>)> = BTreeMap::new();
    for event in &history.events {
        match &event.kind {
            EventKind::AssignmentReceived {
                group,
                member_id,
                group_instance_id,
                generation,
                partitions,
            } => {
                let member = (generations.entry((group.clone(), *generation)).or_default())
                    .entry(member_id.clone())
                    .or_default();
                member.process = event.process;
                member.group_instance_id = group_instance_id.clone();
                member
                    .partitions
                    .extend(partitions.iter().map(|tp| tp.to_string()));
            }
            EventKind::GroupJoined {
                group,
                member_id,
                generation,
                protocol,
                ..
            } => {
                let member = (generations.entry((group.clone(), *generation)).or_default())
                    .entry(member_id.clone())
                    .or_default();
                member.process = event.process;
                member.protocol = protocol.clone();
            }
            EventKind::CommitInvoke {
                group,
                member_id,
                generation,
                offsets,
                ..
            } => {
                let offsets = offsets.iter().map(|(tp, o)| (tp.to_string(), *o)).collect();
                commits.insert(
                    event.op,
                    (group.clone(), *generation, member_id.clone(), offsets),
                );
            }
            EventKind::CommitComplete {
                outcome: Outcome::Ok,
            } => {
                let Some((group, generation, member_id, offsets)) = commits.remove(&event.op)
                else {
                    continue;
                };
                let member = (generations.entry((group, generation)).or_default())
                    .entry(member_id)
                    .or_default();
                member.process = event.process;
                member.committed.extend(offsets);
            }
            _ => {}
        }
    }
    if generations.is_empty() {
        return None;
    }
    let list: Vec<Value> = generations
        .into_iter()
        .map(|((group, generation), members)| {
            let members: Vec<Value> = members
                .into_iter()
                .map(|(member_id, m)| {
                    json!({
                        "member_id": member_id,
                        "process": m.process,
                        "group_instance_id": m.group_instance_id,
                        "protocol": m.protocol,
                        "assigned": m.partitions,
                        "committed": m.committed,
                    })
                })
                .collect();
            json!({ "group": group, "generation": generation, "members": members })
        })
        .collect();
    Some(Value::Array(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{tp, HistoryBuilder};

    #[test]
    fn a_history_without_groups_has_no_section() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 7, 0);
        assert_eq!(generations(&b.build()), None);
    }

    #[test]
    fn each_generation_lists_its_members_assignments_and_acknowledged_commits() {
        let mut b = HistoryBuilder::new();
        b.assign(1, "g", "m1", 1, &[tp(0), tp(1)]);
        b.assign(2, "g", "m2", 1, &[tp(2)]);
        b.commit_ok(1, "g", "m1", 1, &[(tp(0), 5)]);
        b.commit_ok(1, "g", "m1", 1, &[(tp(0), 9), (tp(1), 3)]);
        let failed = b.commit_invoke(2, "g", "m2", 1, &[(tp(2), 4)]);
        b.commit_complete(2, failed, Outcome::Fail("ILLEGAL_GENERATION".into()));
        b.assign(1, "g", "m1", 2, &[tp(0), tp(1), tp(2)]);
        let report = generations(&b.build()).expect("groups were active");
        let expected = json!([
            { "group": "g", "generation": 1, "members": [
                { "member_id": "m1", "process": 1, "group_instance_id": null, "protocol": null,
                  "assigned": ["t/0", "t/1"], "committed": { "t/0": 9, "t/1": 3 } },
                { "member_id": "m2", "process": 2, "group_instance_id": null, "protocol": null,
                  "assigned": ["t/2"], "committed": {} },
            ]},
            { "group": "g", "generation": 2, "members": [
                { "member_id": "m1", "process": 1, "group_instance_id": null, "protocol": null,
                  "assigned": ["t/0", "t/1", "t/2"], "committed": {} },
            ]},
        ]);
        assert_eq!(report, expected);
    }
}
