package catalog

import (
	"errors"
	"fmt"
)

// SignatureAlgorithm is the only manifest signature algorithm.
const SignatureAlgorithm = "ed25519"

// Signing signs manifests as they are committed and checks them as they are
// read. Either function may be nil: a nil Sign commits unsigned manifests, a
// nil Verify reads manifests without checking them.
type Signing struct {
	// Sign returns the signer's public key and the signature of data.
	Sign func(data []byte) (publicKey, signature string)
	// Verify returns nil when signature is a trusted key's signature of data.
	Verify func(publicKey string, data []byte, signature string) error
}

// ErrUnsigned marks a manifest without a signature read by a catalog that
// checks signatures.
var ErrUnsigned = errors.New("manifest is not signed")

// sign sets m's signature over everything else in it.
func (s Signing) sign(m *Manifest) error {
	if s.Sign == nil {
		return nil
	}
	data, err := m.SignedBytes()
	if err != nil {
		return err
	}
	pub, sig := s.Sign(data)
	m.Signature = &Signature{Algorithm: SignatureAlgorithm, PublicKey: pub, Value: sig}
	return nil
}

// verify checks m's signature; the error wraps ErrInvalidManifest.
func (s Signing) verify(m *Manifest) error {
	if s.Verify == nil {
		return nil
	}
	if m.Signature == nil {
		return fmt.Errorf("%w: %w", ErrInvalidManifest, ErrUnsigned)
	}
	if m.Signature.Algorithm != SignatureAlgorithm {
		return fmt.Errorf("%w: signature algorithm %q is not %s", ErrInvalidManifest, m.Signature.Algorithm, SignatureAlgorithm)
	}
	data, err := m.SignedBytes()
	if err != nil {
		return err
	}
	if err := s.Verify(m.Signature.PublicKey, data, m.Signature.Value); err != nil {
		return fmt.Errorf("%w: signature: %w", ErrInvalidManifest, err)
	}
	return nil
}
