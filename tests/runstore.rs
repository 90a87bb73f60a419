//! The run store tells the truth: run identity (an edited experiment makes new runs, the old
//! ones stay as history), store URLs and files, faults during a run (a NaN, a failed write, a
//! corrupt checkpoint, a signal, a store that vanishes) and configuration errors that name
//! their field and line. Each test is one row of docs/bad-input.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use ofhnet::harness::experiment::{load, parse};
use ofhnet::harness::store::{SCHEMA_VERSION, Store, Versions, parse_db};
use ofhnet::harness::sweep::{expand, run_key};
use ofhnet::train::checkpoint::{CheckpointDir, CheckpointState, params_finite, read_json};
use ofhnet::train::stages::load_generator;

use crate::common::RawSql;
use crate::queue::{
    ofhnet, ofhnet_in, scores, skip_without_postgres, stage2_step, tiny_experiment,
};
use crate::train::{tiny_config, try_run};

/// The run lines of `ofhnet status EXP` (they end in a 16-digit key).
fn run_lines(status: &str) -> Vec<&str> {
    status
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .last()
                .is_some_and(|k| k.len() == 16 && k.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .collect()
}

#[test]
fn an_edited_experiment_adds_runs_names_the_changed_field_and_keeps_the_old_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = dir.join("store.sqlite").display().to_string();
    std::fs::write(dir.join("edit.yaml"), tiny_experiment("edit", 2, 2)).expect("write");
    let (ok, out, err) = ofhnet_in(dir, &["enqueue", "edit.yaml", "--db", &db]);
    assert!(
        ok && out.contains("2 runs, 2 added, 0 already in"),
        "{out}{err}"
    );

    let edited = [
        "enqueue",
        "edit.yaml",
        "--db",
        &db,
        "--set",
        "stages.stage2.steps=3",
    ];
    let (ok, out, err) = ofhnet_in(dir, &edited);
    assert!(ok, "{err}");
    assert!(out.contains("2 runs, 2 added, 0 already in"), "{out}");
    assert!(out.contains("version 2"), "{out}");
    assert_eq!(
        out.matches("stages.stage2.steps: 2 -> 3").count(),
        2,
        "each new run names the field it changed: {out}"
    );
    let (ok, out, _) = ofhnet_in(dir, &edited);
    assert!(
        ok && out.contains("0 added, 2 already in") && out.contains("version 2"),
        "{out}"
    );

    // status shows the current definition; --all-versions the history too.
    let (ok, current, _) = ofhnet_in(dir, &["status", "edit", "--db", &db]);
    assert!(ok, "{current}");
    assert_eq!(run_lines(&current).len(), 2, "{current}");
    let (ok, all, _) = ofhnet_in(dir, &["status", "edit", "--all-versions", "--db", &db]);
    assert!(ok, "{all}");
    assert_eq!(run_lines(&all).len(), 4, "{all}");
    assert_eq!(
        all.matches("superseded").count(),
        3,
        "2 runs + the summary: {all}"
    );

    // diff prints only the field that differs; show says which version it means.
    let store = Store::open(&db).expect("open");
    let new = store.runs(Some("edit"), Versions::Current).expect("runs");
    let old: Vec<_> = store
        .runs(Some("edit"), Versions::All)
        .expect("runs")
        .into_iter()
        .filter(|r| r.last_version == 1)
        .collect();
    assert_eq!((new.len(), old.len()), (2, 2));
    assert_eq!(new[0].name, old[0].name, "a name repeats across versions");
    let (ok, out, err) = ofhnet_in(dir, &["diff", &old[0].key, &new[0].key[..8], "--db", &db]);
    assert!(ok, "{err}");
    assert_eq!(out, "stages.stage2.steps: 2 -> 3\n", "{err}");
    let by_name = format!("edit/{}", new[0].name);
    let (ok, out, _) = ofhnet_in(dir, &["show", &by_name, "--db", &db]);
    assert!(ok && out.contains(&new[0].key) && out.contains("in v2 of `edit` (current: v2)"));
    let (ok, out, _) = ofhnet_in(dir, &["show", &format!("{by_name}@v1"), "--db", &db]);
    assert!(
        ok && out.contains(&old[0].key) && out.contains("this run is history"),
        "{out}"
    );

    // Reports: the current definition by default; with the history, every row one version.
    for r in new.iter().chain(&old) {
        let rows: Vec<_> = (0..3)
            .map(|i| {
                let name = format!("{i:06}.jpg");
                (i, None, scores(&name, "ofhnet", 20.0 + i as f64))
            })
            .collect();
        store
            .write_metrics(&r.key, "random", &rows, 1.0)
            .expect("metrics");
    }
    let current = ofhnet::report::load(&store, "edit", None).expect("report");
    let keys: Vec<&String> = current
        .entities
        .iter()
        .flat_map(|e| e.runs.iter().map(|r| &r.1))
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|k| new.iter().any(|r| &r.key == *k)),
        "{keys:?}"
    );
    let all = ofhnet::report::load_versions(&store, "edit", None, Versions::All).expect("report");
    assert_eq!(all.entities.len(), 4, "{:?}", all.entities);
    for e in &all.entities {
        let versions: Vec<i64> = e
            .runs
            .iter()
            .map(|(_, k)| all.run(k).expect("run").row.last_version)
            .collect();
        assert!(versions.windows(2).all(|w| w[0] == w[1]), "{e:?}");
        assert!(
            e.label.contains(&format!("version=v{}", versions[0])),
            "{}",
            e.label
        );
    }

    // Going back to the first definition wants its runs again: nothing new, version 3.
    let (ok, out, _) = ofhnet_in(dir, &["enqueue", "edit.yaml", "--db", &db]);
    assert!(
        ok && out.contains("0 added, 2 already in") && out.contains("version 3"),
        "{out}"
    );
    let c = store
        .counts(Some("edit"), Versions::Current)
        .expect("counts");
    assert_eq!((c.queued, c.superseded), (2, 0));
}

/// The keys of the runs of table1.yaml as the suite of 2026-11-30 ran it (frozen in
/// tests/fixtures/; the live file has moved on to the issue-18 recipe). They name trained models
/// in every store that ran that suite: a schema change that alters them orphans those models. Add
/// new config fields as options (unset options stay out of the canonical form) and these hold.
const TABLE1_KEYS: &[&str] = &[
    "ed2d91af04831291 method=in_bicubic+preset=cpu,seed=0",
    "38215a1a4f6b6594 method=in_ma+preset=cpu,seed=0",
    "56fd42c97c0c8b6c method=in_vdsr+preset=cpu,seed=0",
    "a7e94038db7e393e method=in_fsrcnn+preset=cpu,seed=0",
    "e49423f48232b2d6 method=in_urdgn+preset=cpu,seed=0",
    "c6dcb05e6eea90ab method=in_edsr+preset=cpu,seed=0",
    "ec80b3a0c3ecedee method=ofhnet+preset=cpu,seed=0",
];

const TABLE1_FIXTURE: &str = "tests/fixtures/table1-2026-11-30.yaml";

#[test]
fn table1_run_keys_are_pinned() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exp = load(&root.join(TABLE1_FIXTURE)).expect(TABLE1_FIXTURE);
    let keys: Vec<String> = expand(&exp)
        .expect("expand")
        .into_iter()
        .map(|r| format!("{} {}", r.key, r.name))
        .collect();
    assert_eq!(keys, TABLE1_KEYS, "the run keys of table1.yaml changed");
}

/// The hashes of the frozen table1's runs' training configurations (the generator spec included), in the
/// canonical form the shared stage-1 and stage-2 keys hash: a refactor of where methods and
/// generators are defined must not move them, or trained models are orphaned.
const TABLE1_CONFIG_KEYS: &[&str] = &[
    "in_bicubic 9c4435a5d9919dd4",
    "in_ma 9c4435a5d9919dd4",
    "in_vdsr 7bb3120323800466",
    "in_fsrcnn 9b01281c0ae39e9c",
    "in_urdgn 84d4718bfe568b35",
    "in_edsr 7b22cc971fc976a5",
    "ofhnet 65d3f8c3c45173bb",
];

#[test]
fn table1_training_configurations_are_pinned() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exp = load(&root.join(TABLE1_FIXTURE)).expect(TABLE1_FIXTURE);
    let keys: Vec<String> = expand(&exp)
        .expect("expand")
        .into_iter()
        .map(|r| {
            let config = r.config.train_config(r.seed).resolved();
            let value = serde_json::to_value(&config).expect("json");
            format!("{} {}", r.config.method.label(), run_key(&value))
        })
        .collect();
    assert_eq!(
        keys, TABLE1_CONFIG_KEYS,
        "table1's training configurations changed"
    );
}

/// The shared-model keys of experiments/paper/tune.yaml's first run, as the worker of
/// 2026-12-03 (before harness/keys.rs) named their directories in results/tune/shared/: the
/// keys module must name the same models.
#[test]
fn shared_keys_name_the_models_trained_before_keys_rs() {
    use ofhnet::harness::keys::{Stage1Key, landmark_networks, stage2_key};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exp = load(&root.join("experiments/paper/tune.yaml")).expect("tune.yaml");
    let run = expand(&exp).expect("expand").remove(0);
    let config = run.config.train_config(run.seed);
    let data = &run.config.data;
    assert_eq!(Stage1Key::of(&config).key(data), "stage1-d2cf71c347435207");
    assert_eq!(
        stage2_key(data, &config, run.config.landmarks.loss.as_ref()),
        "stage2-285890a522b14155"
    );
    let landmarks: Vec<String> = landmark_networks(&run.config)
        .into_iter()
        .map(|(role, key, _)| format!("{role} {key}"))
        .collect();
    assert_eq!(
        landmarks,
        [
            "loss landmarks-e4278f6238e827c5",
            "eval landmarks-9cc1c51fef14f755"
        ]
    );
}

/// Every file of experiments/paper/ trains on the models the recipe sweep (tune.yaml) already
/// trained: its InpaintNet (seed 0) and both landmark networks, and the ablation's L2 + semantic run is the
/// sweep's chosen one (UpsampleNet 128-64-32, lr 0.002); table1's OFHNet seeds 0 and 1 (UpsampleNet
/// 256-128-32) are the models the one-run experiments `diag_wide` and `diag_wide_s1` trained on the
/// val split before the width was chosen. A block that drifts would retrain them (hours of CPU).
#[test]
fn the_paper_files_reuse_the_models_of_the_recipe_sweep() {
    use ofhnet::harness::keys::{Stage1Key, landmark_networks, stage2_key};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in [
        "table1",
        "table2",
        "ablation_losses",
        "occlusion_position",
        "occlusion_size",
    ] {
        let path = root.join(format!("experiments/paper/{file}.yaml"));
        let exp = load(&path).expect(file);
        for run in expand(&exp).expect("expand") {
            let config = run.config.train_config(run.seed);
            let data = &run.config.data;
            // A seed is the whole pipeline's: seeds 1 and 2 train their own InpaintNet.
            if run.seed == 0 {
                assert_eq!(
                    Stage1Key::of(&config).key(data),
                    "stage1-d2cf71c347435207",
                    "{file}/{}",
                    run.name
                );
            }
            let landmarks: Vec<String> = landmark_networks(&run.config)
                .into_iter()
                .map(|(_, key, _)| key)
                .collect();
            // (A run without the semantic loss needs only the evaluation detector.)
            assert!(
                landmarks.iter().all(|k| {
                    ["landmarks-e4278f6238e827c5", "landmarks-9cc1c51fef14f755"]
                        .contains(&k.as_str())
                }) && landmarks.contains(&"landmarks-9cc1c51fef14f755".to_string()),
                "{file}/{}: {landmarks:?}",
                run.name
            );
            let losses = &run.config.losses;
            if file == "ablation_losses"
                && losses.adversarial.is_none()
                && losses.semantic.is_some()
            {
                assert_eq!(
                    stage2_key(data, &config, run.config.landmarks.loss.as_ref()),
                    "stage2-e03d92d6138d3828",
                    "the L2 + semantic run is tune.yaml's wide run at lr 0.002"
                );
            }
            if file == "table1" && run.name.starts_with("method=ofhnet") && run.seed < 2 {
                let key = stage2_key(data, &config, run.config.landmarks.loss.as_ref());
                let trained = ["stage2-d133bf9b5c4604a2", "stage2-5de248c3d9c36513"];
                assert_eq!(key, trained[run.seed as usize], "table1/{}", run.name);
            }
        }
    }
}

#[test]
fn sqlite_urls_in_every_sqlx_form_create_a_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let abs = dir.join("a/new.sqlite");
    // Absolute: sqlite:///abs (the form), sqlite:/abs, and with query parameters.
    for url in [
        format!("sqlite://{}", abs.display()),
        format!("sqlite:{}", dir.join("b.sqlite").display()),
        format!("sqlite://{}?mode=rwc", dir.join("c.sqlite").display()),
        format!("sqlite://{}?cache=shared", dir.join("d.sqlite").display()),
    ] {
        let store = Store::open(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(store.experiment_version("x").expect("query"), 0);
        let file = parse_db(&url).sqlite_file.expect("a file");
        assert!(file.is_file(), "{url} made no file at {}", file.display());
    }
    // Relative forms, from the working directory; and an in-memory store.
    for (url, file) in [
        ("sqlite://rel.sqlite", "rel.sqlite"),
        ("sqlite:rel2.sqlite", "rel2.sqlite"),
        ("sqlite::memory:", ""),
        ("plain/dir/store.sqlite", "plain/dir/store.sqlite"),
    ] {
        let (ok, out, err) = ofhnet_in(dir, &["status", "--db", url]);
        assert!(ok && out.contains("no experiments"), "{url}: {out}{err}");
        if !file.is_empty() {
            assert!(dir.join(file).is_file(), "{url}");
        }
    }
}

#[test]
fn a_file_that_is_not_a_store_fails_at_once_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("notes.txt");
    let notes = "these are my notes, not a database\n".repeat(200);
    std::fs::write(&file, &notes).expect("write");
    let t = Instant::now();
    let err = Store::open(&file.display().to_string())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        err.contains("notes.txt") && err.contains("not an SQLite database"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        notes,
        "the file is left as it was"
    );
}

#[test]
fn an_unreachable_postgres_fails_at_once_naming_the_host() {
    let t = Instant::now();
    let err = Store::open("postgres://ofhnet:s3cret@127.0.0.1:9/runs")
        .err()
        .expect("refused")
        .to_string();
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        err.contains("cannot reach PostgreSQL at 127.0.0.1:9"),
        "{err}"
    );
    assert!(
        !err.contains("s3cret"),
        "the password is not printed: {err}"
    );
    assert!(!err.contains("pool timed out"), "{err}");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, _, err) = ofhnet_in(
        tmp.path(),
        &[
            "status",
            "--db",
            "postgres://ofhnet:s3cret@127.0.0.1:9/runs",
        ],
    );
    assert!(!ok && err.contains("127.0.0.1:9"), "{err}");
    assert!(
        !err.contains("s3cret"),
        "the command line hides it too: {err}"
    );
}

#[test]
fn a_store_written_by_a_newer_ofhnet_is_refused_naming_both_versions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("s.sqlite").display().to_string();
    let store = Store::open(&db).expect("open");
    store
        .query_strings(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (99, 'future', TRUE, X'00', 0) RETURNING description",
        )
        .expect("a future migration");
    drop(store);
    let err = Store::open(&db).err().expect("refused").to_string();
    assert!(
        err.contains("schema version 99") && err.contains(&format!("up to {SCHEMA_VERSION}")),
        "{err}"
    );
}

/// Trains (or resumes) `config` on the shared synthetic faces into `out`.
fn train_into(
    config: &ofhnet::train::config::TrainConfig,
    out: &Path,
) -> ofhnet::Result<ofhnet::train::stages::TrainReport> {
    try_run(config, out, true, None)
}

#[test]
fn a_nan_loss_fails_naming_step_and_term_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut config = tiny_config(2, 30);
    config.stage2.lr = 1e30; // Adam moves every weight by ~1e30: the next forward overflows.
    config.stage2.checkpoint_every = 1;
    config.stage2.batch_size = 2;
    let err = train_into(&config, tmp.path())
        .expect_err("the loss blows up")
        .to_string();
    let at: usize = err
        .split("loss became ")
        .nth(1)
        .and_then(|s| s.split(" at step ").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not `loss became X at step N (term)`: {err}"));
    assert!(err.contains(&format!("at step {at} (")), "{err}");
    assert!(at > 1 && at < 30, "{err}");
    let ckpt = CheckpointDir::new(tmp.path().join("stage2/checkpoint"));
    let dir = ckpt.latest().expect("a checkpoint is kept");
    let state: CheckpointState = read_json(&dir.join("state.json")).expect("state");
    assert!(
        err.contains(&format!("last good checkpoint (step {})", state.step)),
        "{err}"
    );
    assert!(state.step < at, "{} < {at}", state.step);
    let generator = load_generator(
        config.resolved().generator_init(&Device::flex()),
        &dir.join("generator.bpk"),
    )
    .expect("the kept checkpoint loads");
    assert!(params_finite(&generator), "the kept weights are finite");
}

#[test]
fn a_failed_weights_write_keeps_the_previous_file_and_names_path_and_os_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path();
    let mut config = tiny_config(2, 2);
    config.stage2.batch_size = 2;
    // The final UpsampleNet marks a model complete: its write is made to fail.
    std::fs::create_dir_all(out.join("upsample.bpk.tmp/blocker")).expect("blocker");
    let err = train_into(&config, out)
        .expect_err("the write fails")
        .to_string();
    assert!(err.contains("upsample.bpk.tmp"), "{err}");
    assert!(
        err.to_lowercase().contains("directory"),
        "the OS error: {err}"
    );
    assert!(
        !out.join("upsample.bpk").exists(),
        "no half-written model marks itself complete"
    );
    // The checkpoint of the last step was written before, whole: a resume finishes the model.
    std::fs::remove_dir_all(out.join("upsample.bpk.tmp")).expect("unblock");
    let report = train_into(&config, out).expect("resume");
    assert_eq!(report.stage2.steps_run, 0, "nothing is trained again");
    assert!(out.join("upsample.bpk").is_file());
}

/// Starts `ofhnet worker` in `dir` on `db`.
fn spawn_worker(dir: &Path, db: &str, env: &[(&str, &str)]) -> Child {
    let mut cmd = ofhnet();
    cmd.current_dir(dir)
        .args([
            "worker",
            "--db",
            db,
            "--heartbeat",
            "0.3",
            "--stale-after",
            "600",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn worker")
}

/// Waits until the experiment's stage-2 model has a checkpoint at step `at` or later.
fn wait_for_stage2(worker: &mut Child, shared: &Path, at: usize) {
    let start = Instant::now();
    while stage2_step(shared) < at {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "stage 2 never checkpointed"
        );
        if let Ok(Some(status)) = worker.try_wait() {
            panic!("the worker exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on a child process we spawned and have not reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill");
}

fn stderr_of(child: Child) -> (std::process::ExitStatus, String) {
    let out = child.wait_with_output().expect("wait");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn sigterm_requeues_the_run_at_once_and_a_corrupt_checkpoint_is_restarted_by_retry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = dir.join("store.sqlite").display().to_string();
    std::fs::write(dir.join("sig.yaml"), tiny_experiment("sig", 1, 400)).expect("write");
    assert!(ofhnet_in(dir, &["enqueue", "sig.yaml", "--db", &db]).0);
    let shared: PathBuf = dir.join("results/sig/shared");

    // SIGTERM: the run is back in the queue as soon as the worker exits, which is at once.
    let mut worker = spawn_worker(dir, &db, &[]);
    wait_for_stage2(&mut worker, &shared, 10);
    signal(&worker, libc::SIGTERM);
    let t = Instant::now();
    let (status, err) = stderr_of(worker);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert!(status.success(), "{err}");
    assert!(err.contains("back in the queue"), "{err}");
    let store = Store::open(&db).expect("open");
    let run = store
        .runs(Some("sig"), Versions::Current)
        .expect("runs")
        .remove(0);
    assert_eq!(
        run.status, "queued",
        "requeued at once, not after --stale-after"
    );
    assert!(
        run.error
            .as_deref()
            .is_some_and(|e| e.contains("stop signal")),
        "{:?}",
        run.error
    );

    // A truncated checkpoint: the next attempt fails naming the file and the way out.
    let model = std::fs::read_dir(&shared)
        .expect("shared")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("stage2-"))
        })
        .expect("the stage-2 model");
    let weights = model.join("stage2/checkpoint/generator.bpk");
    let bytes = std::fs::read(&weights).expect("weights");
    std::fs::write(&weights, &bytes[..bytes.len() / 3]).expect("truncate");
    let (ok, _, err) = ofhnet_in(dir, &["worker", "--db", &db]);
    assert!(ok, "{err}");
    let run = store
        .runs(Some("sig"), Versions::Current)
        .expect("runs")
        .remove(0);
    let error = run.error.clone().unwrap_or_default();
    assert_eq!(run.status, "failed");
    assert!(
        error.contains("generator.bpk") && error.contains("--restart"),
        "{error}"
    );

    let (ok, out, err) = ofhnet_in(dir, &["retry", "sig", "--restart", &run.key, "--db", &db]);
    assert!(ok, "{err}");
    assert!(out.contains("moved") && out.contains("restarted-"), "{out}");
    let (ok, _, err) = ofhnet_in(dir, &["worker", "--db", &db]);
    assert!(ok, "{err}");
    let run = store
        .runs(Some("sig"), Versions::Current)
        .expect("runs")
        .remove(0);
    assert_eq!(run.status, "done", "{:?}", run.error);
    assert_eq!(store.metric_count(&run.key).expect("rows"), 6);
    // Each row keeps its face's identity from the split (the synthetic faces have them).
    let groups = store.metric_groups("sig").expect("groups");
    let wanted: Vec<(&str, &str, &str)> = groups
        .iter()
        .map(|g| (g.run_key.as_str(), g.protocol.as_str(), g.method.as_str()))
        .collect();
    let rows = store.metric_rows(&wanted).expect("rows");
    assert!(
        rows.iter().flatten().all(|r| r.identity.is_some()),
        "{rows:?}"
    );
    let kept: Vec<_> = std::fs::read_dir(model.join("stage2"))
        .expect("stage2")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("restarted-"))
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "the corrupt checkpoint is moved aside, not deleted"
    );
}

#[test]
fn a_second_signal_exits_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = dir.join("store.sqlite").display().to_string();
    std::fs::write(dir.join("two.yaml"), tiny_experiment("two", 1, 400)).expect("write");
    assert!(ofhnet_in(dir, &["enqueue", "two.yaml", "--db", &db]).0);
    let mut worker = spawn_worker(dir, &db, &[]);
    wait_for_stage2(&mut worker, &dir.join("results/two/shared"), 5);
    // Two different signals, so that the kernel does not merge them into one.
    signal(&worker, libc::SIGINT);
    signal(&worker, libc::SIGTERM);
    let t = Instant::now();
    let (status, _) = stderr_of(worker);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(status.code(), Some(130), "{status}");
    // Its run is left `running`; the next worker on this host requeues it at once.
    let (ok, _, err) = ofhnet_in(dir, &["worker", "--db", &db]);
    assert!(
        ok && err.contains("its worker on this host is gone"),
        "{err}"
    );
}

#[test]
fn a_worker_whose_postgres_goes_away_gives_up_and_its_run_is_requeued_when_it_is_back() {
    if std::env::var("OFHNET_TEST_POSTGRES_URL").is_err() {
        return skip_without_postgres();
    }
    // A private server on its own port: the shared one serves the other tests.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-test-server.sh");
    let data = PathBuf::from(format!("/tmp/ofhnet-pg-vanish-{}", std::process::id()));
    let server = |cmd: &str| {
        let out = std::process::Command::new(&script)
            .args([cmd, &data.display().to_string()])
            .env("PGTEST_PORT", "54341")
            .output()
            .expect("pg-test-server.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let url = server("start");
    struct Stop<F: Fn()>(F);
    impl<F: Fn()> Drop for Stop<F> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let _stop = Stop(|| {
        let _ = std::process::Command::new(&script)
            .args(["stop", &data.display().to_string()])
            .output();
        let _ = std::fs::remove_dir_all(&data);
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("gone.yaml"), tiny_experiment("gone", 1, 400)).expect("write");
    assert!(ofhnet_in(dir, &["enqueue", "gone.yaml", "--db", &url]).0);
    let mut worker = spawn_worker(dir, &url, &[("OFHNET_STORE_RETRY", "3")]);
    wait_for_stage2(&mut worker, &dir.join("results/gone/shared"), 5);
    server("stop");
    let t = Instant::now();
    let (status, err) = stderr_of(worker);
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "took {:?}",
        t.elapsed()
    );
    assert!(!status.success());
    assert!(
        err.contains("unreachable for") && err.contains("giving up"),
        "{err}"
    );
    server("start");
    let store = Store::open(&url).expect("the store is back");
    assert_eq!(
        store.runs(Some("gone"), Versions::Current).expect("runs")[0].status,
        "running"
    );
    let (ok, _, err) = ofhnet_in(dir, &["worker", "--db", &url]);
    assert!(
        ok && err.contains("its worker on this host is gone"),
        "{err}"
    );
    let run = store
        .runs(Some("gone"), Versions::Current)
        .expect("runs")
        .remove(0);
    assert_eq!(
        (run.status.as_str(), run.attempts),
        ("done", 2),
        "{:?}",
        run.error
    );
}

#[test]
fn configuration_errors_name_their_field_and_its_real_line() {
    let base = tiny_experiment("cfg", 2, 2);
    let nan = base.replace("stage2: {steps: 2,", "stage2: {lr: .nan, steps: 2,");
    assert_ne!(nan, base);
    let err = parse(&nan, Path::new("e.yaml"))
        .expect_err("NaN")
        .to_string();
    let line = nan.lines().position(|l| l.contains(".nan")).expect("line") + 1;
    assert!(err.starts_with(&format!("e.yaml:{line}:")), "{err}");
    assert!(
        err.contains("stages.stage2.lr") && err.contains("NaN"),
        "{err}"
    );
    assert!(!err.contains("adversarial"), "not the swept field: {err}");

    let negative = base.replace("stage2: {steps: 2,", "stage2: {lr: -0.1, steps: 2,");
    let err = parse(&negative, Path::new("e.yaml"))
        .expect_err("negative")
        .to_string();
    assert!(err.starts_with(&format!("e.yaml:{line}:")), "{err}");
    assert!(
        err.contains("stages.stage2.lr: must be a positive number"),
        "{err}"
    );

    let no_seeds = base.replace("seeds: [0]", "seeds: []");
    let err = parse(&no_seeds, Path::new("e.yaml"))
        .expect_err("seeds")
        .to_string();
    let line = no_seeds
        .lines()
        .position(|l| l.starts_with("seeds:"))
        .expect("line")
        + 1;
    assert!(err.starts_with(&format!("e.yaml:{line}:")), "{err}");
    assert!(!err.contains(":0:"), "{err}");

    // From the command line: the override names its field; no line is made up.
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("cfg.yaml"), &base).expect("write");
    for (set, field) in [
        ("stages.stage2.lr=.nan", "stages.stage2.lr"),
        ("stages.stage2.lr=0", "stages.stage2.lr"),
        ("losses.l2.weight=-1", "losses.l2.weight"),
    ] {
        let (ok, _, err) = ofhnet_in(
            tmp.path(),
            &["enqueue", "cfg.yaml", "--dry-run", "--set", set],
        );
        assert!(!ok);
        assert!(err.contains(field), "{set}: {err}");
        assert!(
            !err.contains(":0:") && !err.contains("invalid type: null"),
            "{set}: {err}"
        );
    }
}
