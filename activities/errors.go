package activities

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// apiError is a provider's API error that knows whether the same call can succeed later.
type apiError interface {
	error
	Retryable() bool
}

// providerError marks answers that will not change on retry (4xx other than 408/429) as
// non-retryable, so that a bad request fails the check at once instead of retrying for a day.
// Transport errors and 5xx stay retryable.
func providerError(op string, err error) error {
	if err == nil {
		return nil
	}
	var apiErr apiError
	if errors.As(err, &apiErr) && !apiErr.Retryable() {
		return temporal.NewNonRetryableApplicationError(op+": "+apiErr.Error(), "ProviderRejected", nil)
	}
	return fmt.Errorf("%s: %w", op, err)
}
