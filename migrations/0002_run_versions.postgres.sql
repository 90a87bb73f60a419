-- Run identity (PostgreSQL): a run is its key, and an experiment's definition has versions.
-- The same schema as 0002_run_versions.sqlite.sql, which has to rebuild `runs` instead.

ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_experiment_name_key;
ALTER TABLE runs ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN last_version BIGINT NOT NULL DEFAULT 1;
CREATE INDEX runs_experiment ON runs (experiment, last_version);

ALTER TABLE experiments ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

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
