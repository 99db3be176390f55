package crypto

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// ErrMixedRecipients is wrapped by errors from Encrypt and LoadRecipients when
// post-quantum hybrid (age1pq1...) and classic X25519 (age1...) recipients are
// mixed: age refuses it, since the file would be no safer than its classic part.
var ErrMixedRecipients = errors.New("post-quantum and classic age recipients cannot be mixed")

// ErrCorrupt is wrapped by errors from Decrypt and from reading what it
// returns when the encrypted data itself is truncated or altered (as opposed
// to the source failing to deliver it). Such an error is permanent: reading the
// same object again gives the same result.
var ErrCorrupt = errors.New("encrypted data is truncated or altered")

// Encrypt returns a writer that encrypts what is written to it with age, to
// every recipient, and writes the result to w. Close writes the final chunk
// and must be called for the output to be complete; it does not close w. The
// writer is not safe for concurrent use.
//
// Encrypt fails without writing anything when there are no recipients, or
// when post-quantum and classic recipients are mixed (ErrMixedRecipients).
func Encrypt(w io.Writer, recipients []age.Recipient) (io.WriteCloser, error) {
	if len(recipients) == 0 {
		return nil, errors.New("encrypting: no recipients; add age public keys to the recipients file")
	}
	mixed := fmt.Errorf("encrypting: %w; use only age1pq1 keys or only age1 keys", ErrMixedRecipients)
	pq := 0
	for _, r := range recipients {
		if _, ok := r.(*age.HybridRecipient); ok {
			pq++
		}
	}
	if pq > 0 && pq < len(recipients) {
		return nil, mixed
	}
	wc, err := age.Encrypt(w, recipients...)
	if err != nil {
		if strings.Contains(err.Error(), "incompatible recipients") {
			return nil, mixed
		}
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	return wc, nil
}

// Decrypt reads the age header from r, unwraps the file key with one of the
// identities, and returns a reader of the plaintext. Every chunk is
// authenticated as it is read; the reader returns io.EOF only after the last
// chunk verified, so a truncated or altered stream always ends in an error
// wrapping ErrCorrupt. Errors from r itself are passed on wrapped, without
// ErrCorrupt, so the caller can tell a failed download from a damaged object.
//
// When no identity matches, the error satisfies IsNoIdentity; see
// NoIdentityError for a message that tells the operator what to do.
func Decrypt(r io.Reader, identities []age.Identity) (io.Reader, error) {
	if len(identities) == 0 {
		return nil, errors.New("decrypting: no identities given")
	}
	src := &sourceReader{r: r}
	pr, err := age.Decrypt(src, identities...)
	if err != nil {
		return nil, classify(err, src, true)
	}
	return &plainReader{r: pr, src: src}, nil
}

// IsNoIdentity reports whether err says that none of the identities given to
// Decrypt could unwrap the file key: the backup was encrypted to other keys.
func IsNoIdentity(err error) bool {
	var e *age.NoIdentityMatchError
	return errors.As(err, &e)
}

// sourceReader remembers whether the underlying reader failed, so that
// decryption errors can be told apart from transport errors.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// plainReader classifies the errors of age's payload reader.
type plainReader struct {
	r   io.Reader
	src *sourceReader
}

func (p *plainReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		err = classify(err, p.src, false)
	}
	return n, err
}

// classify wraps a decryption error: no matching identity, a failing source,
// or corrupt data. Corrupt data is described in words of its own, since the
// library's header errors quote bytes of the input, which may be row data
// when the object is not an age file at all.
func classify(err error, src *sourceReader, inHeader bool) error {
	switch {
	case IsNoIdentity(err):
		return fmt.Errorf("decrypting: %w", err)
	case src.err != nil:
		return fmt.Errorf("reading encrypted data: %w", err)
	case inHeader:
		return fmt.Errorf("decrypting: %w (the age header is missing or damaged)", ErrCorrupt)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("decrypting: %w (the data ends early)", ErrCorrupt)
	case strings.Contains(err.Error(), "trailing data"):
		return fmt.Errorf("decrypting: %w (data follows the end of the encrypted stream)", ErrCorrupt)
	default:
		return fmt.Errorf("decrypting: %w (a chunk failed authentication)", ErrCorrupt)
	}
}

// NoIdentityError explains a Decrypt failure where no identity matched. Its
// message is one line naming the identity file, the keys it holds and the keys
// the backup was encrypted to (from the manifest). Long post-quantum keys are
// shortened. It unwraps to the original error, so IsNoIdentity stays true.
type NoIdentityError struct {
	IdentityFile string   // the identity file that was tried
	Identities   []string // public keys of its identities; may be empty
	Recipients   []string // public keys the backup was encrypted to; may be empty
	Err          error    // the error from Decrypt
}

// Error returns the one-line message.
func (e *NoIdentityError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "none of the identities in %s", showPath(e.IdentityFile))
	if len(e.Identities) > 0 {
		fmt.Fprintf(&b, " (%s)", joinKeys(e.Identities))
	}
	b.WriteString(" can decrypt this backup")
	if len(e.Recipients) > 0 {
		fmt.Fprintf(&b, "; it was encrypted to: %s", joinKeys(e.Recipients))
	}
	b.WriteString("; use the identity of one of its recipients")
	return b.String()
}

// Unwrap returns the error from Decrypt.
func (e *NoIdentityError) Unwrap() error { return e.Err }

// ExplainNoIdentity returns err unchanged unless IsNoIdentity(err); then it
// returns a *NoIdentityError built from the other arguments.
func ExplainNoIdentity(err error, identityFile string, identities, recipients []string) error {
	if !IsNoIdentity(err) {
		return err
	}
	return &NoIdentityError{IdentityFile: identityFile, Identities: identities, Recipients: recipients, Err: err}
}

// ShortKey shortens a public key for messages: a post-quantum key of about
// two thousand characters becomes its first 16 and last 8 characters.
func ShortKey(key string) string {
	if len(key) <= 80 {
		return key
	}
	return key[:16] + "..." + key[len(key)-8:]
}

func joinKeys(keys []string) string {
	short := make([]string, len(keys))
	for i, k := range keys {
		short[i] = ShortKey(k)
	}
	return strings.Join(short, ", ")
}
