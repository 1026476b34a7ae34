// Package vault encrypts data kept at rest (candidate PII, PDF reports, Checkr OAuth access tokens)
// with AES-256-GCM under a keyring: the primary key seals, and every loaded key opens what it
// sealed, so that keys can be rotated without downtime.
package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of an AES-256 key.
const KeySize = 32

// KeyIDSize is the size of the key id carried by every value sealed since version 2.
const KeyIDSize = 4

// The first byte of every sealed value says how the rest is laid out.
const (
	// versionSingleKey values, written by releases that knew one key, are the nonce, then the
	// ciphertext and its tag. Deployed databases hold them (Checkr access tokens), so they still open.
	versionSingleKey = 1
	// versionKeyID values carry the id of the key that sealed them before the nonce, so that the
	// keyring opens each with the right key and rotation can find the values of an old key.
	versionKeyID = 2
)

// ErrCannotOpen means a sealed value could not be decrypted. It does not say why (wrong key, no
// such key loaded, wrong associated data, tampering, truncation, unknown version): none of them is
// the caller's to fix differently, and telling them apart would help an attacker.
var ErrCannotOpen = errors.New("vault: cannot open sealed value")

// errKeyFormat never includes the input: it is a secret.
var errKeyFormat = errors.New("vault: the key must be 32 bytes written as 64 hex characters or in base64")

// ParseKey reads a 32-byte key given as 64 hex characters or in standard or URL base64, with or
// without padding.
func ParseKey(s string) ([]byte, error) {
	// Keys come from environment variables and secret files, which often end with a newline.
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil && len(key) == KeySize {
			return key, nil
		}
	}
	return nil, errKeyFormat
}

// NewKey returns a fresh random key in hex, for `screenflow dev` and documentation.
func NewKey() string {
	key := make([]byte, KeySize)
	rand.Read(key) // never fails: it crashes the program instead
	return hex.EncodeToString(key)
}

// KeyID names a key without revealing it: the first 4 bytes of a SHA-256 of the key, in hex. A
// key is 32 random bytes, so its hash tells nothing about it, and the id needs no configuring.
func KeyID(key []byte) string {
	id := keyID(key)
	return hex.EncodeToString(id[:])
}

func keyID(key []byte) [KeyIDSize]byte {
	sum := sha256.Sum256(append([]byte("screenflow vault key id\x00"), key...))
	return [KeyIDSize]byte(sum[:KeyIDSize])
}

type loadedKey struct {
	id   [KeyIDSize]byte
	aead cipher.AEAD
	// indexKey keys the blind indexes computed under this key. It is derived from the key, so a
	// rotation retires it together with the key.
	indexKey []byte
}

// Vault seals with its primary key and opens with any of its keys. It is safe for concurrent use.
type Vault struct {
	keys []loadedKey // keys[0] is the primary
}

// New returns a Vault with one key, which must be 32 bytes.
func New(key []byte) (*Vault, error) { return NewKeyring(key) }

// NewKeyring returns a Vault that seals with primary and opens values sealed by primary or by any
// of older, the keys being rotated away from. A key listed twice is loaded once.
func NewKeyring(primary []byte, older ...[]byte) (*Vault, error) {
	v := &Vault{}
	seen := map[[KeyIDSize]byte][]byte{}
	for _, key := range append([][]byte{primary}, older...) {
		// aes.NewCipher would also accept AES-128 and AES-192 keys.
		if len(key) != KeySize {
			return nil, fmt.Errorf("vault: the key must be %d bytes", KeySize)
		}
		id := keyID(key)
		if other, ok := seen[id]; ok {
			if hmac.Equal(other, key) {
				continue
			}
			return nil, fmt.Errorf("vault: two different keys have the same key id %x: replace one", id)
		}
		seen[id] = key
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		// The AEAD draws a random 12-byte nonce for every Seal and puts it in front of the
		// ciphertext, so nonce handling cannot go wrong here.
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		indexKey, err := hkdf.Key(sha256.New, key, nil, "screenflow blind index", sha256.Size)
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		v.keys = append(v.keys, loadedKey{id: id, aead: aead, indexKey: indexKey})
	}
	return v, nil
}

// PrimaryKeyID is the KeyID of the key that seals.
func (v *Vault) PrimaryKeyID() string { return hex.EncodeToString(v.keys[0].id[:]) }

// KeyIDs lists the KeyID of every loaded key, the primary first.
func (v *Vault) KeyIDs() []string {
	ids := make([]string, len(v.keys))
	for i, k := range v.keys {
		ids[i] = hex.EncodeToString(k.id[:])
	}
	return ids
}

// PrimaryPrefix is how every value sealed by the primary key begins (the version byte and the key
// id), so that a database can find the values sealed otherwise without opening them.
func (v *Vault) PrimaryPrefix() []byte {
	return append([]byte{versionKeyID}, v.keys[0].id[:]...)
}

// SealedWithPrimary reports whether sealed was sealed by the primary key (it does not check that
// the value opens).
func (v *Vault) SealedWithPrimary(sealed []byte) bool {
	return bytes.HasPrefix(sealed, v.PrimaryPrefix())
}

// Seal encrypts plaintext with the primary key, bound to associatedData, e.g. the id of the row
// that stores it, so that the sealed value cannot be moved to another row and still open. The
// result is the version byte, the key id, the 12-byte random nonce, then the ciphertext and its tag.
func (v *Vault) Seal(plaintext, associatedData []byte) []byte {
	primary := v.keys[0]
	return primary.aead.Seal(v.PrimaryPrefix(), nil, plaintext, associatedData)
}

// Open decrypts what Seal returned for the same associatedData, under whichever loaded key sealed
// it, or returns ErrCannotOpen.
func (v *Vault) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, ErrCannotOpen
	}
	switch sealed[0] {
	case versionKeyID:
		if len(sealed) < 1+KeyIDSize {
			return nil, ErrCannotOpen
		}
		id := [KeyIDSize]byte(sealed[1 : 1+KeyIDSize])
		for _, k := range v.keys {
			if k.id == id {
				return open(k.aead, sealed[1+KeyIDSize:], associatedData)
			}
		}
	case versionSingleKey:
		// Such a value names no key: the GCM tag tells the right one, and a wrong one costs one
		// failed tag check. Rotation re-seals these values, so this path dies out.
		for _, k := range v.keys {
			if plaintext, err := open(k.aead, sealed[1:], associatedData); err == nil {
				return plaintext, nil
			}
		}
	}
	return nil, ErrCannotOpen
}

func open(aead cipher.AEAD, nonceAndCiphertext, associatedData []byte) ([]byte, error) {
	if len(nonceAndCiphertext) < aead.Overhead() {
		return nil, ErrCannotOpen
	}
	plaintext, err := aead.Open(nil, nil, nonceAndCiphertext, associatedData)
	if err != nil {
		return nil, ErrCannotOpen
	}
	return plaintext, nil
}

// BlindIndex is a keyed hash of value under the primary key, for finding a sealed value by
// equality: HMAC-SHA256 with a key derived from the primary key for this purpose alone, e.g.
// "candidates.reference". Without the key it tells nothing, not even which values are equal
// across purposes.
func (v *Vault) BlindIndex(purpose string, value []byte) []byte {
	return blindIndex(v.keys[0].indexKey, purpose, value)
}

// BlindIndexes is value's BlindIndex under every loaded key, the primary first: while keys rotate,
// a stored index may have been computed under any of them.
func (v *Vault) BlindIndexes(purpose string, value []byte) [][]byte {
	all := make([][]byte, len(v.keys))
	for i, k := range v.keys {
		all[i] = blindIndex(k.indexKey, purpose, value)
	}
	return all
}

func blindIndex(indexKey []byte, purpose string, value []byte) []byte {
	mac := hmac.New(sha256.New, indexKey)
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write(value)
	return mac.Sum(nil)
}
