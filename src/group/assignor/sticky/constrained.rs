//! The sticky assignor's fast path when every member subscribes to the same topics (Kafka's
//! `ConstrainedAssignmentBuilder`).
//!
//! With `P` partitions and `M` members, `min_quota = P / M`, `max_quota = ceil(P / M)` and
//! exactly `P % M` members end with `max_quota`. Each member first keeps its owned partitions
//! (sorted by partition, then topic), up to `max_quota` while fewer than `P % M` members have
//! reached it and up to `min_quota` after; the rest are dealt round robin to members below
//! `min_quota`, then one each to members at exactly `min_quota`.
//!
//! Postcondition (asserted): every partition assigned once; every member holds `min_quota` or
//! `max_quota`, and `P % M` of them hold `max_quota`; so every member keeps
//! `min(previously owned, its quota)` of what it owned.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{StickyInput, Tp};

/// Quotas and the members still to fill while assigning.
struct Builder {
    /// floor(P / M).
    min_quota: usize,
    /// ceil(P / M).
    max_quota: usize,
    /// P % M: how many members end with `max_quota`.
    expected_over_min: usize,
    /// How many members already hold `max_quota`.
    current_over_min: usize,
    /// Each member's partitions so far.
    assignment: Vec<Vec<Tp>>,
    /// Members below `min_quota`, in member order.
    under_min: Vec<usize>,
    /// Members at `min_quota` that may still take one more, in member order.
    exactly_min: VecDeque<usize>,
}

/// Runs the constrained path; returns each member's partitions and the owner each
/// partition started from.
pub(super) fn assign(input: &StickyInput) -> (Vec<BTreeSet<Tp>>, BTreeMap<Tp, usize>) {
    let members = input.members.len();
    let total: usize = input.counts.iter().map(|count| *count as usize).sum();
    let mut builder = Builder {
        min_quota: total / members,
        max_quota: total.div_ceil(members),
        expected_over_min: total % members,
        current_over_min: 0,
        assignment: vec![Vec::new(); members],
        under_min: Vec::new(),
        exactly_min: VecDeque::new(),
    };
    let owned = owned_without_double_claims(input);
    let previous_owner = owned
        .iter()
        .enumerate()
        .flat_map(|(member, list)| list.iter().map(move |partition| (*partition, member)))
        .collect();
    for (member, list) in owned.iter().enumerate() {
        builder.keep_owned(member, list);
    }
    let kept: BTreeSet<Tp> = builder.assignment.iter().flatten().copied().collect();
    let all = input.partitions_of(0..input.topics.len());
    let unassigned: Vec<Tp> = all
        .into_iter()
        .filter(|partition| !kept.contains(partition))
        .collect();
    builder.under_min.sort();
    builder.exactly_min.make_contiguous().sort();
    builder.deal_round_robin(&unassigned);
    builder.assert_balanced(total);
    let assignment = builder
        .assignment
        .into_iter()
        .map(|list| list.into_iter().collect())
        .collect();
    (assignment, previous_owner)
}

/// Each member's resolved ownership sorted by (partition, topic), as Kafka sorts it, without
/// partitions two members claimed in one generation.
fn owned_without_double_claims(input: &StickyInput) -> Vec<Vec<Tp>> {
    input
        .owned
        .iter()
        .map(|list| {
            let mut list: Vec<Tp> = list
                .iter()
                .filter(|partition| !input.claimed_in_same_generation.contains(partition))
                .copied()
                .collect();
            list.sort_by_key(|&(topic, partition)| (partition, topic));
            list
        })
        .collect()
}

impl Builder {
    /// Lets `member` keep what its quota allows of `owned` and files it as under or at quota.
    fn keep_owned(&mut self, member: usize, owned: &[Tp]) {
        if owned.len() < self.min_quota {
            self.assignment[member].extend_from_slice(owned);
            self.under_min.push(member);
        } else if owned.len() >= self.max_quota && self.current_over_min < self.expected_over_min {
            self.current_over_min += 1;
            if self.current_over_min == self.expected_over_min {
                self.exactly_min.clear();
            }
            self.assignment[member].extend_from_slice(&owned[..self.max_quota]);
        } else {
            self.assignment[member].extend_from_slice(&owned[..self.min_quota]);
            if self.current_over_min < self.expected_over_min {
                self.exactly_min.push_back(member);
            }
        }
    }

    /// Deals `unassigned` (in (topic, partition) order) round robin over the members below
    /// `min_quota`, then one each to members at `min_quota`.
    fn deal_round_robin(&mut self, unassigned: &[Tp]) {
        let mut cursor = 0;
        for &partition in unassigned {
            let (member, from_under_min) = if cursor < self.under_min.len() {
                (self.under_min[cursor], true)
            } else if !self.under_min.is_empty() {
                cursor = 0;
                (self.under_min[0], true)
            } else {
                let member = self.exactly_min.pop_front();
                (member.expect("a member with room for the partition"), false)
            };
            self.assignment[member].push(partition);
            let count = self.assignment[member].len();
            if count == self.min_quota {
                assert!(
                    from_under_min,
                    "a member at min quota got a partition and stayed there"
                );
                self.under_min.remove(cursor);
                self.exactly_min.push_back(member);
            } else {
                if from_under_min {
                    cursor += 1;
                }
                if count == self.max_quota {
                    self.current_over_min += 1;
                }
            }
        }
    }

    /// Every member holds `min_quota` or `max_quota`, `expected_over_min` of them the latter,
    /// and no partition is held twice.
    fn assert_balanced(&self, total: usize) {
        let held: BTreeSet<&Tp> = self.assignment.iter().flatten().collect();
        assert_eq!(
            held.len(),
            total,
            "constrained sticky: partitions lost or held twice"
        );
        let over = self
            .assignment
            .iter()
            .filter(|list| list.len() > self.min_quota)
            .count();
        for list in &self.assignment {
            assert!(list.len() == self.min_quota || list.len() == self.max_quota);
        }
        assert!(self.min_quota == self.max_quota || over == self.expected_over_min);
    }
}
