package setup

import (
	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/crypto"
)

// verifyKeys loads the keys manifests are checked with: encryption.
// verify_key_file, required unless storage.require_lockdown is off.
func verifyKeys(cfg *configs.Config) ([]crypto.VerifyKey, error) {
	path := cfg.Encryption.VerifyKeyFile
	if path == "" {
		if cfg.Storage.RequireLockdown {
			return nil, Usagef("encryption.verify_key_file is not set: every manifest's signature is checked; " +
				"set it to the daemon's verify key (made with backupctl keygen), or set storage.require_lockdown: false")
		}
		return nil, nil
	}
	keys, err := crypto.LoadVerifyKey(path)
	if err != nil {
		return nil, Usage(err)
	}
	return keys, nil
}

// CheckVerifyKeys reports, as a usage error, why manifests could not be
// checked; commands call it right after loading the config.
func CheckVerifyKeys(cfg *configs.Config) error {
	_, err := verifyKeys(cfg)
	return err
}

// readerSigning checks manifests with the verify keys. A key problem makes
// every read fail with it (commands report it first, with CheckVerifyKeys).
func readerSigning(cfg *configs.Config) catalog.Signing {
	keys, err := verifyKeys(cfg)
	if err != nil {
		return catalog.Signing{Verify: func(string, []byte, string) error { return err }}
	}
	if keys == nil {
		return catalog.Signing{}
	}
	return catalog.Signing{Verify: func(pub string, data []byte, sig string) error { return crypto.Verify(keys, pub, data, sig) }}
}

// daemonSigning signs with encryption.signing_key_file, required unless
// storage.require_lockdown is off, and trusts the signing key's own public
// key plus any verify keys (older keys, after a rotation).
func daemonSigning(cfg *configs.Config) (catalog.Signing, error) {
	path := cfg.Encryption.SigningKeyFile
	if path == "" {
		if cfg.Storage.RequireLockdown {
			return catalog.Signing{}, Usagef("encryption.signing_key_file is not set: the daemon signs every manifest; " +
				"make a key pair with backupctl keygen, or set storage.require_lockdown: false")
		}
		return catalog.Signing{}, nil
	}
	key, err := crypto.LoadSigningKey(path)
	if err != nil {
		return catalog.Signing{}, Usage(err)
	}
	trusted := []crypto.VerifyKey{key.Public()}
	if cfg.Encryption.VerifyKeyFile != "" {
		more, err := crypto.LoadVerifyKey(cfg.Encryption.VerifyKeyFile)
		if err != nil {
			return catalog.Signing{}, Usage(err)
		}
		trusted = append(trusted, more...)
	}
	return catalog.Signing{
		Sign:   func(data []byte) (string, string) { return crypto.Sign(key, data) },
		Verify: func(pub string, data []byte, sig string) error { return crypto.Verify(trusted, pub, data, sig) },
	}, nil
}
