package devenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// composeSecrets are the variables docker-compose.yml requires with ${VAR:?...}.
var composeSecrets = []string{"POSTGRES_PASSWORD", "COMPLYCUBE_API_KEY", "COMPLYCUBE_WEBHOOK_SECRET"}

// TestDockerCompose validates docker-compose.yml with `docker-compose config`, which needs no
// Docker engine. Debian's docker-compose (1.29) is the oldest we support, so it is the judge.
func TestDockerCompose(t *testing.T) {
	if testing.Short() {
		t.Skip("needs docker-compose; run without -short")
	}
	compose, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose is not installed (`make test` installs it, or apt-get install docker-compose): %v", err)
	}
	root, err := RepoRoot()
	require.NoError(t, err)
	file := filepath.Join(root, "docker-compose.yml")

	config := func(env []string, args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), compose, append([]string{"-f", file, "config"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !slices.Contains(composeSecrets, name) {
			env = append(env, kv)
		}
	}
	withSecrets := slices.Clone(env)
	for _, name := range composeSecrets {
		withSecrets = append(withSecrets, name+"=placeholder")
	}

	out, err := config(withSecrets, "-q")
	require.NoError(t, err, out)

	out, err = config(withSecrets, "--services")
	require.NoError(t, err, out)
	require.ElementsMatch(t,
		[]string{"postgres", "temporal", "temporal-setup", "temporal-ui", "migrate", "serve", "worker"},
		strings.Fields(out))

	// Secrets have no defaults: a missing one stops compose before anything starts.
	out, err = config(env, "-q")
	require.Error(t, err)
	require.Contains(t, out, "set POSTGRES_PASSWORD")
}
