package activities

import (
	"errors"
	"fmt"
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
	// ErrTypeProviderUnavailable: the provider failed the call or could not be reached (a 5xx, a
	// 408 or 429, a timeout); the retry policy tries again.
	ErrTypeProviderUnavailable = "ProviderUnavailable"
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
	// ErrTypeNotConfigured: a setting the call needs is not set; retrying cannot help until a
	// deploy sets it.
	ErrTypeNotConfigured = "NotConfigured"
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

// providerFailure is a provider client's error: an answer that is not a success (the provider's
// APIError) or no answer at all. Neither quotes what the provider wrote or what we sent.
type providerFailure interface {
	error
	Retryable() bool
	Operation() string // the call, "POST /clients"
	Reason() string    // "HTTP 422, code: validation_error", or why no answer came, "timeout"
}

// providerError puts a provider client's error in our words, "ComplyCube refused POST /clients
// (HTTP 422, code: validation_error)": its message becomes a check's failure reason, its timeline
// and the activity's failure in Temporal history, so it carries the call, the status and the
// provider's code, never a provider's text (which can echo the candidate's data). An answer that
// will not change on retry (a 4xx other than 408/429) fails for good, so that a bad request fails
// the check at once instead of retrying for a day; 5xx and calls that got no answer stay
// retryable. Any other error is the client's own words and is returned as it is.
func providerError(provider string, err error) error {
	var failure providerFailure
	if !errors.As(err, &failure) {
		return err
	}
	if !failure.Retryable() {
		return permanent(fmt.Sprintf("%s refused %s (%s)", provider, failure.Operation(), failure.Reason()),
			ErrTypeProviderRejected)
	}
	return retryable(fmt.Sprintf("%s did not complete %s (%s)", provider, failure.Operation(), failure.Reason()),
		ErrTypeProviderUnavailable)
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
