package configs

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// cleanEnv blanks every PGTIER_ variable and $CREDENTIALS_DIRECTORY for the
// test, so the machine's environment cannot change what Load sees.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PGTIER_") || name == credVar {
			t.Setenv(name, "")
		}
	}
}

// portable replaces the working directory in s so goldens do not depend on
// where the checkout lives.
func portable(t *testing.T, s string) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(s, wd, "$PWD")
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./configs -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\ngot:  %s\nwant: %s", path, got, want)
	}
}

func TestGoodFixtures(t *testing.T) {
	cleanEnv(t)
	files, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if c.Location() == nil || c.Location().String() != c.Timezone {
				t.Errorf("Location() = %v for timezone %q", c.Location(), c.Timezone)
			}
			b, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".json", portable(t, string(b))+"\n")
		})
	}
}

func TestBadFixtures(t *testing.T) {
	cleanEnv(t)
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			checkOneLine(t, f, err)
			golden(t, strings.TrimSuffix(f, ".yaml")+".err", portable(t, err.Error())+"\n")
		})
	}
}

// checkOneLine checks the shape every Load error must have.
func checkOneLine(t *testing.T, file string, err error) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) || !IsInvalid(err) {
		t.Fatalf("error is %T, not *Error: %v", err, err)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, "config "+file+": ") {
		t.Errorf("error does not start with the file: %q", msg)
	}
	for _, secret := range []string{"hunter2", "wJalrXUtnFEMI", "not-a-real-password"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error shows a secret: %q", msg)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	cleanEnv(t)
	_, err := Load("testdata/nonexistent.yaml")
	if !IsInvalid(err) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load = %v; want an *Error wrapping ErrNotExist", err)
	}
	want := "config testdata/nonexistent.yaml: cannot read: open testdata/nonexistent.yaml: no such file or directory; pass the path of the pgtier YAML file (see configs/example.yaml)"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
}

func TestKeys(t *testing.T) {
	keys := Keys()
	if len(keys) != 42 {
		t.Errorf("%d keys: %v", len(keys), keys)
	}
	envs := map[string]string{}
	for _, k := range keys {
		if other, ok := envs[EnvName(k)]; ok {
			t.Errorf("%s and %s share %s", k, other, EnvName(k))
		}
		envs[EnvName(k)] = k
		if secretFix(k) != "" {
			t.Errorf("key %s looks like a secret", k)
		}
	}
	for k := range defaults() {
		if !isLeaf(k) {
			t.Errorf("default for unknown key %s", k)
		}
	}
	if got := EnvName("tiers.base.min"); got != "PGTIER_TIERS_BASE_MIN" {
		t.Errorf("EnvName = %s", got)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "/etc/pgtier/pgtier.yaml", Key: "storage.url", Problem: "required", Fix: "set it"},
			"config /etc/pgtier/pgtier.yaml: storage.url: required; set it"},
		{Error{File: "f.yaml", Key: "postgres.port", Env: "PGTIER_POSTGRES_PORT", Problem: "bad\nvalue", Fix: "fix"},
			"config f.yaml: postgres.port (from PGTIER_POSTGRES_PORT): bad value; fix"},
		{Error{File: "f.yaml", Problem: "invalid YAML"}, "config f.yaml: invalid YAML"},
		{Error{Key: "postgres.password_file", Problem: "p", Fix: "f"}, "config: postgres.password_file: p; f"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
	wrapped := errors.Join(errors.New("x"), &Error{Problem: "p"})
	if !IsInvalid(wrapped) || IsInvalid(errors.New("x")) || IsInvalid(nil) {
		t.Error("IsInvalid")
	}
}
