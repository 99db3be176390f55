package storage_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pgtier/pgtier/storage"
	"github.com/pgtier/pgtier/storage/storagetest"
	"github.com/pgtier/pgtier/test/harness"
)

// otherCA writes the certificate of a new, unrelated CA and returns its
// file.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "not the harness CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestS3TLS(t *testing.T) {
	mi := harness.S3(t)
	bucket := mi.Bucket(t, false)
	ctx := context.Background()
	for name, ca := range map[string]string{"wrong CA": otherCA(t), "system roots only": ""} {
		o := minioOptions(mi, bucket, "")
		o.CAFile = ca
		s, err := storage.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Stat(ctx, "anything", "")
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: Stat error = %v, want a certificate error", name, err)
		}
	}
	o := minioOptions(mi, bucket, "")
	o.Endpoint = "http://" + strings.TrimPrefix(mi.Endpoint, "https://")
	if _, err := storage.Open(ctx, o); err == nil || !strings.Contains(err.Error(), "allow_insecure_http") {
		t.Errorf("Open with an http endpoint: %v, want a refusal naming allow_insecure_http", err)
	}
}

// TestS3Checksums checks that objects carry CRC32C checksums, per part for
// multipart uploads, also under object lock.
func TestS3Checksums(t *testing.T) {
	mi := harness.S3(t)
	bucket := mi.Bucket(t, true)
	s := openMinIO(t, mi, bucket, "c")
	ctx := context.Background()
	lock := storage.PutOptions{LockMode: storage.LockGovernance, LockUntil: time.Now().Add(time.Hour)}
	for key, size := range map[string]int{"single": 1 << 20, "multi": 11 << 20} {
		if _, err := s.Put(ctx, key, bytes.NewReader(storagetest.Random(4, size)), lock); err != nil {
			t.Fatal(err)
		}
		out, err := mi.Client(t).HeadObject(ctx, &s3.HeadObjectInput{
			Bucket:       aws.String(bucket),
			Key:          aws.String("c/" + key),
			ChecksumMode: types.ChecksumModeEnabled,
		})
		if err != nil {
			t.Fatal(err)
		}
		sum := aws.ToString(out.ChecksumCRC32C)
		if sum == "" {
			t.Fatalf("%s: no CRC32C stored (type %q)", key, out.ChecksumType)
		}
		if key == "multi" && !strings.HasSuffix(sum, "-3") {
			t.Fatalf("multipart checksum %q, want a composite of 3 parts", sum)
		}
	}
}
