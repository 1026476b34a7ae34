// Package vault encrypts secrets kept at rest, such as Checkr OAuth access tokens, with AES-256-GCM.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of an AES-256 key.
const KeySize = 32

// version is the first byte of every sealed value, so that a later change of algorithm or key can
// tell old values from new ones.
const version = 1

// ErrCannotOpen means a sealed value could not be decrypted. It does not say why (wrong key, wrong
// associated data, tampering, truncation, unknown version): none of them is the caller's to fix
// differently, and telling them apart would help an attacker.
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

// Vault seals and opens secrets with one key. It is safe for concurrent use.
type Vault struct {
	aead cipher.AEAD
}

// New returns a Vault using key, which must be 32 bytes.
func New(key []byte) (*Vault, error) {
	// aes.NewCipher would also accept AES-128 and AES-192 keys.
	if len(key) != KeySize {
		return nil, fmt.Errorf("vault: the key must be %d bytes", KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	// The AEAD draws a random 12-byte nonce for every Seal and puts it in front of the ciphertext,
	// so nonce handling cannot go wrong here.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return &Vault{aead: aead}, nil
}

// Seal encrypts plaintext bound to associatedData, e.g. the id of the row that stores it, so that
// the sealed value cannot be moved to another row and still open. The result is the version byte,
// the 12-byte random nonce, then the ciphertext and its tag.
func (v *Vault) Seal(plaintext, associatedData []byte) []byte {
	return v.aead.Seal([]byte{version}, nil, plaintext, associatedData)
}

// Open decrypts what Seal returned for the same associatedData, or returns ErrCannotOpen.
func (v *Vault) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < 1+v.aead.Overhead() || sealed[0] != version {
		return nil, ErrCannotOpen
	}
	plaintext, err := v.aead.Open(nil, nil, sealed[1:], associatedData)
	if err != nil {
		return nil, ErrCannotOpen
	}
	return plaintext, nil
}
