package devenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// composeSecrets are the variables docker-compose.yml requires with ${VAR:?...}.
var composeSecrets = []string{"POSTGRES_PASSWORD", "SCREENFLOW_ENCRYPTION_KEY", "COMPLYCUBE_API_KEY", "COMPLYCUBE_WEBHOOK_SECRET"}

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

	// Temporal's frontend and UI have no authentication and Postgres holds candidate data: only
	// screenflow's HTTP port may be reachable from beyond the host.
	out, err = config(withSecrets)
	require.NoError(t, err, out)
	var normalized struct {
		Services map[string]struct {
			Ports       []any  `yaml:"ports"`
			NetworkMode string `yaml:"network_mode"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(out), &normalized))
	published := map[string][]string{}
	for name, service := range normalized.Services {
		require.NotEqualf(t, "host", service.NetworkMode, "%s shares the host's network", name)
		for _, port := range service.Ports {
			// docker-compose writes a port bound to an address in the short form
			// "127.0.0.1:7233:7233/tcp" and one open on every interface as a mapping.
			if short, ok := port.(string); ok && strings.HasPrefix(short, "127.0.0.1:") {
				continue
			}
			published[name] = append(published[name], fmt.Sprint(port))
		}
	}
	require.Equal(t, map[string][]string{"serve": {"map[published:8080 target:8080]"}}, published,
		"ports published beyond 127.0.0.1")

	// Secrets have no defaults: a missing one stops compose before anything starts.
	out, err = config(env, "-q")
	require.Error(t, err)
	require.Contains(t, out, "set POSTGRES_PASSWORD")
}
