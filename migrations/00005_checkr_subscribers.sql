-- +goose Up
-- The check workflows waiting on a Checkr account's state, which its CheckrAccountWorkflow tells
-- them whenever it changes. They are kept here, not in the workflow: its state travels through
-- every continue-as-new and must stay small however many checks an account has.
CREATE TABLE checkr_subscribers (
    account_id    text NOT NULL REFERENCES checkr_accounts (id),
    workflow_id   text NOT NULL,
    subscribed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, workflow_id)
);

-- +goose Down
DROP TABLE checkr_subscribers;
