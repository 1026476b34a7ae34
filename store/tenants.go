package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// apiKeyPrefix makes screenflow keys recognisable to secret scanners and to people.
const apiKeyPrefix = "sf_live_"

// Tenant is an HR platform using the API.
type Tenant struct {
	ID        string    `db:"id"`
	Name      string    `db:"name"`
	CreatedAt time.Time `db:"created_at"`
	// KeyID names the API key that the tenant was created with or found by (APIKeyID).
	KeyID string `db:"-"`
}

// HashAPIKey is what is stored instead of the key. The keys are 256 random bits, so a plain
// SHA-256 is enough: there is nothing to brute-force.
func HashAPIKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// APIKeyID is a key's public name, shown where the key is created and in the audit log, so that a
// tenant can tell its keys apart: the first 8 bytes of the stored hash, in hex. It is derived from
// the hash, so every key ever stored has one, and it gives away nothing of a 256-bit random key.
func APIKeyID(key string) string {
	return hex.EncodeToString(HashAPIKey(key)[:8])
}

// CreateTenant creates a tenant and returns its API key, which is not stored and cannot be shown again.
func (s *Store) CreateTenant(ctx context.Context, name string) (Tenant, string, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Tenant{}, "", fmt.Errorf("store: generate api key: %w", err)
	}
	key := apiKeyPrefix + base64.RawURLEncoding.EncodeToString(secret)
	var t Tenant
	err := s.db.GetContext(ctx, &t,
		`INSERT INTO tenants (id, name, api_key_hash) VALUES ($1, $2, $3) RETURNING id, name, created_at`,
		uuid.NewString(), name, HashAPIKey(key))
	if err != nil {
		return Tenant{}, "", fmt.Errorf("store: create tenant: %w", err)
	}
	t.KeyID = APIKeyID(key)
	return t, key, nil
}

// TenantByAPIKey finds the tenant owning key.
func (s *Store) TenantByAPIKey(ctx context.Context, key string) (Tenant, error) {
	var t Tenant
	err := s.db.GetContext(ctx, &t,
		`SELECT id, name, created_at FROM tenants WHERE api_key_hash = $1`, HashAPIKey(key))
	if err != nil {
		return Tenant{}, fmt.Errorf("store: tenant by api key: %w", notFound(err))
	}
	t.KeyID = APIKeyID(key)
	return t, nil
}
