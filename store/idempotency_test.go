package store_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/store"
)

func TestRequestHashIsKeyedAndRetriesMatchWhileKeysRotate(t *testing.T) {
	rf := newRotationFixture(t)
	db, oldKey, newKey, before, tenant := rf.db, rf.oldKey, rf.newKey, rf.before, rf.tenant
	ctx := context.Background()
	requestHash := sha256.Sum256([]byte(`{"candidate":{"first_name":"Augusta"}}`))
	order := func(key string, hash []byte) store.NewScreening {
		return store.NewScreening{TenantID: tenant.ID, IdempotencyKey: key, RequestHash: hash,
			Candidate: sealedCandidate, Checks: []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}}
	}
	first, created, err := before.CreateScreening(ctx, order("key-1", requestHash[:]))
	require.NoError(t, err)
	require.True(t, created)

	var stored []byte
	require.NoError(t, db.Get(&stored, `SELECT request_hash FROM screenings WHERE id = $1`, first.ID))
	require.NotEqual(t, requestHash[:], stored, "a plain SHA-256 of the request would confirm a guessed candidate")

	rotating := store.NewSealed(db, newKeyring(t, newKey, oldKey))
	again, created, err := rotating.CreateScreening(ctx, order("key-1", requestHash[:]))
	require.NoError(t, err)
	require.False(t, created, "a retry fingerprinted under the old key matches while it is loaded")
	require.Equal(t, first.ID, again.ID)
	other := sha256.Sum256([]byte(`{"candidate":{"first_name":"Ada"}}`))
	_, _, err = rotating.CreateScreening(ctx, order("key-1", other[:]))
	require.ErrorIs(t, err, store.ErrIdempotencyConflict)

	legacy, _, err := store.New(db).CreateScreening(ctx, order("key-2", requestHash[:]))
	require.NoError(t, err)
	again, created, err = rotating.CreateScreening(ctx, order("key-2", requestHash[:]))
	require.NoError(t, err)
	require.False(t, created, "a plain hash stored by an earlier release still matches its retry")
	require.Equal(t, legacy.ID, again.ID)
}
