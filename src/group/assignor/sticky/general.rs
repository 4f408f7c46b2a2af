//! The sticky assignor's general path, for members subscribing to different topics (Kafka's
//! `GeneralAssignmentBuilder`).
//!
//! Steps: members keep the resolved partitions they own of topics they still subscribe to;
//! each other partition (topics with the fewest potential members first) goes to the
//! least-loaded member subscribed to its topic; then partitions of topics two or more members
//! can take move from a member holding more than one partition above another eligible member
//! — back to an owner of an older generation when that owner is that far below, else to the
//! least-loaded eligible member — until no such move is left. If that did not lower the
//! imbalance score (the sum of pairwise count differences) of a group that had owners before,
//! the pre-move assignment is kept: stickiness wins over a balance that is no better.
//!
//! Members that cannot take part (they hold every partition they could, of topics nobody else
//! can take) and topics only one member can take are set aside while balancing. The balancing
//! loop is bounded; running past the bound is a broken invariant.

use std::collections::{BTreeMap, BTreeSet};

use super::movements::Movements;
use super::{StickyInput, Tp};

/// The assignment being built and the indexes kept in step with it.
struct Builder<'a> {
    /// The normalised input.
    input: &'a StickyInput,
    /// Each member's partitions.
    current: Vec<BTreeSet<Tp>>,
    /// Each assigned partition's member.
    owner: BTreeMap<Tp, usize>,
    /// (count, member) of the members taking part in balancing, least loaded first.
    by_load: BTreeSet<(usize, usize)>,
    /// The members subscribed to each topic.
    topic_members: Vec<Vec<usize>>,
    /// How many partitions each member could hold at most (all of its topics).
    capacity: Vec<usize>,
    /// Moves made while balancing.
    movements: Movements,
}

/// Runs the general path; returns each member's partitions and the owner each partition
/// started from.
pub(super) fn assign(input: &StickyInput) -> (Vec<BTreeSet<Tp>>, BTreeMap<Tp, usize>) {
    let members = input.members.len();
    let mut topic_members = vec![Vec::new(); input.topics.len()];
    for (member, topics) in input.member_topics.iter().enumerate() {
        for &topic in topics {
            topic_members[topic].push(member);
        }
    }
    let capacity = (0..members)
        .map(|m| {
            input.member_topics[m]
                .iter()
                .map(|&t| input.counts[t] as usize)
                .sum()
        })
        .collect();
    let mut builder = Builder {
        input,
        current: vec![BTreeSet::new(); members],
        owner: BTreeMap::new(),
        by_load: BTreeSet::new(),
        topic_members,
        capacity,
        movements: Movements::default(),
    };
    let previous_owner = input
        .owned
        .iter()
        .enumerate()
        .flat_map(|(member, list)| list.iter().map(move |partition| (*partition, member)))
        .collect();
    let revocation_required = builder.keep_owned();
    builder.by_load = (0..members)
        .map(|member| (builder.current[member].len(), member))
        .collect();
    builder.balance(revocation_required);
    (builder.current, previous_owner)
}

impl Builder<'_> {
    /// Members keep their resolved partitions of topics they still subscribe to; returns
    /// whether some member must give up a partition of a topic it no longer subscribes to.
    fn keep_owned(&mut self) -> bool {
        let mut revocation_required = false;
        for (member, owned) in self.input.owned.iter().enumerate() {
            for &partition in owned {
                if self.input.member_topics[member].contains(&partition.0) {
                    self.current[member].insert(partition);
                    self.owner.insert(partition, member);
                } else {
                    revocation_required = true;
                }
            }
        }
        revocation_required
    }

    /// Topics ordered by how many members can take them (fewest first), then by name.
    fn sorted_partitions(&self) -> Vec<Tp> {
        let mut topics: Vec<usize> = (0..self.input.topics.len()).collect();
        topics.sort_by_key(|&topic| (self.topic_members[topic].len(), topic));
        self.input.partitions_of(topics)
    }

    fn balance(&mut self, revocation_required: bool) {
        let initializing = self.current.iter().all(BTreeSet::is_empty);
        let mut all = self.sorted_partitions();
        let mut unassigned: Vec<Tp> = all
            .iter()
            .filter(|partition| !self.owner.contains_key(partition))
            .copied()
            .collect();
        for &partition in &unassigned {
            let member = self.least_loaded_for(partition.0);
            self.give(partition, member);
        }
        let movable = |topic: usize, members: &[Vec<usize>]| members[topic].len() >= 2;
        all.retain(|partition| movable(partition.0, &self.topic_members));
        unassigned.retain(|partition| movable(partition.0, &self.topic_members));
        for member in 0..self.input.members.len() {
            if !self.can_take_part(member) {
                self.by_load.remove(&(self.current[member].len(), member));
            }
        }
        let before = (self.current.clone(), self.owner.clone());
        if !revocation_required {
            self.reassign_until_balanced(&unassigned);
        }
        let moved = self.reassign_until_balanced(&all);
        if !initializing && moved && self.imbalance(&self.current) >= self.imbalance(&before.0) {
            (self.current, self.owner) = before;
        }
    }

    /// The least-loaded balancing member subscribed to `topic` (member order breaks ties).
    fn least_loaded_for(&self, topic: usize) -> usize {
        let eligible = self
            .by_load
            .iter()
            .find(|(_, member)| self.input.member_topics[*member].contains(&topic));
        eligible
            .expect("some member subscribes to every assigned topic")
            .1
    }

    /// Kafka's `canConsumerParticipateInReassignment`.
    fn can_take_part(&self, member: usize) -> bool {
        let held = &self.current[member];
        assert!(
            held.len() <= self.capacity[member],
            "member holds more than it subscribes to"
        );
        held.len() < self.capacity[member]
            || held
                .iter()
                .any(|partition| self.topic_members[partition.0].len() >= 2)
    }

    /// Moves partitions, in the given order, until balanced or nothing moves in a full pass;
    /// returns whether anything moved.
    fn reassign_until_balanced(&mut self, partitions: &[Tp]) -> bool {
        let mut moved_any = false;
        let passes_max = partitions.len() * self.input.members.len() + 2;
        for pass in 0.. {
            assert!(pass <= passes_max, "sticky balancing did not converge");
            let mut moved = false;
            for &partition in partitions {
                if self.is_balanced() {
                    break;
                }
                moved |= self.maybe_move(partition);
            }
            moved_any |= moved;
            if !moved {
                break;
            }
        }
        moved_any
    }

    /// One balancing step for `partition`; returns whether a partition moved.
    fn maybe_move(&mut self, partition: Tp) -> bool {
        let owner = self.owner[&partition];
        let load = self.current[owner].len();
        if let Some(previous) = self.older_generation_owner(partition) {
            if load > self.current[previous].len() + 1 {
                self.reassign(partition, previous);
                return true;
            }
        }
        let members = &self.topic_members[partition.0];
        if members
            .iter()
            .any(|&other| load > self.current[other].len() + 1)
        {
            let least_loaded = self.least_loaded_for(partition.0);
            self.reassign(partition, least_loaded);
            return true;
        }
        false
    }

    /// The member that owned `partition` in the newest generation older than the current
    /// one (Kafka's `prevAssignment`), if it still subscribes to the topic and takes part.
    fn older_generation_owner(&self, partition: Tp) -> Option<usize> {
        let input = self.input;
        let mut best: Option<(i32, usize)> = None;
        for member in 0..input.members.len() {
            let generation = input.generations[member];
            let newer = best.is_none_or(|(best_generation, _)| generation > best_generation);
            if generation < input.generation_max
                && newer
                && input.claims[member].contains(&partition)
            {
                best = Some((generation, member));
            }
        }
        let (_, member) = best?;
        let eligible = input.member_topics[member].contains(&partition.0)
            && self.by_load.contains(&(self.current[member].len(), member));
        eligible.then_some(member)
    }

    /// Moves `partition` (or the partition whose earlier move this undoes) to `new`.
    fn reassign(&mut self, partition: Tp, new: usize) {
        let old = self.owner[&partition];
        let to_move = self.movements.partition_to_move(partition, old, new);
        let from = self.owner[&to_move];
        self.movements.record(to_move, from, new);
        self.take(to_move, from);
        self.give(to_move, new);
    }

    fn give(&mut self, partition: Tp, member: usize) {
        let load = self.current[member].len();
        let balancing = self.by_load.remove(&(load, member));
        assert!(
            self.current[member].insert(partition),
            "partition given twice"
        );
        self.owner.insert(partition, member);
        if balancing {
            self.by_load.insert((load + 1, member));
        }
    }

    fn take(&mut self, partition: Tp, member: usize) {
        let load = self.current[member].len();
        let balancing = self.by_load.remove(&(load, member));
        assert!(
            self.current[member].remove(&partition),
            "partition taken from a non-owner"
        );
        self.owner.remove(&partition);
        if balancing {
            self.by_load.insert((load - 1, member));
        }
    }

    /// Kafka's `isBalanced`: counts differ by at most one, or no partition could move to a
    /// member holding two or more fewer than its current owner.
    fn is_balanced(&self) -> bool {
        let (Some(first), Some(last)) = (self.by_load.first(), self.by_load.last()) else {
            return true;
        };
        if first.0 + 1 >= last.0 {
            return true;
        }
        for &(load, member) in &self.by_load {
            if load == self.capacity[member] {
                continue;
            }
            for &topic in &self.input.member_topics[member] {
                for partition in 0..self.input.counts[topic] {
                    let owner = self.owner[&(topic, partition)];
                    if owner != member && load + 1 < self.current[owner].len() {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Kafka's balance score over the balancing members: sum of pairwise count differences.
    fn imbalance(&self, assignment: &[BTreeSet<Tp>]) -> usize {
        let loads: Vec<usize> = self
            .by_load
            .iter()
            .map(|&(_, m)| assignment[m].len())
            .collect();
        let mut score = 0;
        for (index, load) in loads.iter().enumerate() {
            score += loads[index + 1..]
                .iter()
                .map(|other| load.abs_diff(*other))
                .sum::<usize>();
        }
        score
    }
}
