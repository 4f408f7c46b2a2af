//! The classic group's five states and the only edges Kafka allows between them
//! (`ClassicGroupState.validPreviousStates`).
//!
//! Invariant: [`GroupState::assert_transition`] is called on every state change, so a move
//! along an edge Kafka does not have stops the run at the step that made it.

use std::fmt;

/// A classic group's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupState {
    /// No members; committed offsets may still exist (and expire).
    Empty,
    /// Members are (re)joining; JoinGroup responses are held until the join phase completes.
    PreparingRebalance,
    /// The join phase completed; waiting for the leader's SyncGroup with the assignment.
    CompletingRebalance,
    /// Every member has its assignment for the current generation.
    Stable,
    /// Deleted or expired: no members, no offsets; about to be removed.
    Dead,
}

impl GroupState {
    /// Every state, for tests and for ListGroups' state filter.
    pub const ALL: [GroupState; 5] = [
        GroupState::Empty,
        GroupState::PreparingRebalance,
        GroupState::CompletingRebalance,
        GroupState::Stable,
        GroupState::Dead,
    ];

    /// The states from which Kafka lets a group move into `self`.
    pub fn valid_previous_states(self) -> &'static [GroupState] {
        use GroupState::*;
        match self {
            Empty => &[PreparingRebalance],
            PreparingRebalance => &[Stable, CompletingRebalance, Empty],
            CompletingRebalance => &[PreparingRebalance],
            Stable => &[CompletingRebalance],
            Dead => &[Stable, PreparingRebalance, CompletingRebalance, Empty, Dead],
        }
    }

    /// Whether Kafka allows `self -> next`.
    pub fn can_transition_to(self, next: GroupState) -> bool {
        next.valid_previous_states().contains(&self)
    }

    /// Panics on an edge Kafka does not allow: a coordinator bug, never a client's mistake.
    pub fn assert_transition(self, next: GroupState, group_id: &str) {
        assert!(
            self.can_transition_to(next),
            "group {group_id}: illegal state transition {self} -> {next}"
        );
    }

    /// The name Kafka puts in ListGroups and DescribeGroups.
    pub fn kafka_name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// Parses ListGroups' `states_filter` entries (Kafka compares case-insensitively).
    pub fn from_kafka_name(name: &str) -> Option<GroupState> {
        GroupState::ALL
            .into_iter()
            .find(|state| state.kafka_name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kafka_name())
    }
}

#[cfg(test)]
mod tests {
    use super::GroupState::*;
    use super::*;

    // Ports ClassicGroupTest.testCanRebalanceWhen* / testStateTransitions: the full table.
    #[test]
    fn transitions_match_kafka_table() {
        let allowed = [
            (Empty, PreparingRebalance),
            (Empty, Dead),
            (PreparingRebalance, CompletingRebalance),
            (PreparingRebalance, Empty),
            (PreparingRebalance, Dead),
            (CompletingRebalance, PreparingRebalance),
            (CompletingRebalance, Stable),
            (CompletingRebalance, Dead),
            (Stable, PreparingRebalance),
            (Stable, Dead),
            (Dead, Dead),
        ];
        for from in GroupState::ALL {
            for to in GroupState::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    // Ports ClassicGroupTest.testEmptyToStableIllegalTransition.
    #[test]
    #[should_panic(expected = "illegal state transition Empty -> Stable")]
    fn empty_to_stable_is_illegal() {
        Empty.assert_transition(Stable, "g");
    }

    // Ports ClassicGroupTest.testDeadToStableIllegalTransition / testDeadToPreparingRebalanceIllegalTransition.
    #[test]
    fn dead_only_goes_to_dead() {
        assert!(!Dead.can_transition_to(Stable));
        assert!(!Dead.can_transition_to(PreparingRebalance));
        assert!(!Dead.can_transition_to(Empty));
        assert!(Dead.can_transition_to(Dead));
    }

    #[test]
    fn names_round_trip() {
        for state in GroupState::ALL {
            assert_eq!(GroupState::from_kafka_name(state.kafka_name()), Some(state));
        }
        assert_eq!(GroupState::from_kafka_name("stable"), Some(Stable));
        assert_eq!(GroupState::from_kafka_name("Assigning"), None);
    }
}
