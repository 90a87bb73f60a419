//! The run store, the queue and the workers: idempotent enqueue, exclusive claims, stale runs,
//! shared stage-1 models, failures and retries, on SQLite and (when `OFHNET_TEST_POSTGRES_URL`
//! names a server, as in CI) on PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ofhnet::evaluate::Scores;
use ofhnet::harness::experiment::parse;
use ofhnet::harness::store::{
    RunStatus, ScoredImage, SharedClaim, Store, Versions, WorkerInfo, create_postgres_database,
};
use ofhnet::harness::sweep::expand;
use ofhnet::metrics::Metric;

use crate::common::{RawSql, synthetic_dataset};

pub(crate) fn ofhnet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ofhnet"))
}

/// A fresh PostgreSQL database when the environment names a server.
pub(crate) fn postgres_db() -> Option<String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let server = std::env::var("OFHNET_TEST_POSTGRES_URL").ok()?;
    let name = format!(
        "ofhnet_t{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() % 1_000_000)
            .unwrap_or(0)
    );
    Some(create_postgres_database(&server, &name).expect("create a test database"))
}

pub(crate) fn skip_without_postgres() {
    eprintln!("skipped: set OFHNET_TEST_POSTGRES_URL to a PostgreSQL server (CI does)");
}

/// An experiment of `runs` tiny OFHNet runs on the shared synthetic faces, differing only in
/// stage 2's learning rate (so they share one stage 1).
pub(crate) fn tiny_experiment(name: &str, runs: usize, stage2_steps: usize) -> String {
    let lrs: Vec<String> = (0..runs)
        .map(|i| format!("{:.5}", 0.001 + 0.0001 * i as f64))
        .collect();
    format!(
        "name: {name}\n\
         data: {{prepared: '{}'}}\n\
         method: {{type: ofhnet, preset: tiny}}\n\
         losses: {{inpaint_l2: {{weight: 1.0}}, l2: {{weight: 1.0}}, adversarial: {{weight: 0.001}}}}\n\
         stages:\n\
         \x20 stage1: {{steps: 2, batch_size: 4, checkpoint_every: 1}}\n\
         \x20 stage2: {{steps: {stage2_steps}, batch_size: 2, checkpoint_every: 5, log_every: 1}}\n\
         evaluation: {{protocols: [random], limit: 3, batch_size: 3}}\n\
         seeds: [0]\n\
         sweep:\n\
         \x20 grid: {{stages.stage2.lr: [{}]}}\n",
        synthetic_dataset().display(),
        lrs.join(", ")
    )
}

pub(crate) fn worker_info(id: &str) -> WorkerInfo {
    WorkerInfo {
        id: id.into(),
        host: "test".into(),
        device: "cpu".into(),
        git_commit: None,
        git_dirty: None,
        ..WorkerInfo::default()
    }
}

fn enqueue_runs(store: &Store, yaml: &str) -> usize {
    let exp = parse(yaml, Path::new("exp.yaml")).expect("parse");
    let runs = expand(&exp).expect("expand");
    store
        .enqueue(&exp, "exp.yaml", &runs)
        .expect("enqueue")
        .added
        .len()
}

fn check_enqueue_and_claims(db: &str) {
    let store = Store::open(db).expect("open");
    let yaml = tiny_experiment("claims", 20, 1);
    assert_eq!(enqueue_runs(&store, &yaml), 20);
    assert_eq!(
        enqueue_runs(&store, &yaml),
        0,
        "a second enqueue adds nothing"
    );
    assert_eq!(
        store
            .counts(Some("claims"), Versions::Current)
            .expect("counts")
            .queued,
        20
    );

    // Four claimers, each with its own pool (as separate processes would be), race for the runs.
    let claimed: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|w| {
                s.spawn(move || {
                    let store = Store::open(db).expect("open");
                    let me = worker_info(&format!("w{w}"));
                    let mut keys = Vec::new();
                    while let Some(run) = store.claim(&me, Some("claims")).expect("claim") {
                        assert_eq!(run.worker.as_deref(), Some(me.id.as_str()));
                        keys.push(run.key);
                    }
                    keys
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("join"))
            .collect()
    });
    let all: Vec<&String> = claimed.iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), 20, "every run claimed once: {claimed:?}");
    assert_eq!(unique.len(), 20, "no run claimed twice: {claimed:?}");
    let c = store
        .counts(Some("claims"), Versions::Current)
        .expect("counts");
    assert_eq!((c.queued, c.running), (0, 20));
}

#[test]
fn processes_opening_a_fresh_sqlite_store_at_once_all_succeed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("fresh.sqlite").display().to_string();
    let children: Vec<_> = (0..6)
        .map(|_| {
            ofhnet()
                .args(["status", "--db", &db])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn enqueue_is_idempotent_and_claims_are_exclusive_sqlite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    check_enqueue_and_claims(&tmp.path().join("store.sqlite").display().to_string());
}

#[test]
fn enqueue_is_idempotent_and_claims_are_exclusive_postgres() {
    match postgres_db() {
        Some(db) => check_enqueue_and_claims(&db),
        None => skip_without_postgres(),
    }
}

pub(crate) fn scores(name: &str, method: &str, psnr: f64) -> Scores {
    Scores {
        name: name.into(),
        method: method.into(),
        occlusion: "random".into(),
        values: [
            (Metric::Psnr, psnr),
            (Metric::Ssim, 0.5),
            (Metric::PsnrY, psnr + 1.0),
            (Metric::SsimY, 0.6),
            (Metric::Nrmse, 3.0),
        ]
        .into_iter()
        .collect(),
    }
}

fn check_store_lifecycle(db: &str) {
    let store = Store::open(db).expect("open");
    enqueue_runs(&store, &tiny_experiment("life", 3, 1));
    let a = worker_info("a");
    let b = worker_info("b");

    // A stale run goes back to the queue; its old worker can no longer record it.
    let run = store.claim(&a, None).expect("claim").expect("a run");
    assert_eq!(run.attempts, 1);
    std::thread::sleep(Duration::from_millis(50));
    let requeued = store
        .requeue_stale(Duration::from_millis(10))
        .expect("requeue");
    assert_eq!(requeued, vec![(run.name.clone(), RunStatus::Queued)]);
    assert!(!store.heartbeat(&run.key, &a.id).expect("heartbeat"));
    let again = store.claim(&b, None).expect("claim").expect("the same run");
    assert_eq!((again.key.as_str(), again.attempts), (run.key.as_str(), 2));
    assert!(store.heartbeat(&again.key, &b.id).expect("heartbeat"));
    assert!(
        !store
            .finish(&run.key, &a.id, Path::new("x"), 1.0, 1.0)
            .expect("finish"),
        "the old worker's result is refused"
    );

    // A run that a newer definition leaves out while it runs is history when its worker goes
    // away: superseded, never claimed again (the paper suite's worker once resumed one).
    let v1 = tiny_experiment("edited", 2, 1);
    enqueue_runs(&store, &v1);
    let held = store
        .claim(&a, Some("edited"))
        .expect("claim")
        .expect("a run");
    assert!(v1.contains("[0.00100, 0.00110]"), "{v1}");
    let v2 = v1.replace("[0.00100, 0.00110]", "[0.00110, 0.00120]");
    assert_eq!(enqueue_runs(&store, &v2), 1);
    std::thread::sleep(Duration::from_millis(50));
    assert!(store.heartbeat(&again.key, &b.id).expect("heartbeat"));
    let back = store
        .requeue_stale(Duration::from_millis(10))
        .expect("requeue");
    assert_eq!(back, [(held.name.clone(), RunStatus::Superseded)]);
    let mut claimed = Vec::new();
    for _ in 0..2 {
        let next = store
            .claim(&b, Some("edited"))
            .expect("claim")
            .expect("run");
        assert_ne!(next.key, held.key, "a left-out run is never claimed");
        assert_eq!(next.last_version, 2);
        claimed.push(next);
    }
    assert!(store.claim(&b, Some("edited")).expect("claim").is_none());
    // A worker that stops its run (a signal) puts it back in the queue, or, when a newer
    // definition left it out meanwhile, marks it superseded; either way it says which.
    let release = |key: &str| store.release(key, &b.id, "a stop signal").expect("release");
    // (The oldest queued run is claimed first: `claimed[0]` is lr 0.0011, from v1.)
    assert_eq!(release(&claimed[1].key), Some(RunStatus::Queued));
    assert_eq!(release(&claimed[1].key), None, "no longer b's");
    let v3 = v2.replace("[0.00110, 0.00120]", "[0.00120, 0.00130]");
    assert_eq!(enqueue_runs(&store, &v3), 1);
    assert_eq!(release(&claimed[0].key), Some(RunStatus::Superseded));
    // (Drained again, so that the checks below claim only their own experiment's runs.)
    let mut left = 0;
    while store.claim(&b, Some("edited")).expect("claim").is_some() {
        left += 1;
    }
    assert_eq!(left, 2, "lr 0.0012 again and the new 0.0013");

    // A shared model is trained by one run; the others wait, or take it over from a run
    // that stopped.
    let other = store.claim(&a, None).expect("claim").expect("second run");
    let path = Path::new("results/life/shared/stage1-x");
    assert_eq!(
        store
            .claim_shared("stage1-x", "stage1", path, &again.key)
            .expect("shared"),
        SharedClaim::Train(path.to_path_buf())
    );
    assert_eq!(
        store
            .claim_shared("stage1-x", "stage1", path, &other.key)
            .expect("shared"),
        SharedClaim::Wait {
            owner: again.key.clone()
        }
    );
    assert!(store.fail(&again.key, &b.id, "boom").expect("fail"));
    assert_eq!(
        store
            .claim_shared("stage1-x", "stage1", path, &other.key)
            .expect("shared"),
        SharedClaim::Train(path.to_path_buf()),
        "the owner failed: the next run takes the model over"
    );
    store.shared_done("stage1-x").expect("done");
    assert_eq!(
        store
            .claim_shared("stage1-x", "stage1", path, &again.key)
            .expect("shared"),
        SharedClaim::Ready(path.to_path_buf())
    );

    // Metric rows of a (run, protocol) are replaced, never duplicated; each keeps its
    // identity (none for the last face).
    let identity = |i: i64| (i < 4).then_some(100 + i / 2);
    let rows: Vec<ScoredImage> = (0..5)
        .flat_map(|i| {
            let name = format!("{i:06}.jpg");
            [
                (i, identity(i), scores(&name, "ofhnet", 20.0 + i as f64)),
                (i, identity(i), scores(&name, "in_bicubic", 19.0)),
            ]
        })
        .collect();
    store
        .write_metrics(&other.key, "random", &rows, 1.0)
        .expect("write");
    store
        .write_metrics(&other.key, "random", &rows, 1.0)
        .expect("write again");
    assert_eq!(store.metric_count(&other.key).expect("count"), 10);
    assert_eq!(
        store.evaluated(&other.key).expect("evaluated"),
        vec!["random"]
    );
    let means = store.metric_means(&other.key).expect("means");
    let ofh = means.iter().find(|m| m.method == "ofhnet").expect("ofhnet");
    let psnr = ofh.values.get(Metric::Psnr).expect("psnr");
    assert!((psnr - 22.0).abs() < 1e-9 && ofh.images == 5);
    assert_eq!(ofh.values.get(Metric::Iou), None);
    let read = store
        .metric_rows(&[(other.key.as_str(), "random", "ofhnet")])
        .expect("rows");
    let identities: Vec<Option<i64>> = read[0].iter().map(|r| r.identity).collect();
    assert_eq!(
        identities,
        [Some(100), Some(100), Some(101), Some(101), None]
    );

    // A run of a dead worker process on this host goes back at once.
    let ghost = WorkerInfo {
        id: "test:4000000".into(),
        ..worker_info("x")
    };
    let orphan = store
        .claim(&ghost, None)
        .expect("claim")
        .expect("third run");
    assert_eq!(
        store
            .requeue_dead_local("other", |_| false)
            .expect("requeue"),
        [],
        "another host's workers are left to their heartbeats"
    );
    assert_eq!(
        store.requeue_dead_local("test", |_| true).expect("requeue"),
        []
    );
    assert_eq!(
        store
            .requeue_dead_local("test", |pid| pid != 4000000)
            .expect("requeue"),
        [(orphan.name.clone(), RunStatus::Queued)]
    );
    assert_eq!(
        store.claim(&a, None).expect("claim").expect("again").key,
        orphan.key
    );

    // Only failed runs are retried.
    assert_eq!(
        store.retry_failed("life").expect("retry"),
        vec![again.name.clone()]
    );
    let c = store
        .counts(Some("life"), Versions::Current)
        .expect("counts");
    assert_eq!((c.queued, c.running, c.failed), (1, 2, 0));
    assert_eq!(
        store
            .find_run(&format!("life/{}", again.name))
            .expect("find")
            .key,
        again.key
    );
    assert!(store.find_run("nope").is_err());
}

#[test]
fn store_lifecycle_sqlite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    check_store_lifecycle(&tmp.path().join("store.sqlite").display().to_string());
}

#[test]
fn store_lifecycle_postgres() {
    match postgres_db() {
        Some(db) => check_store_lifecycle(&db),
        None => skip_without_postgres(),
    }
}

/// Runs `ofhnet ARGS` in `dir` and returns (success, stdout, stderr).
pub(crate) fn ofhnet_in(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = ofhnet()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run ofhnet");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An experiment of `runs` tiny IN+bicubic runs (one shared stage 1 of two steps, one test face
/// each): the harness's own overhead, with next to no training in it.
fn tiny_bicubic_experiment(name: &str, runs: usize) -> String {
    tiny_experiment(name, runs, 1)
        .replace(
            "{type: ofhnet, preset: tiny}",
            "{type: in_bicubic, preset: tiny}",
        )
        .replace("limit: 3, batch_size: 3", "limit: 1, batch_size: 1")
}

/// Four worker processes share one store and `RUNS` tiny runs: each run is done exactly once,
/// with its metric rows once, and no worker sees a lock error. Prints the wall time.
fn check_four_workers(db: &str, backend: &str) {
    const RUNS: usize = 200;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("many.yaml"), tiny_bicubic_experiment("many", RUNS)).expect("write");
    let started = Instant::now();
    let (ok, out, err) = ofhnet_in(dir, &["enqueue", "many.yaml", "--db", db]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("{RUNS} runs, {RUNS} added")), "{out}");

    let workers: Vec<_> = (0..4)
        .map(|_| {
            ofhnet()
                .current_dir(dir)
                .args([
                    "worker",
                    "--db",
                    db,
                    "--heartbeat",
                    "1",
                    "--stale-after",
                    "600",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    let outputs: Vec<_> = workers
        .into_iter()
        .map(|w| w.wait_with_output().expect("worker"))
        .collect();
    let wall = started.elapsed();
    let mut per_worker = Vec::new();
    for o in &outputs {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "a worker failed:\n{err}");
        assert!(
            !err.to_lowercase().contains("locked"),
            "a worker hit a lock error:\n{err}"
        );
        per_worker
            .push(err.matches("\ndone many/").count() + usize::from(err.starts_with("done many/")));
    }

    let store = Store::open(db).expect("open");
    let runs = store.runs(Some("many"), Versions::Current).expect("runs");
    assert_eq!(runs.len(), RUNS);
    let mut stage1_trained = 0;
    for r in &runs {
        assert_eq!(r.status, "done", "{}: {:?}", r.name, r.error);
        assert_eq!(r.attempts, 1, "{} ran more than once", r.name);
        // One test face, IN+bicubic: one row, exactly once.
        assert_eq!(store.metric_count(&r.key).expect("count"), 1, "{}", r.name);
        let stages = store.stages(&r.key).expect("stages");
        let s1 = stages.iter().find(|s| s.stage == "stage1").expect("stage1");
        stage1_trained += usize::from(!s1.reused);
    }
    assert_eq!(
        stage1_trained, 1,
        "stage 1 is trained once and reused by every other run"
    );
    assert_eq!(per_worker.iter().sum::<usize>(), RUNS, "{per_worker:?}");
    let (ok, out, _) = ofhnet_in(dir, &["status", "many", "--db", db]);
    assert!(
        ok && out.contains(&format!("{RUNS} runs: {RUNS} done")),
        "{out}"
    );
    assert!(out.contains("1 stage-1 trainings"), "{out}");
    eprintln!(
        "4 workers x {RUNS} runs on {backend}: {:.1} s wall (runs per worker: {per_worker:?})",
        wall.as_secs_f64()
    );
}

#[test]
fn four_workers_share_one_sqlite_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    check_four_workers(
        &tmp.path().join("store.sqlite").display().to_string(),
        "SQLite",
    );
}

#[test]
fn four_workers_share_one_postgres_store() {
    match postgres_db() {
        Some(db) => check_four_workers(&db, "PostgreSQL"),
        None => skip_without_postgres(),
    }
}

/// The last stage-2 checkpoint step of the (one) stage-2 model under an experiment's shared
/// directory.
pub(crate) fn stage2_step(shared: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(shared) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("stage2-"))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stage2/checkpoint/state.json")).ok())
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter_map(|v| v["step"].as_u64())
        .max()
        .unwrap_or(0) as usize
}

#[test]
fn sigkilled_worker_run_is_resumed_by_another_with_one_set_of_metrics() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = dir.join("store.sqlite").display().to_string();
    std::fs::write(dir.join("kill.yaml"), tiny_experiment("kill", 1, 400)).expect("write");
    let flags = [
        "--db",
        db.as_str(),
        "--heartbeat",
        "0.3",
        "--stale-after",
        "2",
    ];
    let (ok, _, err) = ofhnet_in(dir, &["enqueue", "kill.yaml", "--db", &db]);
    assert!(ok, "{err}");
    let store = Store::open(&db).expect("open");
    let shared: PathBuf = dir.join("results/kill/shared");

    let mut first = ofhnet()
        .current_dir(dir)
        .arg("worker")
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while stage2_step(&shared) < 20 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "stage 2 never checkpointed"
        );
        if let Ok(Some(status)) = first.try_wait() {
            panic!("the worker exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    let killed_at = stage2_step(&shared);
    assert_eq!(
        store.runs(Some("kill"), Versions::Current).expect("runs")[0].status,
        "running"
    );

    // The next worker finds the run stale, requeues it and resumes its checkpoints.
    let (ok, _, err) = ofhnet_in(dir, &[&["worker"][..], &flags[..]].concat());
    assert!(ok, "{err}");
    // Same host: the worker sees the killed worker's process is gone (on another host, the
    // heartbeat going stale does it; store_lifecycle tests that path).
    assert!(err.contains("its worker on this host is gone"), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("stage 2:"))
        .unwrap_or_else(|| panic!("no stage-2 line:\n{err}"));
    let this_attempt: usize = line
        .split("stage 2: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unreadable: {line}"));
    assert!(
        this_attempt <= 400 - killed_at + 5 && this_attempt < 400,
        "resumed near step {killed_at}, not from scratch: {line}"
    );
    let run = store
        .runs(Some("kill"), Versions::Current)
        .expect("runs")
        .remove(0);
    assert_eq!((run.status.as_str(), run.attempts), ("done", 2));
    assert_eq!(store.metric_count(&run.key).expect("count"), 6);
    assert_eq!(
        store.evaluated(&run.key).expect("evaluated"),
        vec!["random"]
    );
    // The training curve has each (step, term) once.
    let curve = store
        .query_strings(&format!(
            "SELECT COUNT(*) FROM curves WHERE run_key = '{}' AND stage = 'stage2' AND term = 'l2'",
            run.key
        ))
        .expect("curve");
    assert_eq!(curve, vec!["400"]);
}

/// `ofhnet retry EXPERIMENT FLAG`, which must put one run back in the queue, then `ofhnet run
/// FILE`, which must finish the experiment's two runs.
fn retry_one_and_finish(dir: &Path, experiment: &str, flag: &str, file: &str, db: &str) {
    let (ok, out, err) = ofhnet_in(dir, &["retry", experiment, flag, "--db", db]);
    let what = flag.trim_start_matches("--");
    assert!(
        ok && out.contains(&format!("1 {what} runs back in the queue")),
        "{out}{err}"
    );
    let (ok, out, err) = ofhnet_in(dir, &["run", file, "--db", db]);
    assert!(ok, "{err}");
    assert!(out.contains("2 runs: 2 done"), "{out}");
}

#[test]
fn a_failed_run_does_not_stop_the_sweep_and_retry_runs_it_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = dir.join("store.sqlite").display().to_string();
    // The second run names a landmark network that does not exist (yet): it fails.
    let yaml = "name: fails\n\
        data:\n\
        \x20 prepared: data\n\
        \x20 source: {synth: {count: 200, seed: 4}}\n\
        method: {type: ofhnet, preset: tiny}\n\
        stages:\n\
        \x20 stage1: {steps: 2, batch_size: 4}\n\
        \x20 stage2: {steps: 2, batch_size: 2}\n\
        evaluation: {protocols: [random, size:4], limit: 2}\n\
        sweep:\n\
        \x20 grid:\n\
        \x20   losses.semantic: [null, {weight: 1.0, network: lm}]\n";
    std::fs::write(dir.join("fails.yaml"), yaml).expect("write");
    let (ok, out, err) = ofhnet_in(dir, &["run", "fails.yaml", "--db", &db]);
    assert!(!ok, "a failed run makes `run` exit non-zero");
    assert!(err.contains("1 of 2 runs failed"), "{err}");
    assert!(out.contains("1 done") && out.contains("1 failed"), "{out}");
    assert!(
        out.contains("losses.semantic.network"),
        "the error is shown: {out}"
    );
    let store = Store::open(&db).expect("open");
    let runs: HashMap<String, _> = store
        .runs(Some("fails"), Versions::Current)
        .expect("runs")
        .into_iter()
        .map(|r| (r.status.to_string(), r))
        .collect();
    assert_eq!(store.metric_count(&runs["done"].key).expect("count"), 8);
    assert!(runs["failed"].error.as_deref().unwrap_or("").contains("lm"));

    // Fix the cause (train the network), retry the failed run, and finish the sweep.
    let (ok, _, err) = ofhnet_in(
        dir,
        &[
            "landmarks",
            "train",
            "--data",
            "data",
            "--out",
            "lm",
            "--role",
            "loss",
            "--steps",
            "2",
        ],
    );
    assert!(ok, "{err}");
    retry_one_and_finish(dir, "fails", "--failed", "fails.yaml", &db);
    let fixed = store.find_run(&runs["failed"].key).expect("run");
    assert_eq!((fixed.status.as_str(), fixed.attempts), ("done", 2));

    // Running it again does nothing new.
    let (ok, _, err) = ofhnet_in(dir, &["run", "fails.yaml", "--db", &db]);
    assert!(ok, "{err}");
    assert!(
        err.contains("(0 new, version 1)") && err.contains("0 done, 0 failed"),
        "{err}"
    );
    for r in store.runs(Some("fails"), Versions::Current).expect("runs") {
        assert!(r.attempts <= 2);
    }
    let (ok, out, _) = ofhnet_in(
        dir,
        &["show", &format!("fails/{}", fixed.name), "--db", &db],
    );
    assert!(
        ok && out.contains("stage2") && out.contains("size:4"),
        "{out}"
    );
}

/// `ofhnet enqueue ok.yaml --dry-run` with each of `sets` as a `--set`.
fn dry_run_with(dir: &Path, sets: &[&str]) -> (bool, String, String) {
    let mut args = vec!["enqueue", "ok.yaml", "--dry-run"];
    for s in sets {
        args.extend(["--set", s]);
    }
    ofhnet_in(dir, &args)
}

#[test]
fn enqueue_dry_run_prints_runs_and_bad_files_name_the_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("ok.yaml"), tiny_experiment("dry", 3, 1)).expect("write");
    let (ok, out, err) = ofhnet_in(
        dir,
        &["enqueue", "ok.yaml", "--dry-run", "--db", "x.sqlite"],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("dry: 3 runs"), "{out}");
    assert!(out.contains("lr=0.0012,seed=0"), "{out}");
    assert!(!dir.join("x.sqlite").exists(), "a dry run touches no store");
    // A sweep axis is a dotted path of its own, and `--set` can name it.
    let (ok, out, err) = dry_run_with(dir, &["sweep.grid.losses.adversarial.weight=[0.0, 0.01]"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("dry: 6 runs"), "{out}");
    assert!(out.contains("adversarial.weight=0.01"), "{out}");

    let bad = tiny_experiment("dry", 3, 1).replace("seeds: [0]", "seedz: [0]");
    std::fs::write(dir.join("bad.yaml"), bad).expect("write");
    let (ok, _, err) = ofhnet_in(dir, &["enqueue", "bad.yaml", "--db", "x.sqlite"]);
    assert!(!ok);
    assert!(err.contains("bad.yaml:9:"), "{err}");
    assert!(err.contains("seedz") && err.contains("seeds"), "{err}");

    let (ok, out, err) = dry_run_with(dir, &["stages.stage2.steps=7", "name=dry2"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("dry2: 3 runs"), "{out}");
    let (ok, _, err) = dry_run_with(dir, &["stages.stage2.stepz=7"]);
    assert!(!ok && err.contains("stepz"), "{err}");

    // An overrides file applies first, --set after it; its typos and shape errors name it.
    std::fs::write(
        dir.join("scale.yaml"),
        "stages.stage2.steps: 9\nname: dry3\n",
    )
    .expect("write");
    let (ok, out, err) = ofhnet_in(
        dir,
        &[
            "enqueue",
            "ok.yaml",
            "--dry-run",
            "--overrides",
            "scale.yaml",
            "--set",
            "name=dry4",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("dry4: 3 runs"), "{out}");
    std::fs::write(dir.join("typo.yaml"), "stages.stage2.stepz: 9\n").expect("write");
    let (ok, _, err) = ofhnet_in(
        dir,
        &[
            "enqueue",
            "ok.yaml",
            "--dry-run",
            "--overrides",
            "typo.yaml",
        ],
    );
    assert!(
        !ok && err.contains("stepz") && err.contains("typo.yaml"),
        "{err}"
    );
    std::fs::write(dir.join("list.yaml"), "- a\n- b\n").expect("write");
    let (ok, _, err) = ofhnet_in(
        dir,
        &[
            "enqueue",
            "ok.yaml",
            "--dry-run",
            "--overrides",
            "list.yaml",
        ],
    );
    assert!(
        !ok && err.contains("list.yaml: expected a mapping"),
        "{err}"
    );

    // A field inside swept values is set in every one of them (one file, every scale).
    let methods = "name: m\ndata: {prepared: /x}\nsweep:\n  grid:\n    method: \
                   [{type: in_vdsr, preset: tiny}, {type: ofhnet, preset: tiny}]\n";
    std::fs::write(dir.join("m.yaml"), methods).expect("write");
    let (ok, out, err) = ofhnet_in(
        dir,
        &[
            "enqueue",
            "m.yaml",
            "--dry-run",
            "--set",
            "method.preset=cpu",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("method=in_vdsr+preset=cpu") && out.contains("method=ofhnet+preset=cpu"),
        "{out}"
    );
    assert!(!out.contains("preset=tiny"), "{out}");

    // A job array of workers for a cluster.
    let (ok, out, err) = ofhnet_in(
        dir,
        &[
            "slurm",
            "ok.yaml",
            "--workers",
            "3",
            "--db",
            "postgres://u@h/db",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("#SBATCH --array=1-3"), "{out}");
    assert!(
        out.contains("enqueue 'ok.yaml'") && out.contains("worker --experiment 'dry'"),
        "{out}"
    );
    assert!(out.contains("OFHNET_DB='postgres://u@h/db'"), "{out}");
}

/// The median pruning rule of a sweep: a hopeless run (learning rate 1.0) is stopped at its
/// first validation against the finished run's curve, marked `pruned` with its partial curve
/// kept, and `retry --pruned` runs it to the end. Then `hallucinate --model` takes runs of the
/// store, a learned one (its kept checkpoint) and IN+bicubic.
#[test]
fn a_hopeless_run_is_pruned_and_retry_pruned_runs_it_to_the_end() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = dir.join("store.sqlite").display().to_string();
    let yaml = format!(
        "name: prune\n\
         data: {{prepared: '{}'}}\n\
         method: {{type: ofhnet, preset: tiny}}\n\
         losses: {{inpaint_l2: {{weight: 1.0}}, l2: {{weight: 1.0}}}}\n\
         stages:\n\
         \x20 stage1: {{steps: 2, batch_size: 4}}\n\
         \x20 stage2: {{steps: 4, batch_size: 2, checkpoint_every: 2, log_every: 1,\n\
         \x20          validation: {{every: 1, faces: 3, keep: best}}}}\n\
         evaluation: {{protocols: [random], limit: 2, batch_size: 2}}\n\
         prune: {{startup_runs: 1}}\n\
         sweep:\n\
         \x20 grid: {{stages.stage2.lr: [0.003, 1.0]}}\n",
        synthetic_dataset().display()
    );
    std::fs::write(dir.join("prune.yaml"), yaml).expect("write");
    let (ok, out, err) = ofhnet_in(dir, &["run", "prune.yaml", "--db", &db]);
    assert!(ok, "a pruned run is not a failure: {err}");
    assert!(out.contains("1 done") && out.contains("1 pruned"), "{out}");
    assert!(err.contains("retry prune --pruned"), "{err}");
    let store = Store::open(&db).expect("open");
    let runs = store.runs(Some("prune"), Versions::Current).expect("runs");
    let pruned = runs
        .iter()
        .find(|r| r.status == "pruned")
        .expect("a pruned run");
    assert!(pruned.name.contains("lr=1.0"), "{}", pruned.name);
    assert!(
        pruned.error.as_deref().unwrap_or("").contains("median"),
        "{:?}",
        pruned.error
    );
    let val_steps = || -> Vec<i64> {
        store
            .curves(&pruned.key)
            .expect("curves")
            .into_iter()
            .filter(|c| c.2 == "val_psnr")
            .map(|c| c.1)
            .collect()
    };
    assert_eq!(val_steps(), vec![1], "its partial validation curve stays");
    let (ok, out, _) = ofhnet_in(dir, &["status", "prune", "--db", &db]);
    assert!(ok && out.contains("pruned"), "{out}");

    retry_one_and_finish(dir, "prune", "--pruned", "prune.yaml", &db);
    let finished = store.find_run(&pruned.key).expect("run");
    assert_eq!(finished.status, "done");
    assert_eq!(
        val_steps(),
        vec![1, 2, 3, 4],
        "resumed and trained to the end"
    );
    let (ok, out, _) = ofhnet_in(dir, &["show", &pruned.key, "--db", &db]);
    assert!(ok && out.contains("kept: best (step"), "{out}");

    // A user's face through runs of the store.
    let face = image::RgbImage::from_fn(16, 16, |x, y| {
        image::Rgb([(x * 15) as u8, (y * 15) as u8, 90])
    });
    face.save(dir.join("face.png")).expect("save face");
    let (ok, out, err) = ofhnet_in(
        dir,
        &[
            "hallucinate",
            "--model",
            &format!("prune/{}", finished.name),
            "--input",
            "face.png",
            "--out",
            "ofhnet.png",
            "--db",
            &db,
        ],
    );
    assert!(ok, "{out}{err}");
    assert_eq!(
        image::open(dir.join("ofhnet.png")).expect("out").width(),
        128
    );
    std::fs::write(
        dir.join("bicubic.yaml"),
        tiny_bicubic_experiment("bicubic", 1),
    )
    .expect("write");
    let (ok, _, err) = ofhnet_in(dir, &["run", "bicubic.yaml", "--db", &db]);
    assert!(ok, "{err}");
    let run = &store
        .runs(Some("bicubic"), Versions::Current)
        .expect("runs")[0];
    let (ok, out, err) = ofhnet_in(
        dir,
        &[
            "hallucinate",
            "--model",
            &run.key[..8],
            "--input",
            "face.png",
            "--out",
            "bicubic.png",
            "--grid",
            "--db",
            &db,
        ],
    );
    assert!(ok && out.contains("in_bicubic"), "{out}{err}");
    // IN+bicubic behind the run's InpaintNet: the face upscaled with PROTOCOL's bicubic (no
    // hole in this face, and composite keeps every known pixel).
    let got = image::open(dir.join("bicubic.png"))
        .expect("out")
        .into_rgb8();
    let want = ofhnet::data::resize::upscale(&face, 128, -0.5);
    assert_eq!(got, want);
    let (ok, _, err) = ofhnet_in(
        dir,
        &[
            "hallucinate",
            "--model",
            "prune/no-such-run",
            "--input",
            "face.png",
            "--out",
            "x.png",
            "--db",
            &db,
        ],
    );
    assert!(!ok && err.contains("no-such-run"), "{err}");
}

/// `ofhnet status EXP | head -1` ends quietly when `head` goes away (it panicked on the closed
/// pipe): a listing longer than a pipe's buffer, read for one line.
#[test]
fn a_listing_ends_quietly_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = dir.join("s.sqlite").display().to_string();
    let lrs: Vec<String> = (0..1500)
        .map(|i| format!("{}", 0.001 + i as f64 * 1e-6))
        .collect();
    let yaml = format!(
        "name: big\ndata: {{prepared: '{}'}}\nmethod: {{type: in_bicubic, preset: tiny}}\n\
         sweep:\n  grid: {{stages.stage2.lr: [{}]}}\n",
        synthetic_dataset().display(),
        lrs.join(", ")
    );
    std::fs::write(dir.join("big.yaml"), yaml).expect("write");
    let (ok, _, err) = ofhnet_in(dir, &["enqueue", "big.yaml", "--db", &db]);
    assert!(ok, "{err}");
    let mut child = ofhnet()
        .current_dir(dir)
        .args(["status", "big", "--db", &db])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    // The reader is gone (stdout dropped above); the listing has 1,500 more lines (150 kB) to write.
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.contains("1500 runs"), "{first}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
