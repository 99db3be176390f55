package audit_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgtier/pgtier/audit"
)

// begin returns a complete begin record for backup id.
func begin(id string) audit.Record {
	return audit.Record{
		Kind:          audit.KindBegin,
		OSUser:        "alice",
		UID:           1000,
		Host:          "ops1",
		CloudIdentity: "arn:aws:iam::123456789012:user/alice",
		IdentityKeys:  []string{"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"},
		Action:        audit.ActionRestore,
		Cluster:       "main",
		Database:      "app",
		BackupID:      id,
		ObjectKey:     "prod/main/app/" + id + ".dump.zst.age",
		ObjectVersion: "v1",
		SHA256:        strings.Repeat("ab", 32),
		Target:        "host=db port=5432 user=restore dbname=app_restore password=***",
		Reason:        "INC-42: recover deleted rows",
	}
}

// stored returns r as Append would store it: record seq of "prod".
func stored(r audit.Record, seq int64, prev string) audit.Record {
	r.Format, r.Seq, r.PrevSHA256 = audit.Format, seq, prev
	r.Time = time.Date(2026, 11, 21, 6, 0, 0, 123, time.UTC)
	r.Environment, r.SourceEnvironment = "prod", "prod"
	return r
}

func TestEncodeDecode(t *testing.T) {
	r := stored(begin("20261121T060000Z"), 1, "")
	data, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"format": 1,`, `"seq": 1,`, `"prev_sha256": "",`, `"kind": "begin",`,
		`"time": "2026-11-21T06:00:00.000000123Z"`, `"cross_environment": false`, `"bytes": 0`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("encoded record lacks %s:\n%s", want, data)
		}
	}
	got, err := audit.DecodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := got.Encode()
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("round trip changed the record (%v):\n%s", err, again)
	}
}

func TestDecodeStrict(t *testing.T) {
	r := stored(begin("20261121T060000Z"), 1, "")
	data, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"unknown field":  bytes.Replace(data, []byte(`"format": 1,`), []byte(`"format": 1, "extra": 1,`), 1),
		"trailing data":  append(bytes.Clone(data), []byte("{}")...),
		"compact":        bytes.ReplaceAll(data, []byte("\n  "), nil),
		"duplicate key":  bytes.Replace(data, []byte(`"seq": 1,`), []byte(`"seq": 1,`+"\n  "+`"seq": 1,`), 1),
		"other case key": bytes.Replace(data, []byte(`"seq"`), []byte(`"SEQ"`), 1),
		"not json":       []byte("seq=1"),
		"empty":          nil,
		"wrong format":   bytes.Replace(data, []byte(`"format": 1,`), []byte(`"format": 2,`), 1),
		"secret":         bytes.Replace(data, []byte(`password=***`), []byte(`password=hunter2`), 1),
	} {
		if _, err := audit.DecodeRecord(bad); !errors.Is(err, audit.ErrInvalidRecord) {
			t.Errorf("%s: DecodeRecord error %v, want ErrInvalidRecord", name, err)
		}
	}
}

func TestRecordChecks(t *testing.T) {
	id := "20261121T060000Z"
	end := func(f func(*audit.Record)) audit.Record {
		r := stored(begin(id), 2, strings.Repeat("0", 64)).End(audit.OutcomeFailure, "pg_restore: exit status 1", 10)
		r = stored(r, 3, strings.Repeat("1", 64))
		r.BeginSeq = 2
		f(&r)
		return r
	}
	beginWith := func(f func(*audit.Record)) audit.Record {
		r := stored(begin(id), 1, "")
		f(&r)
		return r
	}
	good := []audit.Record{beginWith(func(*audit.Record) {}), end(func(*audit.Record) {})}
	for _, r := range good {
		data, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.DecodeRecord(data); err != nil {
			t.Errorf("valid %s record refused: %v", r.Kind, err)
		}
	}
	bad := map[string]audit.Record{
		"no reason":         beginWith(func(r *audit.Record) { r.Reason = "" }),
		"no user":           beginWith(func(r *audit.Record) { r.OSUser = "" }),
		"no host":           beginWith(func(r *audit.Record) { r.Host = "" }),
		"no backup":         beginWith(func(r *audit.Record) { r.BackupID = "" }),
		"bad kind":          beginWith(func(r *audit.Record) { r.Kind = "middle" }),
		"bad action":        beginWith(func(r *audit.Record) { r.Action = "copy" }),
		"begin with bytes":  beginWith(func(r *audit.Record) { r.Bytes = 1 }),
		"begin outcome":     beginWith(func(r *audit.Record) { r.Outcome = audit.OutcomeSuccess }),
		"cross flag":        beginWith(func(r *audit.Record) { r.CrossEnvironment = true }),
		"cross unflagged":   beginWith(func(r *audit.Record) { r.SourceEnvironment = "staging" }),
		"slash environment": beginWith(func(r *audit.Record) { r.SourceEnvironment = "a/b" }),
		"bad sha":           beginWith(func(r *audit.Record) { r.SHA256 = "abc" }),
		"prev on first":     beginWith(func(r *audit.Record) { r.PrevSHA256 = strings.Repeat("0", 64) }),
		"zero seq":          beginWith(func(r *audit.Record) { r.Seq = 0 }),
		"no time":           beginWith(func(r *audit.Record) { r.Time = time.Time{} }),
		"newline":           beginWith(func(r *audit.Record) { r.Reason = "two\nlines" }),
		"dsn password":      beginWith(func(r *audit.Record) { r.Target = "postgres://u:pw@db/app" }),
		"age identity":      beginWith(func(r *audit.Record) { r.IdentityKeys = []string{"AGE-SECRET-KEY-1XYZ"} }),
		"empty key":         beginWith(func(r *audit.Record) { r.IdentityKeys = []string{""} }),
		"end no begin":      end(func(r *audit.Record) { r.BeginSeq = 0 }),
		"end after":         end(func(r *audit.Record) { r.BeginSeq = 3 }),
		"end no outcome":    end(func(r *audit.Record) { r.Outcome = "" }),
		"success error":     end(func(r *audit.Record) { r.Outcome = audit.OutcomeSuccess }),
		"negative bytes":    end(func(r *audit.Record) { r.Bytes = -1 }),
		"no prev":           end(func(r *audit.Record) { r.PrevSHA256 = "" }),
	}
	for name, r := range bad {
		data, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.DecodeRecord(data); !errors.Is(err, audit.ErrInvalidRecord) {
			t.Errorf("%s: DecodeRecord error %v, want ErrInvalidRecord", name, err)
		}
	}
}

func TestEnd(t *testing.T) {
	b := stored(begin("20261121T060000Z"), 5, strings.Repeat("0", 64))
	e := b.End(audit.OutcomeSuccess, "", 1234)
	if e.Kind != audit.KindEnd || e.BeginSeq != 5 || e.Seq != 0 || e.PrevSHA256 != "" || !e.Time.IsZero() ||
		e.Outcome != audit.OutcomeSuccess || e.Bytes != 1234 || e.BackupID != b.BackupID || e.Reason != b.Reason {
		t.Fatalf("End = %+v", e)
	}
	e.IdentityKeys[0] = "changed"
	if b.IdentityKeys[0] == "changed" {
		t.Fatal("End shares the identity keys of the begin record")
	}
}

func TestSetLocalCaller(t *testing.T) {
	var r audit.Record
	if err := r.SetLocalCaller(); err != nil {
		t.Skipf("no local user or host here: %v", err)
	}
	if r.OSUser == "" || r.Host == "" {
		t.Fatalf("SetLocalCaller left %+v", r)
	}
}
