//! The experiment file and its expansion into runs.

use std::path::Path;

use ofhnet::harness::experiment::parse;
use ofhnet::harness::sweep::expand;

const EXAMPLE: &str = "\
name: ablation
description: the loss ablation
data:
  prepared: results/ablation/data
  source: {synth: {count: 100, seed: 1}}
method: {type: ofhnet, preset: tiny}
losses:
  inpaint_l2: {weight: 1.0}
  l2: {weight: 1.0}
stages:
  stage2: {steps: 10}
seeds: [0, 1]
sweep:
  grid:
    losses.adversarial.weight: [0.0, 0.001, 0.01]
  zip:
    stages.stage2.lr: [0.001, 0.002]
    method.upsample.widths: [[8, 8, 8], [16, 16, 16]]
";

#[test]
fn expansion_counts_keys_and_names() {
    let exp = parse(EXAMPLE, Path::new("ablation.yaml")).expect("parse");
    let runs = expand(&exp).expect("expand");
    assert_eq!(runs.len(), 3 * 2 * 2);
    let keys: std::collections::HashSet<&str> = runs.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), runs.len(), "keys are unique");
    assert_eq!(
        runs[0].name,
        "adversarial.weight=0.0,stage2.lr=0.001,upsample.widths=8x8x8,seed=0"
    );
    assert_eq!(runs[1].seed, 1);
    let adv = runs[4]
        .config
        .losses
        .adversarial
        .as_ref()
        .expect("adversarial on");
    assert!((adv.weight - 0.001).abs() < 1e-12);
    let ofhnet::methods::Method::Ofhnet(m) = &runs[3].config.method else {
        panic!("an OFHNet run")
    };
    assert_eq!(m.upsample.widths, Some([16, 16, 16]));
    assert!((runs[3].config.stages.stage2.lr - 0.002).abs() < 1e-12);

    // Keys are stable: the same experiment written in another order, with another
    // description, expands to the same keys.
    let reordered = EXAMPLE
        .replace(
            "description: the loss ablation\n",
            "description: reworded\n",
        )
        .replace(
            "losses:\n  inpaint_l2: {weight: 1.0}\n  l2: {weight: 1.0}\n",
            "losses:\n  l2: {weight: 1}\n  inpaint_l2: {weight: 1}\n",
        );
    let again = expand(&parse(&reordered, Path::new("b.yaml")).expect("parse")).expect("expand");
    let k1: Vec<&str> = runs.iter().map(|r| r.key.as_str()).collect();
    let k2: Vec<&str> = again.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(k1, k2);
}

#[test]
fn unknown_keys_and_type_errors_name_the_line() {
    let typo = EXAMPLE.replace("  stage2: {steps: 10}", "  stage2: {stpes: 10}");
    let err = parse(&typo, Path::new("exp.yaml"))
        .expect_err("typo")
        .to_string();
    assert!(
        err.starts_with("exp.yaml:11:12: stages.stage2: unknown field `stpes`"),
        "{err}"
    );
    assert!(
        err.contains("unknown field `stpes`") && err.contains("batch_size"),
        "{err}"
    );

    let wrong_type = EXAMPLE.replace("seeds: [0, 1]", "seeds: [zero]");
    let err = parse(&wrong_type, Path::new("exp.yaml"))
        .expect_err("type")
        .to_string();
    assert!(err.starts_with("exp.yaml:12:"), "{err}");

    let unknown_method = EXAMPLE.replace("type: ofhnet", "type: srgan");
    let err = parse(&unknown_method, Path::new("exp.yaml"))
        .expect_err("method")
        .to_string();
    assert!(err.contains("srgan") && err.contains("ofhnet"), "{err}");

    let bad_axis = EXAMPLE.replace("losses.adversarial.weight", "losses.adversarial.wieght");
    let exp =
        parse(&bad_axis, Path::new("exp.yaml")).expect("parses; the axis is checked on expansion");
    let err = expand(&exp).expect_err("bad axis").to_string();
    assert!(
        err.contains("losses.adversarial.wieght") && err.contains("unknown field `wieght`"),
        "{err}"
    );

    let uneven = EXAMPLE.replace("[0.001, 0.002]", "[0.001, 0.002, 0.003]");
    let err = parse(&uneven, Path::new("exp.yaml"))
        .expect_err("zip")
        .to_string();
    assert!(err.contains("sweep.zip"), "{err}");
}
