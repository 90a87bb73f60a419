-- Training choices (one SQL for SQLite and PostgreSQL): runs that the pruning rule of a sweep
-- stopped, and which checkpoint a stage kept.

-- 1: the pruning rule may stop this run; 0: `ofhnet retry EXP --pruned` asked for it to run
-- to the end. A pruned run has status `pruned` (its checkpoint and curves stay).
ALTER TABLE runs ADD COLUMN prunable BIGINT NOT NULL DEFAULT 1;

-- The step whose weights a stage ended with, and why: `best` (by its validation metric) or
-- `last`. NULL for stages written before this migration or without a generator.
ALTER TABLE stages ADD COLUMN kept_step BIGINT;
ALTER TABLE stages ADD COLUMN kept TEXT;
