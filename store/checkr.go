package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// CheckrAccountStatus is the state of a Checkr account connected with OAuth.
type CheckrAccountStatus string

// Statuses of a Checkr account connected with OAuth.
const (
	CheckrAwaitingCredentialing CheckrAccountStatus = "awaiting_credentialing"
	CheckrCredentialed          CheckrAccountStatus = "credentialed"
	CheckrDeauthorized          CheckrAccountStatus = "deauthorized"
)

// StatusAwaitingCredentialing is a check status: the check waits for its Checkr account to be
// credentialed before it can order anything. The check shows its account's status while the
// account has it, so the value is the account's.
const StatusAwaitingCredentialing = Status(CheckrAwaitingCredentialing)

// ErrInvalidOAuthState means an OAuth state is unknown, expired or already used. Callers cannot
// tell which, and need not: the tenant starts the connection again in every case.
var ErrInvalidOAuthState = errors.New("invalid oauth state")

// ErrAccountOwnedElsewhere means another tenant already connected the Checkr account.
var ErrAccountOwnedElsewhere = errors.New("checkr account connected by another tenant")

// CheckrAccount is one row of checkr_accounts.
type CheckrAccount struct {
	ID                     string              `db:"id"`
	TenantID               string              `db:"tenant_id"`
	Status                 CheckrAccountStatus `db:"status"`
	AccessTokenSealed      []byte              `db:"access_token_sealed"`
	AccessTokenFingerprint *string             `db:"access_token_fingerprint"`
	CredentialedAt         *time.Time          `db:"credentialed_at"`
	DeauthorizedAt         *time.Time          `db:"deauthorized_at"`
	CreatedAt              time.Time           `db:"created_at"`
	UpdatedAt              time.Time           `db:"updated_at"`
}

const checkrAccountColumns = `id, tenant_id, status, access_token_sealed, access_token_fingerprint,
	credentialed_at, deauthorized_at, created_at, updated_at`

// CreateOAuthState stores a new single-use OAuth state for tenantID, valid for ttl, and returns it.
// Only its hash is stored.
func (s *Store) CreateOAuthState(ctx context.Context, tenantID string, ttl time.Duration) (string, error) {
	secret := make([]byte, 32)
	rand.Read(secret) // never fails: it crashes the program instead
	state := base64.RawURLEncoding.EncodeToString(secret)
	// The database's clock sets the expiry, as it is the clock ConsumeOAuthState compares with.
	_, err := s.db.ExecContext(ctx, `INSERT INTO checkr_oauth_states (state_hash, tenant_id, expires_at)
		VALUES ($1, $2, now() + $3 * interval '1 microsecond')`, hashOAuthState(state), tenantID, ttl.Microseconds())
	if err != nil {
		return "", fmt.Errorf("store: create oauth state: %w", err)
	}
	return state, nil
}

// ConsumeOAuthState uses up state and returns the tenant it was made for. A single statement both
// checks and marks it, so two callbacks racing with the same state cannot both succeed.
func (s *Store) ConsumeOAuthState(ctx context.Context, state string) (string, error) {
	var tenantID string
	err := s.db.GetContext(ctx, &tenantID, `UPDATE checkr_oauth_states SET used_at = now()
		WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now()
		RETURNING tenant_id`, hashOAuthState(state))
	if notFound(err) == ErrNotFound {
		return "", ErrInvalidOAuthState
	}
	if err != nil {
		return "", fmt.Errorf("store: consume oauth state: %w", err)
	}
	return tenantID, nil
}

// hashOAuthState is what is stored instead of the state. The state is 256 random bits, so a plain
// SHA-256 is enough.
func hashOAuthState(state string) []byte {
	sum := sha256.Sum256([]byte(state))
	return sum[:]
}

// lockCheckrAccount serialises the writers of one account's state until tx ends. Without it, a
// connection and an account.credentialed arriving at the same moment could each miss the other's
// uncommitted row, and the account would wait forever for an event already received.
func lockCheckrAccount(ctx context.Context, tx *sqlx.Tx, accountID string) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('checkr_account/' || $1))`, accountID); err != nil {
		return fmt.Errorf("store: lock checkr account: %w", err)
	}
	return nil
}

// ConnectCheckrAccount records a finished OAuth connection, a first one or a reconnection: it stores
// the sealed token and its fingerprint and clears any deauthorization. The account is credentialed
// when account.credentialed was already received for it, else awaiting_credentialing. An account
// connected by another tenant is ErrAccountOwnedElsewhere, unless that tenant disconnected it (or
// Checkr deauthorized it): then it moves to the tenant that connected it now.
func (s *Store) ConnectCheckrAccount(ctx context.Context, tenantID, accountID string, sealedToken []byte, fingerprint string) (CheckrAccount, error) {
	var a CheckrAccount
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockCheckrAccount(ctx, tx, accountID); err != nil {
			return err
		}
		err := tx.GetContext(ctx, &a, `WITH known AS (
				SELECT (SELECT credentialed_at FROM checkr_credentialed_accounts WHERE account_id = $1) AS credentialed_at
			)
			INSERT INTO checkr_accounts (id, tenant_id, access_token_sealed, access_token_fingerprint, status, credentialed_at)
			SELECT $1, $2, $3, $4,
			       CASE WHEN credentialed_at IS NULL THEN 'awaiting_credentialing' ELSE 'credentialed' END,
			       credentialed_at
			FROM known
			ON CONFLICT (id) DO UPDATE
			SET tenant_id = EXCLUDED.tenant_id,
			    access_token_sealed = EXCLUDED.access_token_sealed,
			    access_token_fingerprint = EXCLUDED.access_token_fingerprint,
			    status = EXCLUDED.status, credentialed_at = EXCLUDED.credentialed_at,
			    deauthorized_at = NULL, updated_at = now()
			WHERE checkr_accounts.tenant_id = EXCLUDED.tenant_id OR checkr_accounts.status = 'deauthorized'
			RETURNING `+checkrAccountColumns, accountID, tenantID, sealedToken, fingerprint)
		if notFound(err) == ErrNotFound {
			// The conflict's WHERE refused the update: the row is another tenant's.
			return ErrAccountOwnedElsewhere
		}
		if err != nil {
			return fmt.Errorf("store: connect checkr account: %w", err)
		}
		return nil
	})
	if err != nil {
		return CheckrAccount{}, err
	}
	return a, nil
}

// MarkCheckrCredentialed records account.credentialed. The fact is always kept, so that an event
// arriving before the account is connected is not lost; an existing account that is not
// deauthorized becomes credentialed. Receiving the event again changes nothing. It reports whether
// the account is connected.
func (s *Store) MarkCheckrCredentialed(ctx context.Context, accountID string) (bool, error) {
	var exists bool
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockCheckrAccount(ctx, tx, accountID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkr_credentialed_accounts (account_id, credentialed_at)
			VALUES ($1, now()) ON CONFLICT (account_id) DO NOTHING`, accountID); err != nil {
			return fmt.Errorf("store: record checkr credentialing: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE checkr_accounts
			SET status = 'credentialed', updated_at = now(),
			    credentialed_at = (SELECT credentialed_at FROM checkr_credentialed_accounts WHERE account_id = $1)
			WHERE id = $1 AND status = 'awaiting_credentialing'`, accountID); err != nil {
			return fmt.Errorf("store: mark checkr account credentialed: %w", err)
		}
		if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM checkr_accounts WHERE id = $1)`, accountID); err != nil {
			return fmt.Errorf("store: checkr account exists: %w", err)
		}
		return nil
	})
	return exists, err
}

// MarkCheckrDeauthorized records that the token with this fingerprint was revoked. Only the
// account's current token counts: a late token.deauthorized for a token replaced by a
// reconnection must not cut off the new one. It drops the sealed token, keeps the fingerprint,
// and forgets the account's credentialing, so that a reconnection waits for a fresh
// account.credentialed. It reports whether the account was deauthorized by this call or before.
func (s *Store) MarkCheckrDeauthorized(ctx context.Context, accountID, fingerprint string) (bool, error) {
	deauthorized := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockCheckrAccount(ctx, tx, accountID); err != nil {
			return err
		}
		var status CheckrAccountStatus
		err := tx.GetContext(ctx, &status, `SELECT status FROM checkr_accounts
			WHERE id = $1 AND access_token_fingerprint = $2`, accountID, fingerprint)
		if notFound(err) == ErrNotFound {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: read checkr account: %w", err)
		}
		deauthorized = true
		if status == CheckrDeauthorized {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE checkr_accounts
			SET status = 'deauthorized', access_token_sealed = NULL, deauthorized_at = now(), updated_at = now()
			WHERE id = $1`, accountID); err != nil {
			return fmt.Errorf("store: mark checkr account deauthorized: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM checkr_credentialed_accounts WHERE account_id = $1`, accountID); err != nil {
			return fmt.Errorf("store: forget checkr credentialing: %w", err)
		}
		return nil
	})
	return deauthorized, err
}

// CheckrAccount reads one Checkr account, whichever tenant connected it.
func (s *Store) CheckrAccount(ctx context.Context, accountID string) (CheckrAccount, error) {
	var a CheckrAccount
	if err := s.db.GetContext(ctx, &a, `SELECT `+checkrAccountColumns+` FROM checkr_accounts WHERE id = $1`, accountID); err != nil {
		return CheckrAccount{}, fmt.Errorf("store: checkr account: %w", notFound(err))
	}
	return a, nil
}

// TenantCheckrAccount reads a Checkr account of a tenant.
func (s *Store) TenantCheckrAccount(ctx context.Context, tenantID, accountID string) (CheckrAccount, error) {
	var a CheckrAccount
	if err := s.db.GetContext(ctx, &a, `SELECT `+checkrAccountColumns+` FROM checkr_accounts
		WHERE id = $1 AND tenant_id = $2`, accountID, tenantID); err != nil {
		return CheckrAccount{}, fmt.Errorf("store: tenant checkr account: %w", notFound(err))
	}
	return a, nil
}

// CheckrAccountByFingerprint finds the account whose token, current or last, has this fingerprint.
func (s *Store) CheckrAccountByFingerprint(ctx context.Context, fingerprint string) (CheckrAccount, error) {
	var a CheckrAccount
	if err := s.db.GetContext(ctx, &a, `SELECT `+checkrAccountColumns+` FROM checkr_accounts
		WHERE access_token_fingerprint = $1`, fingerprint); err != nil {
		return CheckrAccount{}, fmt.Errorf("store: checkr account by fingerprint: %w", notFound(err))
	}
	return a, nil
}

// SetInvitationURL records where the candidate fills in the check's Checkr invitation.
func (s *Store) SetInvitationURL(ctx context.Context, checkID, url string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE checks SET invitation_url = $2, updated_at = now() WHERE id = $1`,
		checkID, url); err != nil {
		return fmt.Errorf("store: set invitation url: %w", err)
	}
	return nil
}

// SetCheckAwaitingCredentialing moves a check to awaiting_credentialing, or with awaiting false
// back to pending. Only a check awaiting credentialing goes back, so that a late call cannot
// rewind a check that has moved on; a terminal check is never touched.
func (s *Store) SetCheckAwaitingCredentialing(ctx context.Context, checkID string, awaiting bool) error {
	query := `UPDATE checks SET status = 'awaiting_credentialing', updated_at = now()
		WHERE id = $1 AND status NOT IN ('awaiting_credentialing', 'completed', 'failed', 'canceled')`
	if !awaiting {
		query = `UPDATE checks SET status = 'pending', updated_at = now()
			WHERE id = $1 AND status = 'awaiting_credentialing'`
	}
	if _, err := s.db.ExecContext(ctx, query, checkID); err != nil {
		return fmt.Errorf("store: set check awaiting credentialing: %w", err)
	}
	return nil
}

// SubscribeCheckrAccount records that the check workflow workflowID waits on the account's state,
// then reads the account (ErrNotFound when no tenant connected it). The subscription is committed
// before the account is read, on purpose: the account's workflow records a change before it lists
// the subscribers to tell, so a change this read misses is told to this subscriber.
func (s *Store) SubscribeCheckrAccount(ctx context.Context, accountID, workflowID string) (CheckrAccount, error) {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO checkr_subscribers (account_id, workflow_id)
		SELECT id, $2 FROM checkr_accounts WHERE id = $1
		ON CONFLICT (account_id, workflow_id) DO NOTHING`, accountID, workflowID); err != nil {
		return CheckrAccount{}, fmt.Errorf("store: subscribe to checkr account: %w", err)
	}
	return s.CheckrAccount(ctx, accountID)
}

// UnsubscribeCheckrAccount forgets subscribers of the account: checks that have finished.
func (s *Store) UnsubscribeCheckrAccount(ctx context.Context, accountID string, workflowIDs []string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM checkr_subscribers WHERE account_id = $1 AND workflow_id = ANY($2)`,
		accountID, pq.Array(workflowIDs)); err != nil {
		return fmt.Errorf("store: unsubscribe from checkr account: %w", err)
	}
	return nil
}

// CheckrSubscribers lists up to limit subscribers of the account whose workflow ids sort after
// after, in that order: a page, and the cursor of the next is its last id.
func (s *Store) CheckrSubscribers(ctx context.Context, accountID, after string, limit int) ([]string, error) {
	var ids []string
	if err := s.db.SelectContext(ctx, &ids, `SELECT workflow_id FROM checkr_subscribers
		WHERE account_id = $1 AND workflow_id > $2 ORDER BY workflow_id LIMIT $3`, accountID, after, limit); err != nil {
		return nil, fmt.Errorf("store: checkr subscribers: %w", err)
	}
	return ids, nil
}

// SetCheckActionRequired moves a check in progress (or pending) to action_required while the
// provider waits for the candidate, or with required false back to in_progress. Only a check
// awaiting action goes back, and a terminal check is never touched, so that a late call cannot
// rewind a check that has moved on.
func (s *Store) SetCheckActionRequired(ctx context.Context, checkID string, required bool) error {
	query, left := `UPDATE checks SET status = 'action_required', updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'in_progress')`, StatusInProgress
	if !required {
		query, left = `UPDATE checks SET status = 'in_progress', updated_at = now()
			WHERE id = $1 AND status = 'action_required'`, StatusActionRequired
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, query, checkID)
		if err != nil {
			return fmt.Errorf("store: set check action required: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return enqueueCheckCallback(ctx, tx, checkID, left)
	})
}

// CheckDocumentKinds lists the kinds of a check's stored documents, in the order they were stored:
// a Checkr report's amendment stores only the documents it lacks.
func (s *Store) CheckDocumentKinds(ctx context.Context, checkID string) ([]string, error) {
	var kinds []string
	if err := s.db.SelectContext(ctx, &kinds, `SELECT kind FROM documents WHERE check_id = $1 ORDER BY created_at, id`,
		checkID); err != nil {
		return nil, fmt.Errorf("store: check document kinds: %w", err)
	}
	return kinds, nil
}
