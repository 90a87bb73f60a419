//! Expanding an experiment into runs. Grid axes multiply, zip axes advance together, and every
//! combination runs once per seed. Each run gets a stable key, the hash of its canonical
//! resolved configuration, and a readable name built from its swept values.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::experiment::Experiment;
use crate::{Error, Result};

/// One run of an experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    /// 16 hex digits of SHA-256 over the canonical JSON of `config` (stable across key order,
    /// formatting and ofhnet versions that do not change the schema).
    pub key: String,
    /// Readable, unique within the experiment: `weight=0.01,seed=0`.
    pub name: String,
    /// The swept values of this run, as `(dotted path, value)`.
    pub swept: Vec<(String, Value)>,
    pub seed: u64,
    /// The experiment with this run's values applied, `sweep` emptied and `seeds` = [seed].
    pub config: Experiment,
}

/// One field whose value differs between two configurations.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    /// Dotted path, e.g. `stages.stage2.steps`.
    pub path: String,
    /// The value before (`-` when the field was absent).
    pub old: String,
    /// The value after.
    pub new: String,
}

/// Expands an experiment into its runs, in a stable order (seeds innermost). A `seeds` sweep
/// axis replaces the top-level seed list for its combinations.
pub fn expand(experiment: &Experiment) -> Result<Vec<RunSpec>> {
    let mut base = experiment.clone();
    base.sweep = Default::default();
    let base_value =
        serde_json::to_value(&base).map_err(|e| Error::invalid("experiment", e.to_string()))?;

    // Combinations of the grid axes (cartesian, first axis outermost) ...
    let mut combos: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    for (path, values) in &experiment.sweep.grid {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((path.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    // ... times the zip axes, which advance together.
    if let Some(len) = experiment.sweep.zip.values().map(Vec::len).next() {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                (0..len).map(move |i| {
                    let mut c = c.clone();
                    for (path, values) in &experiment.sweep.zip {
                        c.push((path.clone(), values[i].clone()));
                    }
                    c
                })
            })
            .collect();
    }

    let mut runs = Vec::new();
    for mut combo in combos {
        // A `seeds` axis gives its combinations their own seed lists (three seeds for some
        // methods, one for the rest); it is no swept value, just as the top-level list is not.
        let seeds = match combo.iter().position(|(p, _)| p == SEEDS_AXIS) {
            Some(i) => {
                let (_, v) = combo.remove(i);
                seed_list(&v)?
            }
            None => experiment.seeds.clone(),
        };
        for &seed in &seeds {
            let mut value = base_value.clone();
            for (path, v) in &combo {
                set_path(&mut value, path, v.clone())?;
            }
            value["seeds"] = Value::from(vec![seed]);
            let config: Experiment = serde_json::from_value(value.clone())
                .map_err(|e| Error::invalid("sweep", format!("{}: {e}", describe(&combo))))?;
            // The description and the reports' reference method change no result: editing them
            // must not turn finished runs into new ones.
            let mut keyed = config.clone();
            keyed.description.clear();
            keyed.reference = None;
            let key = run_key(&serde_json::to_value(&keyed).unwrap_or(value));
            let mut name_parts: Vec<String> = combo
                .iter()
                .map(|(p, v)| format!("{}={}", short_path(p), value_label(v)))
                .collect();
            name_parts.push(format!("seed={seed}"));
            runs.push(RunSpec {
                key,
                name: sanitize(&name_parts.join(",")),
                swept: combo.clone(),
                seed,
                config,
            });
        }
    }
    let mut names = std::collections::HashSet::new();
    for r in &mut runs {
        if !names.insert(r.name.clone()) {
            r.name = format!("{}-{}", r.name, &r.key[..6]);
        }
    }
    Ok(runs)
}

/// The sweep axis that sets the seeds of its combinations: each value a list of seeds.
pub const SEEDS_AXIS: &str = "seeds";

/// A `seeds` axis value: a non-empty list of non-negative integers.
pub fn seed_list(v: &Value) -> Result<Vec<u64>> {
    let seeds: Option<Vec<u64>> = v
        .as_array()
        .map(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
        .unwrap_or(None);
    match seeds {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(Error::invalid(
            "sweep",
            format!("sweep axis `seeds`: each value is a list of seeds such as [0, 1, 2], not {v}"),
        )),
    }
}

fn describe(combo: &[(String, Value)]) -> String {
    if combo.is_empty() {
        return "the experiment".into();
    }
    combo
        .iter()
        .map(|(p, v)| format!("{p} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sets a dotted path (`losses.semantic.weight`) in a JSON value, creating missing objects
/// (a loss block that is off is switched on by sweeping its weight).
pub fn set_path(root: &mut Value, path: &str, value: Value) -> Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(Error::invalid(
            "sweep",
            format!("`{path}` is not a dotted path"),
        ));
    }
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        if node.is_null() {
            *node = Value::Object(Default::default());
        }
        let Value::Object(map) = node else {
            return Err(Error::invalid(
                "sweep",
                format!(
                    "`{path}`: `{}` is not a section, it holds {node}",
                    parts[..i].join(".")
                ),
            ));
        };
        if i + 1 == parts.len() {
            map.insert(part.to_string(), value);
            return Ok(());
        }
        node = map.entry(part.to_string()).or_insert(Value::Null);
    }
    Ok(())
}

/// The last two parts of a dotted path, enough to read in a run name.
pub fn short_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    parts[parts.len().saturating_sub(2)..].join(".")
}

pub fn value_label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        // A tagged block (a method) reads as its type and its other values.
        Value::Object(m) if m.get("type").is_some_and(Value::is_string) => {
            let mut parts = vec![value_label(&m["type"])];
            parts.extend(
                m.iter()
                    .filter(|(k, _)| k.as_str() != "type")
                    .map(|(k, v)| format!("{k}={}", value_label(v))),
            );
            parts.join("+")
        }
        // Any other block reads as its values; a block set to null is off.
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", value_label(v)))
            .collect::<Vec<_>>()
            .join("+"),
        Value::Null => "off".into(),
        Value::Array(a) => a.iter().map(value_label).collect::<Vec<_>>().join("x"),
        other => other.to_string(),
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | ',' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The canonical form of a configuration, which its key hashes: object keys sorted at every
/// level, and unset options (`null`) left out. Leaving them out is what lets the schema grow: a
/// new optional field is `null` in every existing run and so changes no existing key. (A new
/// field that is not optional would change every key; the pinned keys of
/// experiments/paper/table1.yaml in the tests catch that.)
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().filter(|k| !map[*k].is_null()).collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The stable key of a resolved configuration.
pub fn run_key(config: &Value) -> String {
    let text = canonical(config).to_string();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The fields whose values differ between two configurations, as dotted paths in sorted
/// order (an unset option and an absent field are the same, as in the key).
pub fn config_diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&path, v, out);
                }
            }
            Value::Null => {}
            other => out.push((prefix.to_string(), other.clone())),
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    flatten("", &canonical(old), &mut a);
    flatten("", &canonical(new), &mut b);
    let a: std::collections::BTreeMap<String, Value> = a.into_iter().collect();
    let b: std::collections::BTreeMap<String, Value> = b.into_iter().collect();
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    let show = |v: Option<&Value>| match v {
        None => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    paths
        .into_iter()
        .filter(|p| a.get(*p) != b.get(*p))
        .map(|p| FieldChange {
            path: p.clone(),
            old: show(a.get(p)),
            new: show(b.get(p)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::harness::experiment::parse;

    const METHODS: &str = "name: s\n\
        data: {prepared: d, source: {synth: {count: 20}}}\n\
        stages: {stage1: {steps: 2}, stage2: {steps: 2}}\n";

    fn runs(sweep: &str) -> Result<Vec<RunSpec>> {
        expand(&parse(&format!("{METHODS}{sweep}"), Path::new("s.yaml"))?)
    }

    #[test]
    fn a_seeds_axis_gives_each_combination_its_own_seeds_and_keeps_seed_zero_keys() {
        let axis = "sweep:\n  zip:\n    method: [{type: in_bicubic}, {type: ofhnet}]\n    \
                    seeds: [[0], [0, 1, 2]]\n";
        let got = runs(axis).expect("expand");
        let names: Vec<&str> = got.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "method=in_bicubic,seed=0",
                "method=ofhnet,seed=0",
                "method=ofhnet,seed=1",
                "method=ofhnet,seed=2"
            ]
        );
        assert!(
            got.iter().all(|r| r.swept.len() == 1),
            "seeds is not a swept value"
        );
        // The same runs without the axis have the same keys: adding seeds orphans nothing.
        let plain = runs("sweep:\n  zip:\n    method: [{type: in_bicubic}, {type: ofhnet}]\n")
            .expect("expand");
        assert_eq!(plain[0].key, got[0].key);
        assert_eq!(plain[1].key, got[1].key);
        assert_ne!(got[1].key, got[2].key);
    }

    #[test]
    fn a_seeds_value_that_is_not_a_list_of_seeds_is_refused_naming_the_axis() {
        for bad in ["[0, 1]", "[[0], []]", "[[0], [-1]]", "[[0.5]]"] {
            let e = runs(&format!(
                "sweep:\n  zip:\n    method: [{{type: in_bicubic}}, {{type: ofhnet}}]\n    seeds: {bad}\n"
            ))
            .expect_err(bad)
            .to_string();
            assert!(
                e.contains("seeds") && e.contains("list of seeds"),
                "{bad}: {e}"
            );
        }
    }
}
