package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Document is a stored provider report, without its bytes.
type Document struct {
	ID          string    `db:"id"`
	ScreeningID string    `db:"screening_id"`
	CheckID     string    `db:"check_id"`
	Kind        string    `db:"kind"`
	ContentType string    `db:"content_type"`
	Size        int64     `db:"size_bytes"`
	SHA256      string    `db:"sha256"`
	CreatedAt   time.Time `db:"created_at"`
}

const documentColumns = `id, screening_id, check_id, kind, content_type, size_bytes, sha256, created_at`

// SaveDocument stores a check's document of a kind once: saving it again returns the stored one,
// so a retried download activity does not duplicate it.
func (s *Store) SaveDocument(ctx context.Context, checkID, kind, contentType string, content []byte) (Document, error) {
	sum := sha256.Sum256(content)
	var d Document
	_, err := s.db.ExecContext(ctx, `INSERT INTO documents
		(id, screening_id, check_id, kind, content_type, size_bytes, sha256, content)
		SELECT $1, screening_id, id, $3, $4, $5, $6, $7 FROM checks WHERE id = $2
		ON CONFLICT (check_id, kind) DO NOTHING`,
		uuid.NewString(), checkID, kind, contentType, len(content), hex.EncodeToString(sum[:]), content)
	if err != nil {
		return d, fmt.Errorf("store: save document: %w", err)
	}
	err = s.db.GetContext(ctx, &d, `SELECT `+documentColumns+` FROM documents WHERE check_id = $1 AND kind = $2`,
		checkID, kind)
	if err != nil {
		return d, fmt.Errorf("store: read saved document: %w", notFound(err))
	}
	return d, nil
}

// DocumentContent reads a document of a tenant's screening with its bytes.
func (s *Store) DocumentContent(ctx context.Context, tenantID, screeningID, documentID string) (Document, []byte, error) {
	if _, err := uuid.Parse(documentID); err != nil {
		return Document{}, nil, ErrNotFound
	}
	if _, err := s.Screening(ctx, tenantID, screeningID); err != nil {
		return Document{}, nil, err
	}
	var row struct {
		Document
		Content []byte `db:"content"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT `+documentColumns+`, content FROM documents
		WHERE id = $1 AND screening_id = $2`, documentID, screeningID)
	if err != nil {
		return Document{}, nil, fmt.Errorf("store: document: %w", notFound(err))
	}
	return row.Document, row.Content, nil
}
