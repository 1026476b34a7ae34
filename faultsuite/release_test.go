//go:build fault && linux

package faultsuite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

const (
	// deployFromEnv names a git ref to deploy from instead of the pinned previous release, to try
	// an older one.
	deployFromEnv = "SCREENFLOW_DEPLOY_FROM"
	// previousReleaseFile pins the release the deploy test upgrades from: the full hash of the
	// commit of the latest release. Move it when a release is cut (README: Changing a workflow).
	previousReleaseFile = "testdata/previous-release"
)

// providerNames are the providers a release may have, each in providers/<name>/.
var providerNames = []string{"complycube", "authenticate", "checkr"}

// release is a screenflow binary and what its source tree has.
type release struct {
	name      string // "previous" or "current", the prefix of its processes' names
	commit    string // "" for the working tree
	bin       string
	providers map[string]bool
}

var fullHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// previousReleaseRef returns the ref to deploy from and where it was named.
func previousReleaseRef() (ref, from string, err error) {
	if ref := strings.TrimSpace(os.Getenv(deployFromEnv)); ref != "" {
		return ref, deployFromEnv, nil
	}
	raw, err := os.ReadFile(previousReleaseFile)
	if err != nil {
		return "", "", err
	}
	ref = strings.TrimSpace(string(raw))
	if !fullHash.MatchString(ref) {
		return "", "", fmt.Errorf("%s must hold a full 40-hex commit hash, not %q", previousReleaseFile, ref)
	}
	return ref, previousReleaseFile, nil
}

// buildRelease extracts the commit's tree from the repository at root into dir/src, without
// touching root's work tree or index, and builds its binary into dir/screenflow.
func buildRelease(ctx context.Context, root, ref, dir string) (release, error) {
	commit, err := git(ctx, root, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		return release{}, fmt.Errorf("the release to deploy from, %q, is not a commit in %s. A shallow or "+
			"single-branch clone lacks older commits: run `git fetch --unshallow origin` (or `git fetch origin %s`) "+
			"and try again", ref, root, ref)
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return release{}, err
	}
	archive := exec.CommandContext(ctx, "git", "-C", root, "archive", commit)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", src)
	if untar.Stdin, err = archive.StdoutPipe(); err != nil {
		return release{}, err
	}
	var archiveErr bytes.Buffer
	archive.Stderr = &archiveErr
	if err := archive.Start(); err != nil {
		return release{}, err
	}
	untarOut, untarErr := untar.CombinedOutput()
	if err := archive.Wait(); err != nil {
		return release{}, fmt.Errorf("git archive %s: %w\n%s", commit, err, archiveErr.Bytes())
	}
	if untarErr != nil {
		return release{}, fmt.Errorf("tar -x of git archive %s: %w\n%s", commit, untarErr, untarOut)
	}
	r := release{name: "previous", commit: commit, bin: filepath.Join(dir, "screenflow"), providers: providersIn(src)}
	return r, buildScreenflow(ctx, src, r.bin)
}

// providersIn lists the providers a source tree has.
func providersIn(src string) map[string]bool {
	has := map[string]bool{}
	for _, name := range providerNames {
		if info, err := os.Stat(filepath.Join(src, "providers", name)); err == nil && info.IsDir() {
			has[name] = true
		}
	}
	return has
}

// git runs a read-only git command in the repository and returns its trimmed output.
func git(ctx context.Context, root string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", append([]string{"-C", root}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}
