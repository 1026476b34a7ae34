-- +goose Up
-- DELETE /v1/candidates/{reference} erases a candidate: its PII goes, the row and its ids stay so
-- that screenings, checks and the audit log still name what was erased, and when.
ALTER TABLE candidates ADD COLUMN erased_at timestamptz;

-- An erased candidate holds no PII, sealed, indexed or in the clear. NOT VALID: no row is erased
-- before this release, so none can break it, and adding it needs no scan of the table; Postgres
-- still checks every row inserted or updated from now on.
ALTER TABLE candidates ADD CONSTRAINT candidates_erased_rows_hold_no_pii CHECK (
    erased_at IS NULL
    OR (pii_sealed IS NULL AND reference_index IS NULL
        AND reference = '' AND first_name = '' AND last_name = '' AND email = '' AND dob IS NULL
        AND address_line1 = '' AND address_line2 = '' AND city = '' AND state = ''
        AND postal_code = '' AND country = '')) NOT VALID;

-- The HR API shows a screening of an erased candidate as erased, from the screenings row it reads
-- anyway.
ALTER TABLE screenings ADD COLUMN erased_at timestamptz;

-- The erasure is audited with the candidate's id, never its data.
ALTER TABLE audit_events ADD COLUMN candidate_id uuid;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check
    CHECK (action IN ('screening.read', 'document.downloaded', 'candidate.erased'));
ALTER TABLE audit_events ADD CONSTRAINT audit_events_erasure_names_its_candidate
    CHECK ((action = 'candidate.erased') = (candidate_id IS NOT NULL));

-- +goose Down
-- Refuses, instead of losing the record of an erasure, while any is in the audit log: the
-- narrower CHECK fails on it.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_erasure_names_its_candidate;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check
    CHECK (action IN ('screening.read', 'document.downloaded'));
ALTER TABLE audit_events DROP COLUMN candidate_id;
ALTER TABLE screenings DROP COLUMN erased_at;
ALTER TABLE candidates DROP CONSTRAINT candidates_erased_rows_hold_no_pii, DROP COLUMN erased_at;
