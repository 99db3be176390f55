package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPassword(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const pw = "correct horse battery staple"
	for _, tc := range []struct {
		name, file, want, wantErr string
	}{
		{name: "no file", file: "", want: ""},
		{name: "newline", file: write("nl", pw+"\n"), want: pw},
		{name: "crlf", file: write("crlf", pw+"\r\n"), want: pw},
		{name: "no newline", file: write("plain", pw), want: pw},
		{name: "spaces kept", file: write("spaces", " "+pw+" \n"), want: " " + pw + " "},
		{name: "empty", file: write("empty", "\n"), wantErr: "is empty"},
		{name: "two lines", file: write("two", pw+"\nsecond\n"), wantErr: "more than one line"},
		{name: "too long", file: write("long", strings.Repeat("x", maxPassword+1)), wantErr: "longer than 4096 bytes"},
		{name: "missing", file: filepath.Join(dir, "missing"), wantErr: "no such file or directory"},
		{name: "other variable", file: "$HOME/pw", wantErr: "only $CREDENTIALS_DIRECTORY is expanded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Postgres{PasswordFile: tc.file}.Password()
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Password() = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !IsInvalid(err) {
				t.Fatalf("Password() = %q, %v; want an *Error containing %q", got, err, tc.wantErr)
			}
			msg := err.Error()
			if strings.Contains(msg, "horse") || strings.Contains(msg, "second") || strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error shows the password or is not one line: %q", msg)
			}
			if !strings.HasPrefix(msg, "config: postgres.password_file: ") {
				t.Errorf("error does not name the key: %q", msg)
			}
		})
	}
}

func TestExpandPath(t *testing.T) {
	cleanEnv(t)
	t.Setenv(credVar, "/run/credentials/backupd.service")
	for _, tc := range []struct{ in, want, wantErr string }{
		{in: "/etc/pgtier/pw", want: "/etc/pgtier/pw"},
		{in: "$CREDENTIALS_DIRECTORY/pgpassword", want: "/run/credentials/backupd.service/pgpassword"},
		{in: "${CREDENTIALS_DIRECTORY}/pgpassword", want: "/run/credentials/backupd.service/pgpassword"},
		{in: "$CREDENTIALS_DIRECTORYX/pw", wantErr: "only $CREDENTIALS_DIRECTORY"},
		{in: "$HOME/pw", wantErr: "only $CREDENTIALS_DIRECTORY"},
		{in: "/etc/pgtier/$", wantErr: "only $CREDENTIALS_DIRECTORY"},
	} {
		got, err := ExpandPath(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ExpandPath(%q) = %q, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ExpandPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	t.Setenv(credVar, "")
	if _, err := ExpandPath("$CREDENTIALS_DIRECTORY/pw"); !errors.Is(err, ErrNoCredentialsDirectory) {
		t.Errorf("unset variable: %v", err)
	}
}
