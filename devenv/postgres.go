package devenv

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

// databaseName is the database StartPostgres makes sure exists.
const databaseName = "screenflow"

const postgresReadyTimeout = 30 * time.Second

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	Dir  string    // cluster directory: initdb'd when it has no PG_VERSION, reused otherwise
	Port int       // TCP port on 127.0.0.1; 0 picks a free one
	Log  io.Writer // server log; nil appends to postgres.log inside Dir
	// NoFsync turns fsync off: much faster, but a machine crash can corrupt the cluster, so it
	// is for throwaway clusters only.
	NoFsync bool
}

// Postgres is a running Postgres server, a child process of the caller.
type Postgres struct {
	URL string // postgres://postgres@127.0.0.1:<port>/screenflow?sslmode=disable

	port     int
	proc     *process
	logFile  *os.File // nil unless StartPostgres opened the log itself
	stopOnce sync.Once
	stopErr  error
}

// StartPostgres initdb's the cluster in opts.Dir if needed (trust auth, locale C, UTF8), starts the
// server on 127.0.0.1 with its unix socket inside Dir, waits until it accepts connections and
// creates the screenflow database if it is missing. ctx bounds the startup only.
//
// Postgres refuses to run as root. When the caller is root, the server runs as the postgres
// system user (or nobody), Dir is chowned to it, and every parent of Dir must be searchable by it.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	if opts.Dir == "" {
		return nil, errors.New("devenv: PostgresOptions.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("devenv: %w", err)
	}
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}

	if cred != nil {
		if err := checkSearchable(filepath.Dir(dir), cred); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := initdb(ctx, bin, dir, cred); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("devenv: %w", err)
	}

	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	args := []string{"-D", dir, "-p", strconv.Itoa(port), "-h", "127.0.0.1", "-k", dir}
	if opts.NoFsync {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	// SIGINT is Postgres's fast shutdown.
	dieWithParent(cmd.SysProcAttr, syscall.SIGINT)
	tail := newTailBuffer(4096)
	var logFile *os.File
	if opts.Log != nil {
		cmd.Stdout = io.MultiWriter(opts.Log, tail)
	} else {
		f, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("devenv: postgres log: %w", err)
		}
		logFile = f
		cmd.Stdout = io.MultiWriter(f, tail)
	}
	cmd.Stderr = cmd.Stdout
	proc, err := startProcess("postgres", cmd)
	if err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return nil, err
	}
	p := &Postgres{URL: postgresURL(port, databaseName), port: port, proc: proc, logFile: logFile}
	if err := p.waitReady(ctx); err != nil {
		p.Stop()
		return nil, fmt.Errorf("devenv: postgres in %s: %w\n--- server log (tail) ---\n%s", dir, err, tail)
	}
	return p, nil
}

// AdminURL returns the URL of the server's "postgres" maintenance database, for statements such
// as CREATE DATABASE.
func (p *Postgres) AdminURL() string { return postgresURL(p.port, "postgres") }

// Stop shuts the server down the way `pg_ctl stop -m fast` does, by sending SIGINT (pg_ctl itself
// refuses to run as root), and kills it if it is still running after 30s. It is safe to call
// more than once.
func (p *Postgres) Stop() error {
	p.stopOnce.Do(func() {
		p.stopErr = p.proc.stop(syscall.SIGINT, 30*time.Second)
		if p.logFile != nil {
			p.logFile.Close()
		}
	})
	return p.stopErr
}

func postgresURL(port int, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     "127.0.0.1:" + strconv.Itoa(port),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// waitReady waits until the server accepts connections, then creates the screenflow database if
// it is missing.
func (p *Postgres) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, postgresReadyTimeout)
	defer cancel()
	db, err := sql.Open("postgres", p.AdminURL())
	if err != nil {
		return err
	}
	defer db.Close()
	for {
		err := db.PingContext(ctx)
		if err == nil {
			break
		}
		if exitErr := p.proc.exited(); exitErr != nil {
			return exitErr
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not accepting connections: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}

	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", databaseName).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", databaseName, err)
	}
	if exists {
		return nil
	}
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(databaseName))
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "42P04" { // duplicate_database: another process won the race
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", databaseName, err)
	}
	return nil
}

func initdb(ctx context.Context, bin, dir string, cred *syscall.Credential) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("devenv: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("devenv: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("devenv: initdb %s: %w\n%s", dir, err, out.String())
	}
	return nil
}

// checkSearchable fails with a useful message when the server's user could not reach the cluster
// directory, which otherwise surfaces as an obscure initdb "permission denied".
func checkSearchable(dir string, cred *syscall.Credential) error {
	for {
		info, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("devenv: %w", err)
		}
		st := info.Sys().(*syscall.Stat_t)
		perm := info.Mode().Perm()
		var ok bool
		switch {
		case st.Uid == cred.Uid:
			ok = perm&0o100 != 0
		case st.Gid == cred.Gid:
			ok = perm&0o010 != 0
		default:
			ok = perm&0o001 != 0
		}
		if !ok {
			return fmt.Errorf("devenv: postgres runs as uid %d, which cannot enter %s (mode %s): make it searchable (chmod o+x) or use another directory", cred.Uid, dir, perm)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// serverCredential returns the identity to run the server as: nil (the caller's own) unless the
// caller is root, whom initdb and postgres refuse.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var lastErr error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			lastErr = err
			continue
		}
		uid, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("devenv: uid of %s: %w", name, err)
		}
		gid, err := strconv.ParseUint(u.Gid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("devenv: gid of %s: %w", name, err)
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("devenv: running as root, and no postgres or nobody user to run Postgres as: %w", lastErr)
}

// postgresBinDir finds the directory holding initdb and postgres: Debian's Postgres 15 location,
// then what pg_config reports, then wherever postgres is on PATH.
func postgresBinDir() (string, error) {
	const debian = "/usr/lib/postgresql/15/bin"
	if isFile(filepath.Join(debian, "postgres")) {
		return debian, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); isFile(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	if path, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(path), nil
	}
	return "", errors.New("devenv: Postgres server binaries not found in " + debian + ", pg_config --bindir or PATH")
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}
