// Package codec encrypts Temporal payloads (workflow and activity inputs and results, signals,
// queries, memos, failure details) with AES-256-GCM, so that the Temporal server's history holds
// no readable data. Its keys derive from the vault's keyring (SCREENFLOW_ENCRYPTION_KEY and
// SCREENFLOW_ENCRYPTION_OLD_KEYS): the primary encrypts, and every loaded key decrypts what it
// encrypted, so that the vault's key rotation rotates this codec too.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/screenflow/screenflow/vault"
)

const (
	// MetadataEncoding and EncodingEncrypted mark an encrypted payload, by the convention that
	// Temporal's tools and samples share.
	MetadataEncoding  = converter.MetadataEncoding
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the vault key whose derived key encrypted the payload (vault.KeyID).
	MetadataKeyID = "encryption-key-id"
)

// keyLabel derives the codec's key from a vault key, so that the bytes that seal rows in Postgres
// never also encrypt payloads held by another system.
const keyLabel = "screenflow temporal payload codec"

// ErrCannotDecode means an encrypted payload could not be decrypted: its key is not loaded, or it
// was altered or truncated. It does not say which, as the vault does not.
var ErrCannotDecode = errors.New("codec: cannot decrypt payload")

type codecKey struct {
	id   string
	aead cipher.AEAD
}

// Codec is a converter.PayloadCodec. It is safe for concurrent use.
type Codec struct {
	keys []codecKey // keys[0] encrypts
}

// New returns a Codec that encrypts under a key derived from primary and decrypts payloads
// encrypted under it or under any of older, the vault keys being rotated away from.
func New(primary []byte, older ...[]byte) (*Codec, error) {
	c := &Codec{}
	seen := map[string]bool{}
	for _, key := range append([][]byte{primary}, older...) {
		if len(key) != vault.KeySize {
			return nil, fmt.Errorf("codec: the key must be %d bytes", vault.KeySize)
		}
		id := vault.KeyID(key)
		if seen[id] {
			continue
		}
		seen[id] = true
		derived, err := hkdf.Key(sha256.New, key, nil, keyLabel, vault.KeySize)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		block, err := aes.NewCipher(derived)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		// A random 12-byte nonce per payload, put in front of the ciphertext by the AEAD.
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		c.keys = append(c.keys, codecKey{id: id, aead: aead})
	}
	return c, nil
}

// PrimaryKeyID is the id of the vault key whose derived key encrypts.
func (c *Codec) PrimaryKeyID() string { return c.keys[0].id }

// Encode encrypts every payload whole (its metadata and data) under the primary key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	primary := c.keys[0]
	encoded := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plaintext, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		encoded[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:    []byte(primary.id),
			},
			Data: primary.aead.Seal(nil, nil, plaintext, associatedData(primary.id)),
		}
	}
	return encoded, nil
}

// Decode decrypts the encrypted payloads and passes the others through unchanged: the histories
// of workflows that started before payloads were encrypted hold plain payloads, and so do the
// recorded histories the replay tests read.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	decoded := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			decoded[i] = p
			continue
		}
		plain, err := c.decrypt(p)
		if err != nil {
			return nil, err
		}
		decoded[i] = plain
	}
	return decoded, nil
}

func (c *Codec) decrypt(p *commonpb.Payload) (*commonpb.Payload, error) {
	id := string(p.GetMetadata()[MetadataKeyID])
	for _, k := range c.keys {
		if k.id != id {
			continue
		}
		plaintext, err := k.aead.Open(nil, nil, p.GetData(), associatedData(id))
		if err != nil {
			return nil, ErrCannotDecode
		}
		var plain commonpb.Payload
		if err := proto.Unmarshal(plaintext, &plain); err != nil {
			return nil, ErrCannotDecode
		}
		return &plain, nil
	}
	// The id is not secret (a hash of the key): it tells the operator which key to load.
	return nil, fmt.Errorf("%w: key %q is not loaded (SCREENFLOW_ENCRYPTION_KEY, SCREENFLOW_ENCRYPTION_OLD_KEYS)", ErrCannotDecode, id)
}

// associatedData binds the ciphertext to the key id in its metadata, so that a payload relabelled
// with another id fails instead of being opened under a key it does not name.
func associatedData(keyID string) []byte { return []byte("screenflow payload\x00" + keyID) }

// DataConverter is the SDK's default data converter with every payload encrypted by c. Failure
// messages and stack traces stay readable (the failure converter does not encode them): operators
// read them first when something breaks, in tools without the codec too, and screenflow keeps
// candidate data out of them (a provider's error answer is reduced to its code). Failure details
// are payloads, and encrypted.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}
