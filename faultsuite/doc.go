// Package faultsuite holds the tests that run screenflow as it is deployed: `screenflow serve`
// and `screenflow worker` as separate processes, Temporal's dev server persisting to a SQLite
// file, a throwaway Postgres cluster, and the provider fakes over HTTP. platform_test.go and
// proc_test.go are the stack both tests share.
//
// The fault suite (TestFaultSuite) runs screenings while it stops and restarts Temporal,
// SIGKILLs the worker and serve, and restarts Postgres. Then it holds the outcome to a ledger:
// every acknowledged webhook is in the inbox, every screening completed exactly once, one client,
// one check and one report per screening check at the provider, and no duplicate timeline entries.
//
// The deploy test (TestDeploy) builds the previous release's binary from git (the commit in
// testdata/previous-release, or SCREENFLOW_DEPLOY_FROM=<ref>), starts screenings of every
// provider with it and leaves them waiting, replaces serve and the worker by the current binary's
// after its migrate, and requires every screening completed with no failed workflow task. A task
// Temporal refused because a signal came in while it completed (UnhandledCommand) is counted
// apart: Temporal redoes it with the signal, which is how a closing workflow still sees it.
//
// Both are behind the build tag fault, so that `go test ./...` does not run them:
//
//	make fault        # TEMPORAL_CLI=.bin/temporal-v1.5.1/temporal go test -tags fault -count=1 -run TestFaultSuite -v -timeout 20m ./faultsuite/
//	make deploy-test  # the same with -run TestDeploy
package faultsuite
