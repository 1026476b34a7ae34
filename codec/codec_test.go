package codec_test

import (
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/vault"
)

func newKey(t testing.TB) []byte {
	t.Helper()
	key, err := vault.ParseKey(vault.NewKey())
	require.NoError(t, err)
	return key
}

func newCodec(t testing.TB, primary []byte, older ...[]byte) *codec.Codec {
	t.Helper()
	c, err := codec.New(primary, older...)
	require.NoError(t, err)
	return c
}

func plainPayloads(t testing.TB, values ...any) []*commonpb.Payload {
	t.Helper()
	payloads, err := converter.GetDefaultDataConverter().ToPayloads(values...)
	require.NoError(t, err)
	return payloads.GetPayloads()
}

func TestEncodedPayloadsAreOpaqueNameTheirKeyAndDecodeToTheOriginals(t *testing.T) {
	key := newKey(t)
	c := newCodec(t, key)
	original := plainPayloads(t, "screening-8d1c", map[string]string{"reference": "emp-42"}, []byte("raw bytes"), nil)

	encoded, err := c.Encode(original)
	require.NoError(t, err)
	require.Len(t, encoded, len(original))
	for _, p := range encoded {
		require.Equal(t, codec.EncodingEncrypted, string(p.GetMetadata()[codec.MetadataEncoding]))
		require.Equal(t, vault.KeyID(key), string(p.GetMetadata()[codec.MetadataKeyID]))
		require.Len(t, p.GetMetadata(), 2, "the original encoding is inside the ciphertext")
		for _, secret := range []string{"screening-8d1c", "emp-42", "raw bytes", "json/plain"} {
			require.NotContains(t, string(p.GetData()), secret)
		}
	}
	require.NotEqual(t, encoded[0].GetData(), mustEncode(t, c, original[:1])[0].GetData(), "a fresh nonce every time")

	decoded, err := c.Decode(encoded)
	require.NoError(t, err)
	require.Len(t, decoded, len(original))
	for i := range original {
		require.Equal(t, original[i].GetMetadata(), decoded[i].GetMetadata())
		require.Equal(t, original[i].GetData(), decoded[i].GetData())
	}
}

func mustEncode(t *testing.T, c *codec.Codec, payloads []*commonpb.Payload) []*commonpb.Payload {
	t.Helper()
	encoded, err := c.Encode(payloads)
	require.NoError(t, err)
	return encoded
}

func TestTheDataConverterRoundTripsValuesThroughEncryptedPayloads(t *testing.T) {
	dc := codec.DataConverter(newCodec(t, newKey(t)))
	type input struct {
		ScreeningID string
		Checks      int
	}
	payload, err := dc.ToPayload(input{ScreeningID: "screening-8d1c", Checks: 2})
	require.NoError(t, err)
	require.Equal(t, codec.EncodingEncrypted, string(payload.GetMetadata()[codec.MetadataEncoding]))
	var got input
	require.NoError(t, dc.FromPayload(payload, &got))
	require.Equal(t, input{ScreeningID: "screening-8d1c", Checks: 2}, got)
}

func TestAfterRotationPayloadsOfTheOldKeyStillDecodeAndNewOnesUseTheNewKey(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	before := newCodec(t, oldKey)
	encodedBefore := mustEncode(t, before, plainPayloads(t, "written before the rotation"))

	rotating := newCodec(t, newKey, oldKey)
	require.Equal(t, vault.KeyID(newKey), rotating.PrimaryKeyID())
	decoded, err := rotating.Decode(encodedBefore)
	require.NoError(t, err)
	require.Equal(t, plainPayloads(t, "written before the rotation")[0].GetData(), decoded[0].GetData())

	encodedNow := mustEncode(t, rotating, plainPayloads(t, "written after"))
	require.Equal(t, vault.KeyID(newKey), string(encodedNow[0].GetMetadata()[codec.MetadataKeyID]))

	after := newCodec(t, newKey)
	_, err = after.Decode(encodedNow)
	require.NoError(t, err, "once the old key is gone, new payloads still decode")
	_, err = after.Decode(encodedBefore)
	require.ErrorIs(t, err, codec.ErrCannotDecode, "a payload of a removed key does not decode")
	require.ErrorContains(t, err, vault.KeyID(oldKey), "the error names the missing key by its id")
}

func TestTheCodecKeyIsDerivedNotTheVaultKeyItself(t *testing.T) {
	key := newKey(t)
	encoded := mustEncode(t, newCodec(t, key), plainPayloads(t, "payload"))[0]
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	withTheVaultKey, err := cipher.NewGCMWithRandomNonce(block)
	require.NoError(t, err)
	_, err = withTheVaultKey.Open(nil, nil, encoded.GetData(), []byte("screenflow payload\x00"+vault.KeyID(key)))
	require.Error(t, err, "the vault key's own bytes do not open a payload")
}

func TestTamperedOrRelabelledPayloadsDoNotDecode(t *testing.T) {
	key, other := newKey(t), newKey(t)
	c := newCodec(t, key, other)
	fresh := func() *commonpb.Payload { return mustEncode(t, c, plainPayloads(t, "screening-8d1c"))[0] }

	for name, tamper := range map[string]func(p *commonpb.Payload){
		"a flipped ciphertext bit": func(p *commonpb.Payload) { p.Data[len(p.Data)/2] ^= 1 },
		"a flipped nonce bit":      func(p *commonpb.Payload) { p.Data[0] ^= 1 },
		"truncated":                func(p *commonpb.Payload) { p.Data = p.Data[:10] },
		"empty":                    func(p *commonpb.Payload) { p.Data = nil },
		"relabelled with another loaded key": func(p *commonpb.Payload) {
			p.Metadata[codec.MetadataKeyID] = []byte(vault.KeyID(other))
		},
		"no key id": func(p *commonpb.Payload) { delete(p.Metadata, codec.MetadataKeyID) },
	} {
		t.Run(name, func(t *testing.T) {
			p := fresh()
			tamper(p)
			_, err := c.Decode([]*commonpb.Payload{p})
			require.ErrorIs(t, err, codec.ErrCannotDecode)
		})
	}
}

func TestPayloadsThatAreNotEncryptedPassThroughDecode(t *testing.T) {
	c := newCodec(t, newKey(t))
	plain := plainPayloads(t, "recorded before the codec", 42, nil)
	encrypted := mustEncode(t, c, plainPayloads(t, "encrypted"))
	mixed := append(append([]*commonpb.Payload{}, plain...), encrypted...)

	decoded, err := c.Decode(mixed)
	require.NoError(t, err)
	for i := range plain {
		require.Same(t, plain[i], decoded[i], "a plain payload is returned as it is")
	}
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(decoded[len(plain)], &s))
	require.Equal(t, "encrypted", s)
}

func TestNewRefusesKeysOfTheWrongSizeAndLoadsAKeyListedTwiceOnce(t *testing.T) {
	_, err := codec.New(make([]byte, 16))
	require.Error(t, err)
	_, err = codec.New(newKey(t), nil)
	require.Error(t, err)
	key := newKey(t)
	c, err := codec.New(key, key)
	require.NoError(t, err)
	require.Equal(t, vault.KeyID(key), c.PrimaryKeyID())
}

func BenchmarkEncodeDecode(b *testing.B) {
	c := newCodec(b, newKey(b))
	// The size of a typical check workflow input: ids, provider, check type, options.
	payloads := plainPayloads(b, map[string]any{
		"ScreeningID": "0b7c5a4e-3f1d-4d8e-9a55-6c2b1e0f9d31", "CheckID": "5f0e2d4c-1b3a-4e6f-8d7c-9a1b2c3d4e5f",
		"TenantID": "2d1c0b9a-8f7e-4d6c-5b4a-3f2e1d0c9b8a", "Provider": "complycube", "Type": "standard_screening_check",
		"Options": map[string]bool{"sex_offender": true},
	})
	b.ReportAllocs()
	for b.Loop() {
		encoded, err := c.Encode(payloads)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(encoded); err != nil {
			b.Fatal(err)
		}
	}
}
