//! `ofhnet slurm --submit` on a real one-node Slurm cluster (scripts/slurm-test-cluster.sh, which
//! .ci/run starts and names in `SLURM_CONF`) with a PostgreSQL run store: every run finishes
//! through the job array exactly once, a cancelled array task's run is finished by another task
//! without duplicate rows, and submitting again after everything is done changes nothing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ofhnet::harness::store::{RunRow, RunStatus, Store, Versions};

use crate::common::synthetic_dataset;
use crate::queue::{ofhnet_in, postgres_db, skip_without_postgres};

/// The cluster and a fresh PostgreSQL database, or `None` (skip) when either is missing;
/// with `OFHNET_REQUIRE_SLURM` set (CI), a missing one fails.
fn cluster_and_store() -> Option<String> {
    let required = std::env::var_os("OFHNET_REQUIRE_SLURM").is_some();
    let up = std::env::var_os("SLURM_CONF").is_some()
        && Command::new("sinfo")
            .args(["-h", "-o", "%T"])
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !up {
        assert!(
            !required,
            "OFHNET_REQUIRE_SLURM is set but no cluster answers (SLURM_CONF)"
        );
        eprintln!("skipped: no Slurm cluster (scripts/slurm-test-cluster.sh start DIR)");
        return None;
    }
    let db = postgres_db();
    if db.is_none() {
        assert!(!required, "OFHNET_REQUIRE_SLURM is set but no PostgreSQL");
        skip_without_postgres();
    }
    db
}

/// Runs of tiny OFHNet trainings (one shared stage 1, `steps` stage-2 steps each).
fn experiment(dir: &Path, name: &str, runs: usize, steps: usize) {
    let lrs: Vec<String> = (0..runs)
        .map(|i| format!("{:.5}", 0.001 + 0.0001 * i as f64))
        .collect();
    let yaml = format!(
        "name: {name}\n\
         data: {{prepared: '{}'}}\n\
         method: {{type: ofhnet, preset: tiny}}\n\
         losses: {{inpaint_l2: {{weight: 1.0}}, l2: {{weight: 1.0}}}}\n\
         stages:\n\
         \x20 stage1: {{steps: 2, batch_size: 4, checkpoint_every: 1}}\n\
         \x20 stage2: {{steps: {steps}, batch_size: 2, checkpoint_every: 50, log_every: 10}}\n\
         evaluation: {{protocols: [random], limit: 3, batch_size: 3}}\n\
         sweep:\n\
         \x20 grid: {{stages.stage2.lr: [{}]}}\n",
        synthetic_dataset().display(),
        lrs.join(", ")
    );
    std::fs::write(dir.join(format!("{name}.yaml")), yaml).expect("write");
}

/// `ofhnet slurm NAME.yaml --submit`: the job id.
fn submit(dir: &Path, name: &str, db: &str, workers: usize) -> String {
    let (ok, out, err) = ofhnet_in(
        dir,
        &[
            "--device",
            "cpu",
            "slurm",
            &format!("{name}.yaml"),
            "--workers",
            &workers.to_string(),
            "--time",
            "10:00",
            "--bin",
            env!("CARGO_BIN_EXE_ofhnet"),
            "--db",
            db,
            "--submit",
        ],
    );
    assert!(ok, "{err}");
    let job = out.trim().to_string();
    assert!(job.parse::<u64>().is_ok(), "job id {out:?} ({err})");
    job
}

/// Waits until the job has left the queue.
fn wait_for(job: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-j", job])
            .output()
            .expect("squeue");
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return;
        }
        assert!(start.elapsed() < limit, "job {job} still queued or running");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn runs(db: &str, name: &str) -> Vec<RunRow> {
    Store::open(db)
        .expect("open")
        .runs(Some(name), Versions::Current)
        .expect("runs")
}

/// Each run's number of metric rows.
fn row_counts(store: &Store, runs: &[RunRow]) -> Vec<i64> {
    runs.iter()
        .map(|r| store.metric_count(&r.key).expect("count"))
        .collect()
}

fn logs(dir: &Path, job: &str) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        if n.starts_with(&format!("ofhnet-{job}_")) {
            text += &format!(
                "== {n}\n{}\n",
                std::fs::read_to_string(e.path()).unwrap_or_default()
            );
        }
    }
    text
}

#[test]
fn a_job_array_finishes_every_run_once_and_a_resubmission_adds_nothing() {
    let Some(db) = cluster_and_store() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    experiment(dir, "slurm_all", 4, 4);
    let job = submit(dir, "slurm_all", &db, 2);
    wait_for(&job, Duration::from_secs(600));
    let done = runs(&db, "slurm_all");
    assert_eq!(done.len(), 4);
    let store = Store::open(&db).expect("open");
    for r in &done {
        assert_eq!(r.status, RunStatus::Done, "{}\n{}", r.name, logs(dir, &job));
        assert_eq!(r.attempts, 1, "{}", r.name);
        assert_eq!(r.slurm_job.as_deref(), Some(job.as_str()), "{}", r.name);
        assert!(matches!(r.slurm_task.as_deref(), Some("1" | "2")), "{r:?}");
    }
    let rows = row_counts(&store, &done);
    assert!(rows.iter().all(|&n| n > 0 && n == rows[0]), "{rows:?}");
    let (ok, status, _) = ofhnet_in(dir, &["status", "slurm_all", "--db", &db]);
    assert!(
        ok && (status.contains(&format!("{job}_1")) || status.contains(&format!("{job}_2"))),
        "{status}"
    );
    eprintln!("{status}");

    // The same script again: the tasks enqueue nothing new and find nothing to do.
    let again = submit(dir, "slurm_all", &db, 2);
    wait_for(&again, Duration::from_secs(120));
    let after = runs(&db, "slurm_all");
    for (a, b) in done.iter().zip(&after) {
        assert_eq!(
            (a.key.as_str(), a.attempts, &a.slurm_job),
            (b.key.as_str(), b.attempts, &b.slurm_job)
        );
    }
    let rows_after = row_counts(&store, &after);
    assert_eq!(rows, rows_after);
}

#[test]
fn a_cancelled_array_task_puts_its_run_back_and_another_task_finishes_it() {
    let Some(db) = cluster_and_store() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // Long enough stage 2s that task 1 is cancelled mid-training while task 2 still works.
    experiment(dir, "slurm_cancel", 3, 40);
    let job = submit(dir, "slurm_cancel", &db, 2);
    let start = Instant::now();
    let victim = loop {
        let running = runs(&db, "slurm_cancel")
            .into_iter()
            .find(|r| r.status == RunStatus::Running && r.slurm_task.as_deref() == Some("1"));
        if let Some(r) = running {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "task 1 never claimed a run:\n{}",
            logs(dir, &job)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // Into its training: 40 stage-2 steps of the tiny preset take 8 s on 2 idle cores (16 s
    // beside another training), stage 1 two steps.
    std::thread::sleep(Duration::from_millis(1500));
    let cancel = Command::new("scancel")
        .arg(format!("{job}_1"))
        .status()
        .expect("scancel");
    assert!(cancel.success());
    wait_for(&job, Duration::from_secs(900));
    let store = Store::open(&db).expect("open");
    let done = runs(&db, "slurm_cancel");
    for r in &done {
        assert_eq!(r.status, RunStatus::Done, "{}\n{}", r.name, logs(dir, &job));
    }
    let again = done.iter().find(|r| r.key == victim.key).expect("victim");
    assert_eq!(
        again.attempts,
        2,
        "the run was not cancelled mid-training (finished first?): {again:?}\n{}",
        logs(dir, &job)
    );
    assert_eq!(again.slurm_task.as_deref(), Some("2"), "{again:?}");
    let rows = row_counts(&store, &done);
    assert!(
        rows.iter().all(|&n| n > 0 && n == rows[0]),
        "duplicate rows: {rows:?}"
    );
    assert!(
        logs(dir, &job).contains("back in the queue") || logs(dir, &job).contains("requeue"),
        "{}",
        logs(dir, &job)
    );
}
