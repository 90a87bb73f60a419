-- The identity (the person) of each scored face, from the evaluated split (CelebA's
-- identity_CelebA.txt; a synthetic face's generated identity), so that a report can resample
-- identities instead of faces (`ofhnet report --resample identity`): the faces of one person are
-- not independent. NULL for rows written before this migration and for faces without one.
-- One SQL for SQLite and PostgreSQL.
ALTER TABLE metrics ADD COLUMN identity BIGINT;
