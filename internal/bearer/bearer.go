// Package bearer reads the Bearer token of an Authorization header (RFC 6750), one way for every
// endpoint that takes one: the HR and operator API, /metrics and the codec server.
package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// Token extracts the token of a Bearer Authorization header. The scheme is case-insensitive (RFC
// 9110, section 11.1); the token is one word.
func Token(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// Matches says whether header carries want as its Bearer token. The tokens are compared by their
// SHA-256 in constant time, so that neither the bytes nor the length of want leak.
func Matches(header, want string) bool {
	got, ok := Token(header)
	gotSum, wantSum := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return ok && subtle.ConstantTimeCompare(gotSum[:], wantSum[:]) == 1
}
