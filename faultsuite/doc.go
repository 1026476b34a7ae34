// Package faultsuite is screenflow's fault suite. It runs screenings on the real stack — Temporal's
// dev server persisting to a SQLite file, a throwaway Postgres cluster, `screenflow serve` and
// `screenflow worker` as separate processes built from ./cmd/screenflow, and the fake ComplyCube
// over HTTP — while it stops and restarts Temporal, SIGKILLs the worker and serve, and restarts
// Postgres. Then it holds the outcome to a ledger: every acknowledged webhook is in the inbox,
// every screening completed exactly once, one client, one check and one report per screening
// check at the provider, and no duplicate timeline entries.
//
// The suite is behind the build tag fault, so that `go test ./...` does not run it:
//
//	make fault
//
// which is
//
//	TEMPORAL_CLI=.bin/temporal-v1.5.1/temporal go test -tags fault -count=1 -run TestFaultSuite -v -timeout 20m ./faultsuite/
package faultsuite
