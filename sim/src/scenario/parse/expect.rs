//! `[expect]`: the anomalies a run must and may show, and its minimums.

use super::*;

pub(super) fn expect_from(
    field: &Field,
    faults: &[FaultStep],
    brokers: u32,
    nemesis: Option<&Nemesis>,
) -> Result<Expect> {
    let table = field.table()?;
    table.check_keys(
        "[expect]",
        &["verdict", "must", "must_fraction", "allow", "min"],
    )?;
    let mut expect = Expect::default();
    if let Some(fractions) = table.get("must_fraction") {
        expect.must_fraction = must_fraction(&fractions)?;
        if let Some(verdict) = table.get("verdict") {
            return Err(verdict.error(
                r#"verdict = "valid" (no anomaly may show) contradicts `must_fraction`: keep one"#,
            ));
        }
    }
    match (table.get("verdict"), table.get("must")) {
        (Some(verdict), Some(must)) => {
            verdict_valid(&verdict)?;
            return Err(must.error(
                r#"`must` cannot be combined with verdict = "valid" (which means no anomaly must show): keep one"#,
            ));
        }
        (Some(verdict), None) => verdict_valid(&verdict)?,
        (None, Some(must)) => expect.must = anomaly_list(&must)?,
        (None, None) if !expect.must_fraction.is_empty() => {}
        (None, None) => {
            return Err(table.error(
                r#"state what the run must show: verdict = "valid" or must = ["<anomaly>", ...]"#,
            ))
        }
    }
    if let Some(allow) = table.get("allow") {
        expect.allow = anomaly_list(&allow)?;
        if let Some(both) = expect.allow.iter().find(|kind| expect.must.contains(kind)) {
            return Err(allow.error(format!("\"{both}\" is listed in both must and allow")));
        }
    }
    let listed = |kind: &String| expect.must.contains(kind) || expect.allow.contains(kind);
    if let Some(kind) = expect.must_fraction.keys().find(|kind| listed(kind)) {
        let field = table.get("must_fraction").expect("parsed above");
        return Err(field.error(format!(
            "\"{kind}\" is in must_fraction and in must or allow: a must_fraction kind is already allowed on any one seed"
        )));
    }
    if let Some(min) = table.get("min") {
        minimums(&min, faults, brokers, nemesis, &mut expect)?;
    }
    Ok(expect)
}

/// `must_fraction = { "<anomaly>" = 0.05, ... }`: known kinds, fractions in (0, 1].
pub(super) fn must_fraction(field: &Field) -> Result<BTreeMap<String, f64>> {
    let table = field.table()?;
    let mut fractions = BTreeMap::new();
    for (kind, value) in table.fields() {
        known_anomaly(kind, |message| table.key_error(kind, message, None))?;
        let fraction = value.float()?;
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(value.error(format!(
                "expected a fraction of seeds in (0, 1], found {fraction}"
            )));
        }
        fractions.insert(kind.to_string(), fraction);
    }
    if fractions.is_empty() {
        return Err(field.error("name at least one anomaly kind and its fraction of seeds"));
    }
    Ok(fractions)
}

/// `kind` is an anomaly this build checks; else an error placed by `at`, with a suggestion.
pub(super) fn known_anomaly(kind: &str, at: impl FnOnce(String) -> ScenarioError) -> Result<()> {
    let kinds = anomaly_kinds();
    if kinds.contains(&kind) {
        return Ok(());
    }
    let message = format!(
        "unknown anomaly kind \"{kind}\" (expected one of: {})",
        kinds.join(", ")
    );
    let suggestion = did_you_mean(kind, &kinds).map(str::to_string);
    Err(ScenarioError {
        suggestion,
        ..at(message)
    })
}

pub(super) fn verdict_valid(field: &Field) -> Result<()> {
    match field.str()? {
        "valid" => Ok(()),
        other => Err(field.error(format!(
            r#"expected verdict = "valid", found "{other}" (to expect anomalies, write must = [...])"#
        ))),
    }
}

pub(super) fn anomaly_list(field: &Field) -> Result<Vec<String>> {
    let mut kinds: Vec<String> = Vec::new();
    for element in field.array()? {
        let kind = element.str()?;
        known_anomaly(kind, |message| element.error(message))?;
        if kinds.iter().any(|earlier| earlier == kind) {
            return Err(element.error(format!("\"{kind}\" is listed twice")));
        }
        kinds.push(kind.to_string());
    }
    Ok(kinds)
}

/// How many times an action fires: once per broker its target names.
pub(super) fn firings(action: &Action, brokers: u32) -> u64 {
    action.target.size(brokers)
}

pub(super) fn minimums(
    field: &Field,
    faults: &[FaultStep],
    brokers: u32,
    nemesis: Option<&Nemesis>,
    expect: &mut Expect,
) -> Result<()> {
    let table = field.table()?;
    table.check_keys(
        "expect.min",
        &["acknowledged", "faults", "faults_by_kind", "effects"],
    )?;
    if let Some(field) = table.get("acknowledged") {
        expect.min_acknowledged = field.int_in(0, i64::MAX)? as u64;
    }
    let scripted = faults
        .iter()
        .flat_map(|step| &step.actions)
        .map(|action| firings(action, brokers))
        .sum::<u64>();
    if let Some(field) = table.get("faults") {
        expect.min_faults = field.int_in(0, i64::MAX)? as u64;
        // Without a nemesis only scripted faults fire, so more than they fire can never show.
        if expect.min_faults > scripted && nemesis.is_none() {
            return Err(field.error(format!(
                "expects at least {} fault actions, but the [[fault]] steps fire only {scripted}",
                expect.min_faults
            )));
        }
    }
    if let Some(field) = table.get("faults_by_kind") {
        expect.min_faults_by_kind = faults_by_kind(&field, faults, brokers, nemesis)?;
    }
    if let Some(field) = table.get("effects") {
        expect.min_effects = effects(&field)?;
    }
    Ok(())
}

pub(super) fn faults_by_kind(
    field: &Field,
    faults: &[FaultStep],
    brokers: u32,
    nemesis: Option<&Nemesis>,
) -> Result<BTreeMap<String, u64>> {
    let names: Vec<&str> = FAULT_KINDS.iter().map(|(name, _)| *name).collect();
    let table = field.table()?;
    let mut minimums = BTreeMap::new();
    for (kind, count) in table.fields() {
        if !names.contains(&kind) {
            let message = format!("unknown fault kind \"{kind}\"");
            let suggestion = did_you_mean(kind, &names).map(str::to_string);
            return Err(table.key_error(kind, message, suggestion));
        }
        let minimum = count.int_in(0, i64::MAX)? as u64;
        let scripted = faults
            .iter()
            .flat_map(|step| &step.actions)
            .filter(|action| action.kind.name() == kind)
            .map(|action| firings(action, brokers))
            .sum::<u64>();
        if minimum > scripted && !nemesis.is_some_and(|n| nemesis_fires(n, kind)) {
            return Err(count.error(format!(
                "expects at least {minimum} {kind} action(s), but the [[fault]] steps fire {scripted}"
            )));
        }
        minimums.insert(kind.to_string(), minimum);
    }
    Ok(minimums)
}

/// Effect names are dotted lower-case counters (`disk.bytes_discarded`); the runner owns the
/// list, so only their form is checked here.
pub(super) fn effects(field: &Field) -> Result<BTreeMap<String, u64>> {
    let table = field.table()?;
    let mut minimums = BTreeMap::new();
    for (name, count) in flatten_names(&table) {
        let part_ok = |part: &str| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        };
        if minimums.contains_key(&name) {
            return Err(count.error(format!("effect \"{name}\" is listed twice")));
        }
        if !name.contains('.') || !name.split('.').all(part_ok) {
            return Err(count.error(format!(
                "expected an effect name like \"disk.bytes_discarded\", found \"{name}\""
            )));
        }
        minimums.insert(name, count.int_in(0, i64::MAX)? as u64);
    }
    Ok(minimums)
}

/// Joins dotted keys written without quotes back into one name, like Kafka configs.
pub(super) fn flatten_names<'a>(table: &Obj<'a>) -> Vec<(String, Field<'a>)> {
    let mut out = Vec::new();
    for (key, field) in table.fields() {
        match field.table() {
            Ok(nested) => {
                for (name, inner) in flatten_names(&nested) {
                    let path = join_path(&table.path, &format!("{key}.{name}"));
                    out.push((format!("{key}.{name}"), Field { path, ..inner }));
                }
            }
            Err(_) => out.push((key.to_string(), field)),
        }
    }
    out
}
