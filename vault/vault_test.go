package vault_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/vault"
)

func newVault(t *testing.T) *vault.Vault {
	t.Helper()
	key, err := vault.ParseKey(vault.NewKey())
	require.NoError(t, err)
	v, err := vault.New(key)
	require.NoError(t, err)
	return v
}

func TestSealedValuesOpenWithTheSameKeyAndAssociatedData(t *testing.T) {
	v := newVault(t)
	for _, plaintext := range []string{"", "checkr-access-token", strings.Repeat("x", 4096)} {
		sealed := v.Seal([]byte(plaintext), []byte("account-1"))
		if plaintext != "" {
			require.NotContains(t, string(sealed), plaintext)
		}
		require.Equal(t, byte(2), sealed[0], "version byte")
		require.Len(t, sealed, 1+vault.KeyIDSize+12+len(plaintext)+16)
		opened, err := v.Open(sealed, []byte("account-1"))
		require.NoError(t, err)
		require.Equal(t, plaintext, string(opened))
	}
}

func TestSealingTheSamePlaintextTwiceGivesDifferentValues(t *testing.T) {
	v := newVault(t)
	a := v.Seal([]byte("token"), []byte("account-1"))
	b := v.Seal([]byte("token"), []byte("account-1"))
	require.NotEqual(t, a, b, "every Seal draws a fresh nonce")
}

func TestOpenRefusesAnythingButAnIntactValueUnderTheSameKeyAndAssociatedData(t *testing.T) {
	v := newVault(t)
	sealed := v.Seal([]byte("token"), []byte("account-1"))
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	unknownVersion := bytes.Clone(sealed)
	unknownVersion[0] = 3
	unknownKeyID := bytes.Clone(sealed)
	unknownKeyID[1] ^= 0x01

	cases := map[string]struct {
		vault  *vault.Vault
		sealed []byte
		ad     string
	}{
		"wrong key":             {newVault(t), sealed, "account-1"},
		"wrong associated data": {v, sealed, "account-2"},
		"tampered nonce":        {v, flip(1 + vault.KeyIDSize), "account-1"},
		"tampered ciphertext":   {v, flip(1 + vault.KeyIDSize + 12), "account-1"},
		"tampered tag":          {v, flip(len(sealed) - 1), "account-1"},
		"truncated":             {v, sealed[:len(sealed)-1], "account-1"},
		"shorter than overhead": {v, sealed[:1+vault.KeyIDSize+12+15], "account-1"},
		"key id cut short":      {v, sealed[:3], "account-1"},
		"version byte only":     {v, sealed[:1], "account-1"},
		"empty":                 {v, nil, "account-1"},
		"unknown version":       {v, unknownVersion, "account-1"},
		"unknown key id":        {v, unknownKeyID, "account-1"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			opened, err := c.vault.Open(c.sealed, []byte(c.ad))
			require.ErrorIs(t, err, vault.ErrCannotOpen)
			require.Nil(t, opened)
		})
	}
}

func TestParseKeyAcceptsHexAndBase64(t *testing.T) {
	key := make([]byte, vault.KeySize)
	for i := range key {
		key[i] = byte(250 + i) // wraps around, so that the encodings use '+', '/', '-' and '_'
	}
	for name, s := range map[string]string{
		"hex":                  hex.EncodeToString(key),
		"upper case hex":       strings.ToUpper(hex.EncodeToString(key)),
		"std base64":           base64.StdEncoding.EncodeToString(key),
		"std base64, unpadded": base64.RawStdEncoding.EncodeToString(key),
		"url base64":           base64.URLEncoding.EncodeToString(key),
		"url base64, unpadded": base64.RawURLEncoding.EncodeToString(key),
		"trailing newline":     hex.EncodeToString(key) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := vault.ParseKey(s)
			require.NoError(t, err)
			require.Equal(t, key, got)
		})
	}
	require.NotEqual(t, base64.StdEncoding.EncodeToString(key), base64.URLEncoding.EncodeToString(key),
		"the test key must tell the two base64 alphabets apart")
}

func TestParseKeyRefusesOtherInputsWithoutEchoingThem(t *testing.T) {
	secret := strings.Repeat("s3cr3t", 8)
	for name, s := range map[string]string{
		"empty":              "",
		"short hex":          hex.EncodeToString(make([]byte, 31)),
		"long hex":           hex.EncodeToString(make([]byte, 33)),
		"AES-128 in base64":  base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"33 bytes in base64": base64.StdEncoding.EncodeToString(make([]byte, 33)),
		"64 non-hex chars":   strings.Repeat("g", 64),
		"garbage":            secret + "!",
	} {
		t.Run(name, func(t *testing.T) {
			key, err := vault.ParseKey(s)
			require.Error(t, err)
			require.Nil(t, key)
			require.Contains(t, err.Error(), "64 hex characters")
			if s != "" {
				require.NotContains(t, err.Error(), s)
			}
		})
	}
}

func TestNewWantsA32ByteKey(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		_, err := vault.New(make([]byte, n))
		require.Error(t, err, "%d bytes", n)
	}
	_, err := vault.New(make([]byte, 32))
	require.NoError(t, err)
}

func TestNewKeyIsFreshHex(t *testing.T) {
	a, b := vault.NewKey(), vault.NewKey()
	require.Len(t, a, 64)
	require.NotEqual(t, a, b)
	_, err := hex.DecodeString(a)
	require.NoError(t, err)
}
