//! Judging a run against its scenario's `[expect]`: the anomaly kinds that must and may show,
//! and the minimums of acknowledged writes, faults and effects.

use serde::Serialize;

use super::RunData;
use crate::checker;
use crate::scenario::{Scenario, Verdict};

/// What the run showed against what the scenario expects.
#[derive(Debug, Clone, Serialize)]
pub struct Judgement {
    pub passed: bool,
    /// Anomaly kinds found, sorted.
    pub shown: Vec<String>,
    /// `must` kinds that did not show.
    pub missing: Vec<String>,
    /// Kinds found that are neither `must` nor `allow`.
    pub unexpected: Vec<String>,
    /// Minimums not met, in words.
    pub unmet_minimums: Vec<String>,
}

/// Judge a run against `[expect]`.
pub fn judge(scenario: &Scenario, data: &RunData) -> Judgement {
    let expect = &scenario.expect;
    let mut shown: Vec<String> = data.anomalies.iter().map(|a| a.kind.clone()).collect();
    shown.sort();
    shown.dedup();
    let missing: Vec<String> = expect
        .must
        .iter()
        .filter(|k| !shown.contains(k))
        .cloned()
        .collect();
    let unexpected: Vec<String> = shown
        .iter()
        .filter(|k| {
            !expect.must.contains(k)
                && !expect.allow.contains(k)
                && !expect.must_fraction.contains_key(*k)
        })
        .cloned()
        .collect();
    let counts = checker::summary::count(&data.history);
    let mut unmet = Vec::new();
    if counts.sends_ok < expect.min_acknowledged {
        unmet.push(format!(
            "acknowledged {} < {}",
            counts.sends_ok, expect.min_acknowledged
        ));
    }
    if (data.faults.len() as u64) < expect.min_faults {
        unmet.push(format!(
            "faults {} < {}",
            data.faults.len(),
            expect.min_faults
        ));
    }
    for (kind, min) in &expect.min_faults_by_kind {
        let fired = data.faults.iter().filter(|f| &f.kind == kind).count() as u64;
        if fired < *min {
            unmet.push(format!("{kind} faults {fired} < {min}"));
        }
    }
    for (effect, min) in &expect.min_effects {
        let seen = data.effects.get(effect).copied().unwrap_or(0);
        if seen < *min {
            unmet.push(format!("effect {effect} {seen} < {min}"));
        }
    }
    let passed = data.verdict != Verdict::Unknown
        && missing.is_empty()
        && unexpected.is_empty()
        && unmet.is_empty();
    Judgement {
        passed,
        shown,
        missing,
        unexpected,
        unmet_minimums: unmet,
    }
}
