package activities

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/store"
)

// The types of the application errors activities return, which workflows and retry policies tell
// apart. Every error an activity fails with on purpose is made here.
const (
	// ErrTypeNotReady: the provider has not finished yet (a check, a search, a report). Polling
	// activities fail with it so that their retry policy is the polling loop.
	ErrTypeNotReady = "NotReady"
	// ErrTypeProviderRejected: the provider refused the call in a way it will repeat (a 4xx).
	ErrTypeProviderRejected = "ProviderRejected"
	// ErrTypeRateLimited: the provider asked us to wait; retried after its delay.
	ErrTypeRateLimited = "RateLimited"
	// ErrTypeAnswersLost: so many answers of a provider call without lookup or idempotency key
	// were lost that trying again would only leave more duplicates at the provider.
	ErrTypeAnswersLost = "ProviderAnswersLost"
	// ErrTypeInvalidCandidate: the stored candidate cannot be sent as it is.
	ErrTypeInvalidCandidate = "InvalidCandidate"
	// ErrTypeReportLinkExpired: a report's link expired; a new report must be requested.
	ErrTypeReportLinkExpired = "ReportLinkExpired"
	// ErrTypeDownloadExpired: a document's download link expired; the next attempt gets a new one.
	ErrTypeDownloadExpired = "DownloadExpired"
	// ErrTypeAccountDeauthorized: the integrated account's access was revoked.
	ErrTypeAccountDeauthorized = "AccountDeauthorized"
	// ErrTypeAccountUnknown: the integrated account is not connected.
	ErrTypeAccountUnknown = "AccountUnknown"
	// ErrTypeSealedTokenUnreadable: a sealed access token cannot be opened with the configured key.
	ErrTypeSealedTokenUnreadable = "SealedTokenUnreadable"
	// ErrTypeStoreRefused: Postgres refuses the call in a way it will repeat (store.IsPermanent).
	ErrTypeStoreRefused = "StoreRefused"
)

// notReady fails a polling activity so that its retry policy polls again.
func notReady(message string) error { return retryable(message, ErrTypeNotReady) }

// retryable fails an activity with a type the workflow can tell apart; its retry policy applies.
func retryable(message, errType string) error {
	return temporal.NewApplicationError(message, errType)
}

// permanent fails an activity for good: retrying cannot help.
func permanent(message, errType string) error {
	return temporal.NewNonRetryableApplicationError(message, errType, nil)
}

// retryAfter fails an activity to be retried after delay, whatever its retry policy says.
func retryAfter(message, errType string, delay time.Duration) error {
	return temporal.NewApplicationErrorWithOptions(message, errType,
		temporal.ApplicationErrorOptions{NextRetryDelay: delay})
}

// apiError is a provider's API error that knows whether the same call can succeed later.
type apiError interface {
	error
	Retryable() bool
}

// providerError marks answers that will not change on retry (4xx other than 408/429) as
// non-retryable, so that a bad request fails the check at once instead of retrying for a day.
// Transport errors and 5xx stay retryable. The provider client's error already names the
// provider and the call, so it is not wrapped again.
func providerError(err error) error {
	var apiErr apiError
	if errors.As(err, &apiErr) && !apiErr.Retryable() {
		return permanent(err.Error(), ErrTypeProviderRejected)
	}
	return err
}

// StoreError fails an activity for good when Postgres will refuse the same call again, so that a
// poison input fails its check with a reason instead of being retried for a day; other errors are
// returned as they are. The worker applies it to every activity (worker.New).
func StoreError(err error) error {
	var appErr *temporal.ApplicationError
	if err == nil || errors.As(err, &appErr) || !store.IsPermanent(err) {
		return err
	}
	return permanent(err.Error(), ErrTypeStoreRefused)
}
