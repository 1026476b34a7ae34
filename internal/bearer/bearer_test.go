package bearer_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/internal/bearer"
)

func TestTokenTakesTheSchemeInAnyCaseAndOneWord(t *testing.T) {
	for header, want := range map[string]string{"Bearer k1": "k1", "bearer k1": "k1", "BEARER  k1 ": "k1"} {
		got, ok := bearer.Token(header)
		require.True(t, ok, header)
		require.Equal(t, want, got, header)
	}
	for _, header := range []string{"", "k1", "Bearerk1", "Bearer ", "Bearer  ", "Basic azE=", "Bearer k1 k2"} {
		_, ok := bearer.Token(header)
		require.False(t, ok, "%q", header)
	}
	require.True(t, bearer.Matches("bearer s3cret", "s3cret"))
	require.False(t, bearer.Matches("Bearer wrong", "s3cret"))
	require.False(t, bearer.Matches("s3cret", "s3cret"))
}
