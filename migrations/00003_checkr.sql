-- +goose Up

-- A Checkr account a tenant connected with OAuth (Checkr's "integrated account"). One tenant per
-- account: the account's webhooks and checks must belong to exactly one tenant.
CREATE TABLE checkr_accounts (
    id                       text PRIMARY KEY,
    tenant_id                uuid NOT NULL REFERENCES tenants (id),
    -- Sealed with the vault, bound to id. NULL after a deauthorization: the token no longer works.
    access_token_sealed      bytea,
    -- Hex SHA-256 of the token: token.deauthorized names the token, not the account, and this finds
    -- the account without keeping the token in clear. Kept after deauthorization, so that a
    -- redelivered token.deauthorized still finds its account.
    access_token_fingerprint text UNIQUE,
    status                   text NOT NULL
        CHECK (status IN ('awaiting_credentialing', 'credentialed', 'deauthorized')),
    credentialed_at          timestamptz,
    deauthorized_at          timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);

-- Accounts Checkr told us are credentialed. account.credentialed can arrive before the tenant's
-- token exchange has stored the account, so the fact is kept here rather than lost, and applied
-- when the account is connected.
CREATE TABLE checkr_credentialed_accounts (
    account_id      text PRIMARY KEY,
    credentialed_at timestamptz NOT NULL
);

-- OAuth state values handed out when a tenant starts connecting a Checkr account. Only a hash is
-- stored: a database leak must not let anyone finish another tenant's connection.
CREATE TABLE checkr_oauth_states (
    state_hash bytea PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A Checkr check waits in awaiting_credentialing until its account may order.
ALTER TABLE checks DROP CONSTRAINT checks_status_check;
ALTER TABLE checks ADD CONSTRAINT checks_status_check
    CHECK (status IN ('pending', 'awaiting_credentialing', 'in_progress', 'completed', 'failed', 'canceled'));

-- NULL: the check uses screenflow's own Checkr account (CHECKR_API_KEY).
ALTER TABLE checks ADD COLUMN checkr_account_id text REFERENCES checkr_accounts (id);
-- Where the candidate fills in Checkr's invitation; the HR platform passes it on.
ALTER TABLE checks ADD COLUMN invitation_url text;

-- +goose Down
ALTER TABLE checks DROP COLUMN invitation_url;
ALTER TABLE checks DROP COLUMN checkr_account_id;
-- The narrower constraint cannot be added back while a check is in the status it lacks.
UPDATE checks SET status = 'pending' WHERE status = 'awaiting_credentialing';
ALTER TABLE checks DROP CONSTRAINT checks_status_check;
ALTER TABLE checks ADD CONSTRAINT checks_status_check
    CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'canceled'));
DROP TABLE checkr_oauth_states;
DROP TABLE checkr_credentialed_accounts;
DROP TABLE checkr_accounts;
