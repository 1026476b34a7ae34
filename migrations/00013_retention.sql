-- +goose NO TRANSACTION
-- +goose Up
-- How long a tenant's candidate data is kept after the candidate's last screening finished, before
-- the scheduled purge erases it. NULL: the deployment's SCREENING_RETENTION. Set with `screenflow
-- tenant set-retention`. A column without a default: no table rewrite.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS screening_retention interval
    CONSTRAINT tenants_screening_retention_positive CHECK (screening_retention > interval '0');

-- The purge asks of each candidate whether a screening of theirs is unfinished or finished
-- recently: screenings by candidate, which no index served before. Built without blocking the
-- screenings being created meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS screenings_by_candidate ON screenings (candidate_id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS screenings_by_candidate;
ALTER TABLE tenants DROP COLUMN IF EXISTS screening_retention;
