-- The Slurm job and array task whose worker last claimed a run (NULL outside Slurm), so that a
-- run can be traced to its job's log (one SQL for SQLite and PostgreSQL).
ALTER TABLE runs ADD COLUMN slurm_job TEXT;
ALTER TABLE runs ADD COLUMN slurm_task TEXT;
