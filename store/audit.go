package store

import (
	"context"
	"fmt"
	"math"
	"time"
)

// AuditAction is what a tenant's API key did with a screening.
type AuditAction string

// The audited actions; migrations/00009_audit_events.sql and 00012 list them too.
const (
	AuditScreeningRead      AuditAction = "screening.read"
	AuditDocumentDownloaded AuditAction = "document.downloaded"
	// AuditCandidateErased: the candidate's data was erased (EraseCandidates), one per screening.
	AuditCandidateErased AuditAction = "candidate.erased"
)

// NewAuditEvent is a read to record. It carries ids only: no candidate data, no document bytes,
// no API key.
type NewAuditEvent struct {
	TenantID    string
	KeyID       string // APIKeyID of the key used
	Action      AuditAction
	ScreeningID string
	DocumentID  *string // for AuditDocumentDownloaded only
}

// AuditEvent is a recorded read.
type AuditEvent struct {
	ID          int64       `db:"id"`
	TenantID    string      `db:"tenant_id"`
	KeyID       string      `db:"key_id"`
	Action      AuditAction `db:"action"`
	ScreeningID string      `db:"screening_id"`
	DocumentID  *string     `db:"document_id"`
	CandidateID *string     `db:"candidate_id"` // for AuditCandidateErased only
	OccurredAt  time.Time   `db:"occurred_at"`
}

const auditEventColumns = `id, tenant_id, key_id, action, screening_id, document_id, candidate_id, occurred_at`

// RecordAuditEvent stores e in one INSERT, committed before it returns: a caller that gets nil
// may answer the read, and one that gets an error must not.
func (s *Store) RecordAuditEvent(ctx context.Context, e NewAuditEvent) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit_events (tenant_id, key_id, action, screening_id, document_id)
		VALUES ($1, $2, $3, $4, $5)`, e.TenantID, e.KeyID, e.Action, e.ScreeningID, e.DocumentID)
	if err != nil {
		return fmt.Errorf("store: record audit event: %w", err)
	}
	return nil
}

// AuditQuery selects a page of one tenant's audit events.
type AuditQuery struct {
	TenantID    string
	ScreeningID string // only this screening's events; "" for all
	Before      int64  // only events with a smaller id (the previous page's last); 0 for the newest
	Limit       int
}

// AuditEvents lists the tenant's audit events newest first (by id, which grows with each event).
func (s *Store) AuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	before := q.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	query := `SELECT ` + auditEventColumns + ` FROM audit_events WHERE tenant_id = $1 AND id < $2`
	args := []any{q.TenantID, before}
	if q.ScreeningID != "" {
		query += ` AND screening_id = $3`
		args = append(args, q.ScreeningID)
	}
	args = append(args, q.Limit)
	query += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	events := []AuditEvent{}
	if err := s.db.SelectContext(ctx, &events, query, args...); err != nil {
		return nil, fmt.Errorf("store: audit events: %w", err)
	}
	return events, nil
}
