package vault_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/vault"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	key, err := vault.ParseKey(vault.NewKey())
	require.NoError(t, err)
	return key
}

// sealVersion1 seals as releases with a single key did: version byte 1, the nonce, then the
// ciphertext and its tag.
func sealVersion1(t *testing.T, key, plaintext, associatedData []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCMWithRandomNonce(block)
	require.NoError(t, err)
	return aead.Seal([]byte{1}, nil, plaintext, associatedData)
}

func TestTheKeyringSealsWithThePrimaryKeyAndOpensWithAnyLoadedKey(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	before, err := vault.New(oldKey)
	require.NoError(t, err)
	sealedBefore := before.Seal([]byte("Ada Lovelace"), []byte("candidate-1"))

	rotating, err := vault.NewKeyring(newKey, oldKey)
	require.NoError(t, err)
	require.Equal(t, vault.KeyID(newKey), rotating.PrimaryKeyID())
	require.Equal(t, []string{vault.KeyID(newKey), vault.KeyID(oldKey)}, rotating.KeyIDs())
	opened, err := rotating.Open(sealedBefore, []byte("candidate-1"))
	require.NoError(t, err)
	require.Equal(t, "Ada Lovelace", string(opened))
	require.False(t, rotating.SealedWithPrimary(sealedBefore))

	sealedNow := rotating.Seal([]byte("Ada Lovelace"), []byte("candidate-1"))
	require.True(t, rotating.SealedWithPrimary(sealedNow))
	require.Equal(t, rotating.PrimaryPrefix(), sealedNow[:1+vault.KeyIDSize], "the value names its key")
	require.Equal(t, vault.KeyID(newKey), hex.EncodeToString(sealedNow[1:1+vault.KeyIDSize]))

	after, err := vault.New(newKey)
	require.NoError(t, err)
	opened, err = after.Open(sealedNow, []byte("candidate-1"))
	require.NoError(t, err, "once re-sealed, a value needs only the new key")
	require.Equal(t, "Ada Lovelace", string(opened))
	_, err = after.Open(sealedBefore, []byte("candidate-1"))
	require.ErrorIs(t, err, vault.ErrCannotOpen, "a value of a removed key does not open")
}

func TestVersion1ValuesStillOpenUnderTheirKey(t *testing.T) {
	key, other := newKey(t), newKey(t)
	sealed := sealVersion1(t, key, []byte("checkr-access-token"), []byte("account-1"))

	for name, keys := range map[string][][]byte{
		"the key alone":           {key},
		"the key as the primary":  {key, other},
		"the key as an older key": {other, key},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := vault.NewKeyring(keys[0], keys[1:]...)
			require.NoError(t, err)
			opened, err := v.Open(sealed, []byte("account-1"))
			require.NoError(t, err)
			require.Equal(t, "checkr-access-token", string(opened))
			require.False(t, v.SealedWithPrimary(sealed), "rotation re-seals version-1 values")
			_, err = v.Open(sealed, []byte("account-2"))
			require.ErrorIs(t, err, vault.ErrCannotOpen)
		})
	}
	v, err := vault.New(other)
	require.NoError(t, err)
	_, err = v.Open(sealed, []byte("account-1"))
	require.ErrorIs(t, err, vault.ErrCannotOpen, "the wrong key")
}

func TestAValueSealedUnderAnotherKeyIdDoesNotOpenEvenWithTheRightBytes(t *testing.T) {
	key, other := newKey(t), newKey(t)
	v, err := vault.NewKeyring(key, other)
	require.NoError(t, err)
	sealed := v.Seal([]byte("secret"), []byte("row"))
	relabelled := append(append([]byte{2}, mustDecodeHex(t, vault.KeyID(other))...), sealed[1+vault.KeyIDSize:]...)
	_, err = v.Open(relabelled, []byte("row"))
	require.ErrorIs(t, err, vault.ErrCannotOpen, "the key id picks the key; it is not guessed")
}

func mustDecodeHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestNewKeyringLoadsAKeyListedTwiceOnceAndRefusesShortKeys(t *testing.T) {
	key, other := newKey(t), newKey(t)
	v, err := vault.NewKeyring(key, other, key, other)
	require.NoError(t, err)
	require.Equal(t, []string{vault.KeyID(key), vault.KeyID(other)}, v.KeyIDs())

	_, err = vault.NewKeyring(key, make([]byte, 16))
	require.Error(t, err)
	_, err = vault.NewKeyring(nil)
	require.Error(t, err)
}

func TestKeyIDsAreShortStableAndTellKeysApart(t *testing.T) {
	key, other := newKey(t), newKey(t)
	require.Len(t, vault.KeyID(key), 2*vault.KeyIDSize)
	require.Equal(t, vault.KeyID(key), vault.KeyID(append([]byte(nil), key...)))
	require.NotEqual(t, vault.KeyID(key), vault.KeyID(other))
	require.NotContains(t, hex.EncodeToString(key), vault.KeyID(key))
}

func TestBlindIndexesMatchOnlyUnderTheSameKeyAndPurpose(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	before, err := vault.New(oldKey)
	require.NoError(t, err)
	rotating, err := vault.NewKeyring(newKey, oldKey)
	require.NoError(t, err)
	value := []byte("tenant-1\x00emp-42")

	stored := before.BlindIndex("candidates.reference", value)
	require.Len(t, stored, 32)
	require.Equal(t, stored, before.BlindIndex("candidates.reference", value), "deterministic")
	require.NotEqual(t, stored, before.BlindIndex("candidates.reference", []byte("tenant-1\x00emp-43")))
	require.NotEqual(t, stored, before.BlindIndex("another.purpose", value))

	indexes := rotating.BlindIndexes("candidates.reference", value)
	require.Equal(t, [][]byte{rotating.BlindIndex("candidates.reference", value), stored}, indexes,
		"while keys rotate, a lookup matches an index computed under either key")
	require.NotEqual(t, stored, rotating.BlindIndex("candidates.reference", value))
}
