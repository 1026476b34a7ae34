-- +goose Up
-- Candidate PII and documents are sealed with the vault (AES-256-GCM) from this release on. A
-- sealed candidate keeps all its PII in pii_sealed, and its plaintext columns are empty. Rows
-- written before this release stay in the clear (pii_sealed IS NULL) until `screenflow keys
-- rotate` seals them; both kinds are read.
ALTER TABLE candidates
    ADD COLUMN pii_sealed bytea,
    -- HMAC-SHA256 of the tenant and the reference under an index key derived from the key that
    -- sealed pii_sealed: finds a candidate by the HR platform's reference without storing it.
    ADD COLUMN reference_index bytea,
    ALTER COLUMN dob DROP NOT NULL;

-- NOT VALID: no row written before this release is sealed, so none can break it, and adding it
-- needs no scan of the table. Postgres still checks every row inserted or updated from now on.
ALTER TABLE candidates ADD CONSTRAINT candidates_sealed_rows_hold_no_plaintext CHECK (
    pii_sealed IS NULL
    OR (reference = '' AND first_name = '' AND last_name = '' AND email = '' AND dob IS NULL
        AND address_line1 = '' AND address_line2 = '' AND city = '' AND state = ''
        AND postal_code = '' AND country = '' AND reference_index IS NOT NULL)) NOT VALID;

CREATE INDEX candidates_by_reference_index ON candidates (tenant_id, reference_index)
    WHERE reference_index IS NOT NULL;
-- The references of rows still in the clear, until rotation seals them.
CREATE INDEX candidates_by_reference ON candidates (tenant_id, reference)
    WHERE pii_sealed IS NULL;

-- Whether content holds the vault-sealed bytes; size_bytes and sha256 stay those of the plaintext.
ALTER TABLE documents ADD COLUMN content_sealed boolean NOT NULL DEFAULT false;

-- +goose Down
-- Refuses, instead of losing data, while any candidate or document is sealed: SET NOT NULL fails on
-- a sealed candidate's empty date of birth, and the CHECK fails on a sealed document.
ALTER TABLE candidates ALTER COLUMN dob SET NOT NULL;
ALTER TABLE documents ADD CONSTRAINT documents_in_the_clear CHECK (NOT content_sealed);
ALTER TABLE documents DROP CONSTRAINT documents_in_the_clear, DROP COLUMN content_sealed;
DROP INDEX candidates_by_reference;
DROP INDEX candidates_by_reference_index;
ALTER TABLE candidates DROP CONSTRAINT candidates_sealed_rows_hold_no_plaintext,
    DROP COLUMN reference_index,
    DROP COLUMN pii_sealed;
