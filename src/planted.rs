//! Planted bugs: TEST-ONLY one-line slips that the testbed must catch.
//!
//! Each switch turns one correct rule of the broker or the controller into a realistic bug, so
//! that a scenario or a random sweep can show that a named checker flags it (and not only an
//! activity minimum or a liveness timeout). They are the first entries of the planted-bug
//! catalogue; a scenario turns them on with `[model] planted_bugs = ["name", …]`. Nothing in
//! real mode can set them, and every default is off: with none planted the code is unchanged.

/// Which planted bugs are in force (all off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlantedBugs {
    /// `controller-publish-before-fsync`: the controller applies and publishes metadata
    /// records to brokers before they are fsynced; its next tick fsyncs them. A power loss in
    /// between loses records that brokers already acted on.
    pub controller_publish_before_fsync: bool,
    /// `isr-admit-one-early`: a leader proposes a follower for the ISR once its log end
    /// reaches `high_watermark - 1` instead of the high watermark.
    pub isr_admit_one_early: bool,
    /// `skip-min-isr-check`: a leader appends an acks=all produce without first checking the
    /// ISR against `min.insync.replicas` (no NOT_ENOUGH_REPLICAS).
    pub skip_min_isr_check: bool,
    /// `recovery-keeps-bad-crc`: log recovery keeps a batch whose CRC32C does not match.
    pub recovery_keeps_bad_crc: bool,
    /// `leader-high-watermark-regress`: a leader's high watermark moves back by one on a
    /// follower fetch that moves nothing. No checker is needed to catch it: the partition
    /// actor's assertion that a leader's HW never moves back within its epoch stops the run.
    pub leader_high_watermark_regress: bool,
    /// `fetch-ignores-response-limit`: every partition of a Fetch returns its first batch
    /// even after the response's `max_bytes` is spent (the KIP-74 exception applied to all
    /// partitions, not only the first with data). The wire checker fetch-over-limit names it.
    pub fetch_ignores_response_limit: bool,
    /// `producer-state-not-replicated`: a follower appends replicated batches without
    /// recording them in its producer state, so once it leads, a producer's retry of a batch
    /// its predecessor appended is appended again. The duplicate checker names it.
    pub producer_state_not_replicated: bool,
    /// `accept-stale-generation-commit`: the group coordinator accepts an OffsetCommit from a
    /// member of an older generation. The wire checker stale-generation-commit names it.
    pub accept_stale_generation_commit: bool,
}

impl PlantedBugs {
    /// Every planted bug's name, as a scenario writes it.
    pub const NAMES: &'static [&'static str] = &[
        "controller-publish-before-fsync",
        "isr-admit-one-early",
        "skip-min-isr-check",
        "recovery-keeps-bad-crc",
        "leader-high-watermark-regress",
        "fetch-ignores-response-limit",
        "producer-state-not-replicated",
        "accept-stale-generation-commit",
    ];

    /// Turns on the bug called `name`; false if no planted bug has that name.
    pub fn plant(&mut self, name: &str) -> bool {
        let switch = match name {
            "controller-publish-before-fsync" => &mut self.controller_publish_before_fsync,
            "isr-admit-one-early" => &mut self.isr_admit_one_early,
            "skip-min-isr-check" => &mut self.skip_min_isr_check,
            "recovery-keeps-bad-crc" => &mut self.recovery_keeps_bad_crc,
            "leader-high-watermark-regress" => &mut self.leader_high_watermark_regress,
            "fetch-ignores-response-limit" => &mut self.fetch_ignores_response_limit,
            "producer-state-not-replicated" => &mut self.producer_state_not_replicated,
            "accept-stale-generation-commit" => &mut self.accept_stale_generation_commit,
            _ => return false,
        };
        *switch = true;
        true
    }

    /// Whether any bug is planted.
    pub fn any(&self) -> bool {
        *self != PlantedBugs::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_plants_exactly_one_switch() {
        for name in PlantedBugs::NAMES {
            let mut bugs = PlantedBugs::default();
            assert!(bugs.plant(name), "{name}");
            assert!(bugs.any());
            for other in PlantedBugs::NAMES.iter().filter(|n| *n != name) {
                let mut both = bugs;
                both.plant(other);
                assert_ne!(both, bugs, "{name} and {other} share a switch");
            }
        }
        assert!(!PlantedBugs::default().plant("no-such-bug"));
    }
}
