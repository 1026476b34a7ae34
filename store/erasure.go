package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ErasureTarget is what erasing a tenant's candidate reference covers: every candidate row stored
// under it (each screening stores its own) and their screenings, oldest first.
type ErasureTarget struct {
	CandidateIDs []string
	ScreeningIDs []string
}

// CandidatesToErase finds the tenant's candidates with the HR platform's reference that are not
// erased yet, as ScreeningsByReference does: by the blind index under every loaded key, or by the
// plaintext of rows from before encryption. ErrNotFound when there is none.
func (s *Store) CandidatesToErase(ctx context.Context, tenantID, reference string) (ErasureTarget, error) {
	var t ErasureTarget
	if reference == "" {
		return t, ErrNotFound
	}
	var indexes [][]byte
	if s.vault != nil {
		indexes = s.vault.BlindIndexes(referenceIndexPurpose, referenceIndexInput(tenantID, reference))
	}
	if err := s.db.SelectContext(ctx, &t.CandidateIDs, `SELECT id FROM candidates
		WHERE tenant_id = $1 AND erased_at IS NULL
			AND (reference_index = ANY($2) OR (pii_sealed IS NULL AND reference = $3))
		ORDER BY created_at, id`, tenantID, pq.ByteaArray(indexes), reference); err != nil {
		return t, fmt.Errorf("store: candidates to erase: %w", err)
	}
	if len(t.CandidateIDs) == 0 {
		return t, ErrNotFound
	}
	if err := s.db.SelectContext(ctx, &t.ScreeningIDs, `SELECT id FROM screenings WHERE candidate_id = ANY($1)
		ORDER BY created_at, id`, pq.StringArray(t.CandidateIDs)); err != nil {
		return t, fmt.Errorf("store: screenings to erase: %w", err)
	}
	return t, nil
}

// CandidateScreenings lists the screenings of the candidates, oldest first.
func (s *Store) CandidateScreenings(ctx context.Context, candidateIDs []string) ([]Screening, error) {
	var out []Screening
	if err := s.db.SelectContext(ctx, &out, `SELECT `+screeningColumns+` FROM screenings
		WHERE candidate_id = ANY($1) ORDER BY created_at, id`, pq.StringArray(candidateIDs)); err != nil {
		return nil, fmt.Errorf("store: candidate screenings: %w", err)
	}
	return out, nil
}

// CandidateChecks lists the checks of the candidates' screenings, in the order they were ordered.
func (s *Store) CandidateChecks(ctx context.Context, candidateIDs []string) ([]Check, error) {
	var out []Check
	if err := s.db.SelectContext(ctx, &out, `SELECT `+checkColumns+` FROM checks
		WHERE screening_id IN (SELECT id FROM screenings WHERE candidate_id = ANY($1))
		ORDER BY created_at, screening_id, position`, pq.StringArray(candidateIDs)); err != nil {
		return nil, fmt.Errorf("store: candidate checks: %w", err)
	}
	return out, nil
}

// Erasure is an erasure to carry out: whose, and who asked for it.
type Erasure struct {
	TenantID     string
	KeyID        string // APIKeyID of the key that asked, for the audit log
	CandidateIDs []string
}

// Erased is what EraseCandidates erased now; empty when everything was erased before.
type Erased struct {
	CandidateIDs []string
	ScreeningIDs []string
}

// RetentionKeyID stands in the audit log, where an erasure names the API key that asked for it,
// for the scheduled purge of candidates whose retention period ended.
const RetentionKeyID = "retention"

// erasedTimelineKind marks, in an erased screening's timeline, when its candidate was erased.
const erasedTimelineKind = "candidate.erased"

// inboxBodyErased is the reason an event still pending when its candidate was erased is discarded.
const inboxBodyErased = "discarded: its candidate was erased"

// EraseCandidates erases the tenant's candidates in one transaction, with an audit event per
// screening of theirs; candidates erased before are left as they are, so it can run again. Of
// each candidate it erases everything that can hold its data, and keeps the ids, statuses,
// outcomes and times that say what happened:
//   - the candidate's PII, sealed, blind-indexed or in the clear, and the request hash of its
//     screenings (a hash of the request that carried the PII);
//   - its documents, rows and bytes;
//   - its checks' searches (where the provider searched can say where the candidate lived), the
//     invitation links, and the detail of every timeline entry (free text about the checks);
//   - the body and headers of every inbox event about its checks' resources at the providers,
//     as the retention purge empties them; those still pending are discarded;
//   - the routes of those resources, so that an event the provider sends later reaches no
//     workflow that could fetch data again: it waits for a route and ends unroutable.
//
// The caller has ended the candidate's workflows first: one still running could write again.
func (s *Store) EraseCandidates(ctx context.Context, e Erasure) (Erased, error) {
	var out Erased
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.SelectContext(ctx, &out.CandidateIDs, `SELECT id FROM candidates
			WHERE id = ANY($1) AND tenant_id = $2 AND erased_at IS NULL
			ORDER BY created_at, id FOR UPDATE`, pq.StringArray(e.CandidateIDs), e.TenantID); err != nil {
			return fmt.Errorf("store: lock candidates to erase: %w", err)
		}
		if len(out.CandidateIDs) == 0 {
			return nil
		}
		candidates := pq.StringArray(out.CandidateIDs)
		if err := tx.SelectContext(ctx, &out.ScreeningIDs, `UPDATE screenings
			SET erased_at = now(), request_hash = NULL, updated_at = now()
			WHERE candidate_id = ANY($1) RETURNING id`, candidates); err != nil {
			return fmt.Errorf("store: mark screenings erased: %w", err)
		}
		screenings := pq.StringArray(out.ScreeningIDs)
		for _, step := range []struct {
			what, sql string
			arg       any
		}{
			{"candidates", `UPDATE candidates SET erased_at = now(), pii_sealed = NULL, reference_index = NULL,
				reference = '', first_name = '', last_name = '', email = '', dob = NULL, address_line1 = '',
				address_line2 = '', city = '', state = '', postal_code = '', country = ''
				WHERE id = ANY($1)`, candidates},
			{"documents", `DELETE FROM documents WHERE screening_id = ANY($1)`, screenings},
			{"searches", `DELETE FROM check_searches
				WHERE check_id IN (SELECT id FROM checks WHERE screening_id = ANY($1))`, screenings},
			{"invitation links", `UPDATE checks SET invitation_url = NULL, updated_at = now()
				WHERE screening_id = ANY($1) AND invitation_url IS NOT NULL`, screenings},
			{"timeline details", `UPDATE timeline_entries SET detail = ''
				WHERE screening_id = ANY($1) AND detail <> ''`, screenings},
			{"inbox bodies", `UPDATE webhook_events e
				SET ` + purgedBody + `, lease_id = NULL,
				    status = CASE WHEN e.status = 'pending' THEN 'discarded' ELSE e.status END,
				    last_error = CASE WHEN e.status = 'pending' THEN '` + inboxBodyErased + `' ELSE e.last_error END
				FROM routes r
				WHERE r.provider = e.provider AND r.subject = e.subject AND ` + routedToScreenings("r") + `
					AND (e.body_purged_at IS NULL OR e.status = 'pending')`, screenings},
			{"routes", `DELETE FROM routes r WHERE ` + routedToScreenings("r"), screenings},
		} {
			if _, err := tx.ExecContext(ctx, step.sql, step.arg); err != nil {
				return fmt.Errorf("store: erase %s: %w", step.what, err)
			}
		}
		now, detail := time.Now(), "the candidate's data was erased on request"
		if e.KeyID == RetentionKeyID {
			detail = "the candidate's data was erased: its retention period ended"
		}
		for _, id := range out.ScreeningIDs {
			if err := appendTimeline(ctx, tx, TimelineEntry{ScreeningID: id, DedupeKey: erasedTimelineKind,
				Kind: erasedTimelineKind, Detail: detail, OccurredAt: now}); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events (tenant_id, key_id, action, screening_id, candidate_id)
			SELECT $1, $2, $3, id, candidate_id FROM screenings WHERE id = ANY($4) ORDER BY created_at, id`,
			e.TenantID, e.KeyID, AuditCandidateErased, screenings); err != nil {
			return fmt.Errorf("store: record erasure audit events: %w", err)
		}
		return nil
	})
	if err != nil {
		return Erased{}, err
	}
	return out, nil
}

// routedToScreenings matches the routes (aliased alias) to the workflows of the screenings in $1:
// a screening's own and its checks' (workflows.ScreeningWorkflowID, workflows.CheckWorkflowID).
func routedToScreenings(alias string) string {
	return `EXISTS (SELECT 1 FROM unnest($1::uuid[]) AS erased(id)
		WHERE ` + alias + `.workflow_id = 'screening/' || erased.id
			OR ` + alias + `.workflow_id LIKE 'screening/' || erased.id || '/%')`
}
