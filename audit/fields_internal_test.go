package audit

import (
	"reflect"
	"strings"
	"testing"
)

func TestLooksSecret(t *testing.T) {
	secret := []string{
		"postgres://app:hunter2@db.example:5432/app",
		"postgresql://:hunter2@db/app",
		"host=db user=app password=hunter2 dbname=app",
		"host=db PASSWORD = 'two words'",
		`password="x"`,
		"PGPASSWORD=hunter2 pg_restore",
		"sslpassword=pw",
		"aws_secret_access_key=abc",
		"AGE-SECRET-KEY-1QQQQ",
		"age-secret-key-1qqqq",
	}
	for _, s := range secret {
		if !looksSecret(s) {
			t.Errorf("looksSecret(%q) = false", s)
		}
	}
	clean := []string{
		"",
		"host=db port=5432 user=app dbname=app password=***",
		"postgres://app:xxxxx@db/app",
		"postgres://app@db/app",
		"https://minio.example:9000/bucket",
		"s3://bucket/prefix/prod/audit",
		`FATAL: password authentication failed for user "app"`,
		"reading password file /run/credentials/pg: permission denied",
		"password='' dbname=x",
		"password=xxxxx",
		"password=[REDACTED]",
		"/srv/restore/app@2026.dump",
		"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
		"bypass=1",
	}
	for _, s := range clean {
		if looksSecret(s) {
			t.Errorf("looksSecret(%q) = true", s)
		}
	}
}

// TestTextFieldsCoverEveryString guards the secret check: every string field
// of Record must be listed by textFields.
func TestTextFieldsCoverEveryString(t *testing.T) {
	var r Record
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("password=field" + v.Type().Field(i).Name)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"password=fieldslice"}))
		}
	}
	got := map[string]bool{}
	for _, f := range r.textFields() {
		got[f.value] = true
	}
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		want := "password=field" + sf.Name
		if sf.Type.Kind() == reflect.Slice {
			want = "password=fieldslice"
		}
		if (sf.Type.Kind() == reflect.String || sf.Type.Kind() == reflect.Slice) && !got[want] {
			t.Errorf("textFields misses %s", sf.Name)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("  pg_restore: error\n\tline two\r\n"); got != "pg_restore: error  line two" {
		t.Errorf("oneLine = %q", got)
	}
	long := strings.Repeat("é", maxErrorBytes)
	got := oneLine(long)
	if len(got) > maxErrorBytes || !strings.HasSuffix(got, "...") || !strings.HasPrefix(got, "é") {
		t.Errorf("oneLine of a long text: %d bytes, ends %q", len(got), got[len(got)-5:])
	}
	if got := oneLine("bad \xff byte"); got != "bad \uFFFD byte" {
		t.Errorf("oneLine = %q", got)
	}
}

func TestParseKey(t *testing.T) {
	p := Prefix("prod")
	if k := Key("prod", 7); k != "prod/audit/00000000000000000007.json" {
		t.Fatalf("Key = %q", k)
	}
	for key, want := range map[string]int64{
		"prod/audit/00000000000000000007.json":    7,
		"prod/audit/00000000000000000000.json":    0,
		"prod/audit/0000000000000000007.json":     0,
		"prod/audit/99999999999999999999.json":    0,
		"prod/audit/0000000000000000000x.json":    0,
		"prod/audit/00000000000000000007.json~":   0,
		"staging/audit/00000000000000000007.json": 0,
	} {
		seq, ok := parseKey(p, key)
		if seq != want || ok != (want != 0) {
			t.Errorf("parseKey(%q) = %d, %v", key, seq, ok)
		}
	}
}
