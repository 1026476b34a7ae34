package store

import "bytes"

// requestFingerprintPurpose keys what screenings.request_hash stores of a request.
const requestFingerprintPurpose = "screenings.request"

// requestFingerprint is what screenings.request_hash keeps of a request's SHA-256: keyed with the
// vault, because the request holds the candidate's PII and a plain hash would let anyone reading
// the table confirm a guessed candidate. The tenant is part of it, as in the reference's index.
func (s *Store) requestFingerprint(tenantID string, requestHash []byte) []byte {
	if s.vault == nil {
		return requestHash
	}
	return s.vault.BlindIndex(requestFingerprintPurpose, referenceIndexInput(tenantID, string(requestHash)))
}

// sameRequest reports whether stored is requestHash's fingerprint under any loaded key, so a retry
// still matches while keys rotate; or requestHash itself, as releases before the keyed fingerprint
// stored it. A retry that comes after the key it was fingerprinted under has been removed reads as
// a different request: idempotency keys are for retries within hours, rotations are months apart.
func (s *Store) sameRequest(tenantID string, stored, requestHash []byte) bool {
	if bytes.Equal(stored, requestHash) {
		return true
	}
	if s.vault == nil {
		return false
	}
	for _, fingerprint := range s.vault.BlindIndexes(requestFingerprintPurpose, referenceIndexInput(tenantID, string(requestHash))) {
		if bytes.Equal(stored, fingerprint) {
			return true
		}
	}
	return false
}
