package audit_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/storage"
	"github.com/pgtier/pgtier/test/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

func minioOptions(mi *harness.MinIO, bucket string) storage.Options {
	return storage.Options{
		URL:       "s3://" + bucket + "/p",
		Endpoint:  mi.Endpoint,
		Region:    mi.Region,
		CAFile:    mi.CAFile,
		AccessKey: mi.AccessKey,
		SecretKey: mi.SecretKey,
	}
}

func openMinIO(t *testing.T, o storage.Options) storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMinIOConcurrentAppends(t *testing.T) {
	mi := harness.S3(t)
	o := minioOptions(mi, mi.Bucket(t, true))
	locked := audit.Options{
		LockMode:  storage.LockGovernance,
		LockUntil: func(t time.Time) time.Time { return t.Add(time.Hour) },
	}
	// Two operators: two stores and two Logs, as two processes have.
	logs := []*audit.Log{newLog(t, openMinIO(t, o), locked), newLog(t, openMinIO(t, o), locked)}
	all := appendConcurrently(t, logs, 20)
	if t.Failed() {
		return
	}
	checkSeqs(t, all, 40)
	s := openMinIO(t, o)
	rep := verifyOK(t, newLog(t, s, audit.Options{}), 40)
	if rep.Summary.Incomplete != 40 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	info, err := s.Stat(context.Background(), audit.Key("prod", 40), "")
	if err != nil {
		t.Fatal(err)
	}
	if info.LockMode != storage.LockGovernance || info.LockUntil.Before(time.Now()) {
		t.Fatalf("record 40 has lock %q until %s", info.LockMode, info.LockUntil)
	}
}

func TestMinIOAlteredRecord(t *testing.T) {
	mi := harness.S3(t)
	s := openMinIO(t, minioOptions(mi, mi.Bucket(t, false)))
	fill(t, newLog(t, s, audit.Options{}), 3) // records 1..5
	verifyOK(t, newLog(t, s, audit.Options{}), 5)
	alter(t, s, 2)
	wantBad(t, newLog(t, s, audit.Options{}), 2, "record 2 was altered")
	records, err := newLog(t, s, audit.Options{}).List(context.Background())
	if err != nil || len(records) != 5 || records[1].Reason != "routine check" {
		t.Fatalf("List = %d records, %v", len(records), err)
	}
}

func TestMinIOUnwritable(t *testing.T) {
	mi := harness.S3(t)
	missing := minioOptions(mi, "pgtier-no-such-bucket")
	wrongKey := minioOptions(mi, mi.Bucket(t, true))
	wrongKey.SecretKey = "not-the-secret"
	for name, o := range map[string]storage.Options{"missing bucket": missing, "wrong credentials": wrongKey} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			l := newLog(t, openMinIO(t, o), audit.Options{})
			_, err := l.Append(ctx, begin("20261121T060000Z"))
			if !errors.Is(err, audit.ErrUnavailable) {
				t.Fatalf("Append: %v, want ErrUnavailable", err)
			}
			if _, err := l.Verify(ctx); !errors.Is(err, audit.ErrUnavailable) {
				t.Fatalf("Verify: %v, want ErrUnavailable", err)
			}
		})
	}
}
