-- Run identity (SQLite): a run is its key, and an experiment's definition has versions.
-- Runs are no longer unique on (experiment, name): a name repeats across versions. SQLite cannot
-- drop a UNIQUE constraint, so `runs` is rebuilt (the store runs this migration with foreign
-- keys off, as SQLite's ALTER TABLE documentation prescribes, inside one transaction).

CREATE TABLE runs_v2 (
    key            TEXT PRIMARY KEY,
    experiment     TEXT NOT NULL REFERENCES experiments (name),
    name           TEXT NOT NULL,           -- the name it had in the version that added it
    ordinal        BIGINT NOT NULL,
    seed           BIGINT NOT NULL,
    swept          TEXT NOT NULL,
    config         TEXT NOT NULL,
    status         TEXT NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    worker         TEXT,
    host           TEXT,
    device         TEXT,
    git_commit     TEXT,
    git_dirty      BIGINT,
    heartbeat      DOUBLE PRECISION,
    enqueued_at    DOUBLE PRECISION NOT NULL,
    started_at     DOUBLE PRECISION,
    finished_at    DOUBLE PRECISION,
    train_seconds  DOUBLE PRECISION,
    eval_seconds   DOUBLE PRECISION,
    artifacts      TEXT,
    error          TEXT,
    version        BIGINT NOT NULL DEFAULT 1, -- the experiment version that added the run
    last_version   BIGINT NOT NULL DEFAULT 1  -- the latest experiment version that includes it
);
INSERT INTO runs_v2 (key, experiment, name, ordinal, seed, swept, config, status, attempts,
    worker, host, device, git_commit, git_dirty, heartbeat, enqueued_at, started_at,
    finished_at, train_seconds, eval_seconds, artifacts, error, version, last_version)
SELECT key, experiment, name, ordinal, seed, swept, config, status, attempts, worker, host,
    device, git_commit, git_dirty, heartbeat, enqueued_at, started_at, finished_at,
    train_seconds, eval_seconds, artifacts, error, 1, 1
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v2 RENAME TO runs;
CREATE INDEX runs_queue ON runs (status, enqueued_at, ordinal);
CREATE INDEX runs_experiment ON runs (experiment, last_version);

ALTER TABLE experiments ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- Every definition an experiment has had: the file and parsed spec of each version.
CREATE TABLE experiment_versions (
    experiment  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    file        TEXT NOT NULL,
    spec        TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (experiment, version)
);
INSERT INTO experiment_versions (experiment, version, file, spec, created_at)
SELECT name, 1, file, spec, created_at FROM experiments;

-- Which runs make up each version, under which name and in which order.
CREATE TABLE version_runs (
    experiment  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    run_key     TEXT NOT NULL,
    name        TEXT NOT NULL,
    ordinal     BIGINT NOT NULL,
    PRIMARY KEY (experiment, version, run_key)
);
INSERT INTO version_runs (experiment, version, run_key, name, ordinal)
SELECT experiment, 1, key, name, ordinal FROM runs;
