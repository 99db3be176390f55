package harness

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"golang.org/x/crypto/argon2"
)

// CreateUser makes a MinIO user whose only permissions are those of
// policyJSON (an IAM policy document), and returns its access and secret
// keys. The user's name is name with a random suffix, so tests may reuse a
// name; its policy has the same name. The server rejects a policy it cannot
// parse, including actions it does not know, and t fails with its message.
// Users are not removed: the server's data goes when Main ends.
func CreateUser(t testing.TB, mi *MinIO, name, policyJSON string) (accessKey, secretKey string) {
	t.Helper()
	if !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$`).MatchString(name) {
		t.Fatalf("harness: user name %q: use up to 41 letters, digits, '.', '_' or '-'", name)
	}
	accessKey = name + "-" + randomHex(4)
	secretKey = randomHex(20)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	if err := mi.admin(ctx, "add-canned-policy", url.Values{"name": {accessKey}}, []byte(policyJSON)); err != nil {
		t.Fatalf("harness: adding policy %s: %v", accessKey, err)
	}
	user, err := json.Marshal(map[string]string{"secretKey": secretKey, "status": "enabled"})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealAdmin(mi.SecretKey, user)
	if err != nil {
		t.Fatalf("harness: sealing the new user's secret: %v", err)
	}
	if err := mi.admin(ctx, "add-user", url.Values{"accessKey": {accessKey}}, sealed); err != nil {
		t.Fatalf("harness: adding user %s: %v", accessKey, err)
	}
	attach := url.Values{"policyName": {accessKey}, "userOrGroup": {accessKey}, "isGroup": {"false"}}
	if err := mi.admin(ctx, "set-user-or-group-policy", attach, nil); err != nil {
		t.Fatalf("harness: attaching policy %s: %v", accessKey, err)
	}
	return accessKey, secretKey
}

// admin sends one PUT to MinIO's admin API (/minio/admin/v3/<op>), signed
// with the root credentials, and returns the server's message on failure.
func (m *MinIO) admin(ctx context.Context, op string, query url.Values, body []byte) error {
	u := m.Endpoint + "/minio/admin/v3/" + op + "?" + query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hash, "s3", m.Region, time.Now()); err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// sealAdmin encrypts data for MinIO's admin API as madmin.EncryptData does:
// salt(32) | algorithm 0x00 (Argon2id key, AES-256-GCM) | nonce(8) | one
// final sio-go fragment. The key is derived from the root secret key.
func sealAdmin(password string, data []byte) ([]byte, error) {
	if len(data) > 16<<10 {
		return nil, errors.New("admin payload larger than one fragment")
	}
	salt := make([]byte, 32)
	nonce := make([]byte, 8)
	_, _ = rand.Read(salt) // never fails on Linux
	_, _ = rand.Read(nonce)
	key := argon2.IDKey([]byte(password), salt, 1, 64*1024, 4, 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// sio-go: the stream's associated data is a flag byte and the tag of
	// an empty message under sequence number 0; fragments count from 1 and
	// the last one sets the flag to 0x80.
	n := make([]byte, aead.NonceSize())
	copy(n, nonce)
	ad := append([]byte{0x80}, aead.Seal(nil, n, nil, nil)...)
	binary.LittleEndian.PutUint32(n[len(nonce):], 1)
	out := append(append(append(salt, 0x00), nonce...), aead.Seal(nil, n, data, ad)...)
	return out, nil
}
