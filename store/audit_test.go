package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

func TestAPIKeyIDNamesTheKeyWithoutGivingItAway(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	created, key, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	found, err := st.TenantByAPIKey(ctx, key)
	require.NoError(t, err)

	require.Len(t, created.KeyID, 16)
	require.Equal(t, created.KeyID, found.KeyID, "the same key has the same id wherever it is shown")
	require.Equal(t, store.APIKeyID(key), found.KeyID)
	require.NotContains(t, key, found.KeyID)
	_, otherKey, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	require.NotEqual(t, found.KeyID, store.APIKeyID(otherKey))
}

func TestAuditEventsAreListedNewestFirstPerTenant(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenantA, keyA, err := st.CreateTenant(ctx, "a")
	require.NoError(t, err)
	tenantB, keyB, err := st.CreateTenant(ctx, "b")
	require.NoError(t, err)
	screening1, screening2, document := uuid.NewString(), uuid.NewString(), uuid.NewString()

	record := func(tenantID, key string, action store.AuditAction, screeningID string, documentID *string) {
		t.Helper()
		require.NoError(t, st.RecordAuditEvent(ctx, store.NewAuditEvent{TenantID: tenantID, KeyID: store.APIKeyID(key),
			Action: action, ScreeningID: screeningID, DocumentID: documentID}))
	}
	record(tenantA.ID, keyA, store.AuditScreeningRead, screening1, nil)
	record(tenantA.ID, keyA, store.AuditDocumentDownloaded, screening1, &document)
	record(tenantB.ID, keyB, store.AuditScreeningRead, screening2, nil)
	record(tenantA.ID, keyA, store.AuditScreeningRead, screening2, nil)

	all, err := st.AuditEvents(ctx, store.AuditQuery{TenantID: tenantA.ID, Limit: 100})
	require.NoError(t, err)
	require.Len(t, all, 3, "tenant B's event is not tenant A's")
	require.Equal(t, screening2, all[0].ScreeningID, "newest first")
	require.Equal(t, store.AuditDocumentDownloaded, all[1].Action)
	require.Equal(t, document, *all[1].DocumentID)
	require.Equal(t, store.AuditScreeningRead, all[2].Action)
	require.Nil(t, all[2].DocumentID)
	for _, e := range all {
		require.Equal(t, tenantA.ID, e.TenantID)
		require.Equal(t, store.APIKeyID(keyA), e.KeyID)
		require.False(t, e.OccurredAt.IsZero())
	}
	require.Greater(t, all[0].ID, all[1].ID)
	require.Greater(t, all[1].ID, all[2].ID)

	page, err := st.AuditEvents(ctx, store.AuditQuery{TenantID: tenantA.ID, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, all[:2], page)
	page, err = st.AuditEvents(ctx, store.AuditQuery{TenantID: tenantA.ID, Before: page[1].ID, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, all[2:], page, "the next page starts after the previous page's last")

	ofScreening1, err := st.AuditEvents(ctx, store.AuditQuery{TenantID: tenantA.ID, ScreeningID: screening1, Limit: 100})
	require.NoError(t, err)
	require.Equal(t, all[1:], ofScreening1)
	ofOthers, err := st.AuditEvents(ctx, store.AuditQuery{TenantID: tenantA.ID, ScreeningID: uuid.NewString(), Limit: 100})
	require.NoError(t, err)
	require.Empty(t, ofOthers)

	ofB, err := st.AuditEvents(ctx, store.AuditQuery{TenantID: tenantB.ID, Limit: 100})
	require.NoError(t, err)
	require.Len(t, ofB, 1)
	require.Equal(t, tenantB.ID, ofB[0].TenantID)
}

func TestAuditEventsRefuseWhatTheSchemaForbids(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, key, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	document := uuid.NewString()
	valid := store.NewAuditEvent{TenantID: tenant.ID, KeyID: store.APIKeyID(key), Action: store.AuditScreeningRead,
		ScreeningID: uuid.NewString()}

	for name, edit := range map[string]func(e *store.NewAuditEvent){
		"unknown action":              func(e *store.NewAuditEvent) { e.Action = "screening.deleted" },
		"download without a document": func(e *store.NewAuditEvent) { e.Action = store.AuditDocumentDownloaded },
		"read with a document":        func(e *store.NewAuditEvent) { e.DocumentID = &document },
		"unknown tenant":              func(e *store.NewAuditEvent) { e.TenantID = uuid.NewString() },
	} {
		e := valid
		edit(&e)
		require.Error(t, st.RecordAuditEvent(ctx, e), name)
	}
	events, err := st.AuditEvents(ctx, store.AuditQuery{TenantID: tenant.ID, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, events)
}
