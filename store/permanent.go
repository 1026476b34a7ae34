package store

import (
	"errors"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// IsPermanent reports whether a store error will repeat however often the call is retried: the
// row does not exist, Postgres refuses the data (a NUL byte, a broken constraint) or the SQL
// itself. Connection failures, serialization failures and a server shutting down are not: those
// are retried until Postgres is back.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return false
	}
	switch pqErr.Code.Class() {
	case pqerror.ClassDataException, pqerror.ClassIntegrityConstraintViolation, pqerror.ClassCardinalityViolation,
		pqerror.ClassSyntaxErrorOrAccessRuleViolation, pqerror.ClassFeatureNotSupported:
		return true
	}
	return false
}
