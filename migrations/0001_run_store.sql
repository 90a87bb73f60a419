-- The run store (src/harness/store.rs). One schema for SQLite and PostgreSQL: no
-- autoincrement keys, only TEXT, BIGINT and DOUBLE PRECISION columns. Times are Unix seconds.

CREATE TABLE experiments (
    name        TEXT PRIMARY KEY,
    file        TEXT NOT NULL,              -- the YAML file it was last enqueued from
    spec        TEXT NOT NULL,              -- the parsed experiment, as JSON
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE runs (
    key            TEXT PRIMARY KEY,        -- hash of the canonical resolved config
    experiment     TEXT NOT NULL REFERENCES experiments (name),
    name           TEXT NOT NULL,           -- readable, from the swept values
    ordinal        BIGINT NOT NULL,         -- position in the expansion
    seed           BIGINT NOT NULL,
    swept          TEXT NOT NULL,           -- JSON object: dotted path -> value
    config         TEXT NOT NULL,           -- the run's full experiment, as JSON
    status         TEXT NOT NULL,           -- queued | running | done | failed
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
    artifacts      TEXT,                    -- results/<experiment>/<run-name>/
    error          TEXT,
    UNIQUE (experiment, name)
);
CREATE INDEX runs_queue ON runs (status, enqueued_at, ordinal);

-- Models shared between runs: a stage-1 InpaintNet, a landmark network. One run trains it (the
-- owner); every other run with the same key waits for it and reuses it.
CREATE TABLE shared (
    key          TEXT PRIMARY KEY,          -- kind + hash of everything that determines the model
    kind         TEXT NOT NULL,             -- stage1 | landmarks
    path         TEXT NOT NULL,
    status       TEXT NOT NULL,             -- training | done
    owner        TEXT NOT NULL,             -- key of the run that trains (trained) it
    created_at   DOUBLE PRECISION NOT NULL,
    finished_at  DOUBLE PRECISION
);

CREATE TABLE stages (
    run_key       TEXT NOT NULL REFERENCES runs (key),
    stage         TEXT NOT NULL,            -- stage1 | stage2
    status        TEXT NOT NULL,            -- running | done
    shared_key    TEXT,                     -- for stage 1: the shared InpaintNet
    reused        BIGINT NOT NULL DEFAULT 0,-- 1 when another run trained it
    checkpoint    TEXT,                     -- the weights file
    steps         BIGINT,
    images_per_s  DOUBLE PRECISION,
    seconds       DOUBLE PRECISION,
    updated_at    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_key, stage)
);

CREATE TABLE curves (
    run_key  TEXT NOT NULL,
    stage    TEXT NOT NULL,
    step     BIGINT NOT NULL,
    term     TEXT NOT NULL,
    value    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_key, stage, step, term)
);

-- One row per finished (run, protocol), written in the same transaction as its metric rows.
CREATE TABLE evaluations (
    run_key      TEXT NOT NULL REFERENCES runs (key),
    protocol     TEXT NOT NULL,
    images       BIGINT NOT NULL,
    seconds      DOUBLE PRECISION NOT NULL,
    finished_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_key, protocol)
);

CREATE TABLE metrics (
    run_key     TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    method      TEXT NOT NULL,              -- the run's method, and in_bicubic behind its InpaintNet
    image       BIGINT NOT NULL,            -- index in the evaluated split
    image_name  TEXT NOT NULL,
    psnr        DOUBLE PRECISION NOT NULL,
    ssim        DOUBLE PRECISION NOT NULL,
    psnr_y      DOUBLE PRECISION NOT NULL,
    ssim_y      DOUBLE PRECISION NOT NULL,
    nrmse       DOUBLE PRECISION,
    iou         DOUBLE PRECISION,
    PRIMARY KEY (run_key, protocol, method, image)
);
