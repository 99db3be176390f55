package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pgtier/pgtier/snapshot"
)

// amcheck runs pg_amcheck, from the tools' directory, on the database of c:
// heap tables and their TOAST, and B-tree indexes. It first creates the
// amcheck extension in that database, which needs a superuser (amcheck is
// not a trusted extension); when that fails, or pg_amcheck or amcheck 1.3
// (PostgreSQL 14) is not installed, the check is skipped, saying why.
func amcheck(ctx context.Context, tools snapshot.Tools, c snapshot.Conn) Check {
	skip := func(why string) Check { return Check{Name: CheckAmcheck, Result: ResultSkipped, Detail: why} }
	bin := filepath.Join(tools.Dir, "pg_amcheck")
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return skip("no pg_amcheck in " + tools.Dir + " (it comes with PostgreSQL 14 and later)")
	}
	version, err := createAmcheck(ctx, c)
	if err != nil {
		return skip(err.Error())
	}
	if !versionAtLeast(version, 1, 3) {
		return skip(fmt.Sprintf("the server's amcheck extension is version %s; pg_amcheck needs 1.3 (PostgreSQL 14)", version))
	}
	cmd := exec.CommandContext(ctx, bin, "--no-password", "dbname="+quoteConnValue(c.Database))
	cmd.Env = c.Env()
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = toolWaitDelay
	err = cmd.Run()
	text := c.Redact(errors.New(lastLines(out.String(), 6))).Error()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return Check{Name: CheckAmcheck, Result: ResultPass, Detail: "pg_amcheck found no corruption in the tables and B-tree indexes of " + c.Database}
	case errors.As(err, &exit) && exit.ExitCode() == 2:
		return Check{Name: CheckAmcheck, Result: ResultFail, Detail: "pg_amcheck found corruption in " + c.Database + ": " + text}
	default:
		return Check{Name: CheckAmcheck, Result: ResultFail, Detail: fmt.Sprintf("pg_amcheck on %s: %v: %s", c.Database, err, text)}
	}
}

// createAmcheck runs CREATE EXTENSION IF NOT EXISTS amcheck in the database
// of c and returns the extension's version.
func createAmcheck(ctx context.Context, c snapshot.Conn) (string, error) {
	conn, err := snapshot.Connect(ctx, c)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS amcheck"); err != nil {
		return "", c.Redact(fmt.Errorf("cannot create extension amcheck in %s (it needs a superuser and the contrib package): %w", c.Database, err))
	}
	var version string
	if err := conn.QueryRow(ctx, "SELECT extversion FROM pg_extension WHERE extname = 'amcheck'").Scan(&version); err != nil {
		return "", c.Redact(fmt.Errorf("reading the version of extension amcheck: %w", err))
	}
	return version, nil
}

// versionAtLeast compares an extension version "MAJOR.MINOR" with
// major.minor.
func versionAtLeast(v string, major, minor int) bool {
	a, b, _ := strings.Cut(v, ".")
	ma, err1 := strconv.Atoi(a)
	mi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
