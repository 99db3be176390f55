package crypto

import (
	"fmt"
	"strings"

	"filippo.io/age"
)

// LoadRecipients reads an age recipients file: one public key per line, either
// X25519 (age1...) or post-quantum hybrid (age1pq1...); blank lines and lines
// starting with # are ignored. It returns the recipients and, at the same
// index, each one's canonical public key string for the manifest.
//
// The file must hold public keys only: a secret key on any line is refused
// (the host that writes backups must not be able to read them), as are SSH
// and plugin keys, duplicate keys, a mix of hybrid and X25519 keys (age
// refuses to encrypt to such a mix), an empty file and a file that every user
// may write. Every error is a *KeyFileError of one line naming the file, the
// line and the fix; no error echoes the contents of a line.
func LoadRecipients(path string) ([]age.Recipient, []string, error) {
	data, err := readKeyFile(path, recipientsKind)
	if err != nil {
		return nil, nil, err
	}
	return parseRecipients(path, data)
}

// parseRecipients parses the contents of the recipients file at path.
func parseRecipients(path string, data []byte) ([]age.Recipient, []string, error) {
	var (
		recipients   []age.Recipient
		keys         []string
		seen         = map[string]int{}
		firstPQ      int
		firstClassic int
	)
	for _, l := range keyLines(data) {
		if err := notText(path, l); err != nil {
			return nil, nil, err
		}
		r, key, pq, problem := parseRecipientLine(l.text)
		if problem != "" {
			return nil, nil, lineError(path, l.n, problem)
		}
		if prev, ok := seen[key]; ok {
			return nil, nil, lineError(path, l.n, fmt.Sprintf("repeats the key on line %d; remove one of them", prev))
		}
		seen[key] = l.n
		if pq && firstPQ == 0 {
			firstPQ = l.n
		}
		if !pq && firstClassic == 0 {
			firstClassic = l.n
		}
		recipients = append(recipients, r)
		keys = append(keys, key)
	}
	if len(recipients) == 0 {
		return nil, nil, fileError(path, nil, "no recipients in %s; add age public keys (age-keygen -y KEY)", showPath(path))
	}
	if firstPQ != 0 && firstClassic != 0 {
		return nil, nil, fileError(path, ErrMixedRecipients,
			"%s mixes post-quantum keys (line %d) with classic keys (line %d), which age refuses; use only age1pq1 keys (age-keygen -pq) or only age1 keys",
			showPath(path), firstPQ, firstClassic)
	}
	return recipients, keys, nil
}

// parseRecipientLine parses one trimmed line of a recipients file. On failure
// it returns a problem phrased to follow "FILE line N", never quoting the line.
func parseRecipientLine(s string) (r age.Recipient, key string, pq bool, problem string) {
	upper, lower := strings.ToUpper(s), strings.ToLower(s)
	switch {
	case strings.Contains(upper, "AGE-SECRET-KEY-"):
		return nil, "", false, secretInRecipients(s)
	case strings.HasPrefix(upper, "AGE-PLUGIN-"):
		return nil, "", false, "holds a plugin identity; the host must hold only public keys (age1...)"
	case strings.HasPrefix(s, "-----BEGIN"):
		return nil, "", false, "holds a PEM block; the host must hold only age public keys (age1...)"
	case isSSHKey(s):
		return nil, "", false, "holds an SSH key; pgtier takes only age public keys (age1...), made with age-keygen"
	case strings.ContainsAny(s, " \t"):
		return nil, "", false, "has text after the key; put comments on their own line, starting with #"
	case !strings.HasPrefix(lower, "age1"):
		return nil, "", false, "is not an age public key; each line must be one key starting with age1 (age-keygen -y KEY)"
	}
	switch hrp := lower[:strings.LastIndexByte(lower, '1')]; hrp {
	case "age1pq":
		h, err := age.ParseHybridRecipient(lower)
		if err != nil {
			return nil, "", false, "holds a damaged post-quantum public key (bad length or checksum); copy it again from age-keygen -y"
		}
		return h, h.String(), true, ""
	case "age":
		x, err := age.ParseX25519Recipient(lower)
		if err != nil {
			return nil, "", false, "holds a damaged age public key (bad length or checksum); copy it again from age-keygen -y"
		}
		return x, x.String(), false, ""
	default:
		return nil, "", false, "holds an age plugin recipient, which pgtier does not support; use an age public key (age-keygen)"
	}
}

// secretInRecipients is the problem for a secret key found in a recipients
// file. For an X25519 key it names the public key that belongs in its place.
func secretInRecipients(s string) string {
	const msg = "holds a secret key; the host must hold only public keys: replace it with its public key %s and delete the secret from this host"
	if id, err := age.ParseX25519Identity(s); err == nil {
		return fmt.Sprintf(msg, id.Recipient().String())
	}
	return fmt.Sprintf(msg, "(age-keygen -y KEY)")
}

// isSSHKey reports whether a line looks like an OpenSSH public key.
func isSSHKey(s string) bool {
	for _, p := range []string{"ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// LoadIdentities reads an age identity file as written by age-keygen: one
// secret key per line, X25519 or post-quantum hybrid; blank lines and lines
// starting with # are ignored. It returns the identities and, at the same
// index, the public key of each, for the audit record.
//
// It refuses a file that every user may read or write, passphrase-protected
// identity files, SSH and plugin keys, public keys given in place of secret
// ones and an empty file. Every error is a *KeyFileError of one line naming
// the file, the line and the fix; no error contains secret material.
func LoadIdentities(path string) ([]age.Identity, []string, error) {
	data, err := readKeyFile(path, identityKind)
	if err != nil {
		return nil, nil, err
	}
	return parseIdentities(path, data)
}

// parseIdentities parses the contents of the identity file at path.
func parseIdentities(path string, data []byte) ([]age.Identity, []string, error) {
	var (
		ids  []age.Identity
		keys []string
	)
	for _, l := range keyLines(data) {
		if err := notText(path, l); err != nil {
			return nil, nil, err
		}
		id, key, problem := parseIdentityLine(l.text)
		if problem != "" {
			return nil, nil, lineError(path, l.n, problem)
		}
		ids = append(ids, id)
		keys = append(keys, key)
	}
	if len(ids) == 0 {
		return nil, nil, fileError(path, nil, "no identities in %s; give the identity file written by age-keygen -o", showPath(path))
	}
	return ids, keys, nil
}

// parseIdentityLine parses one trimmed line of an identity file. On failure
// it returns a problem phrased to follow "FILE line N", never quoting the line
// and never naming the secret key prefix, so that no message can be mistaken
// for, or leak, key material.
func parseIdentityLine(s string) (id age.Identity, key string, problem string) {
	upper := strings.ToUpper(s)
	const damaged = "holds a damaged secret key (bad length or checksum); copy the file again from where age-keygen wrote it"
	switch {
	case strings.HasPrefix(s, "age-encryption.org/") || strings.HasPrefix(s, "-----BEGIN AGE ENCRYPTED FILE-----"):
		return nil, "", "starts a passphrase-protected file; pgtier reads only plain identity files (decrypt it with age -d into a file only you can read)"
	case strings.HasPrefix(s, "-----BEGIN") || isSSHKey(s):
		return nil, "", "holds an SSH or PEM key; pgtier takes only age identities, made with age-keygen"
	case strings.HasPrefix(upper, "AGE-PLUGIN-"):
		return nil, "", "holds a plugin identity, which pgtier does not support; use an identity made with age-keygen"
	case strings.HasPrefix(strings.ToLower(s), "age1"):
		return nil, "", "holds a public key, not a secret key; give the identity file written by age-keygen -o, not a recipients file"
	case strings.ContainsAny(s, " \t"):
		return nil, "", "has text before or after the key; put comments on their own line, starting with #"
	case strings.HasPrefix(upper, "AGE-SECRET-KEY-PQ-1"):
		h, err := age.ParseHybridIdentity(s)
		if err != nil {
			return nil, "", damaged
		}
		return h, h.Recipient().String(), ""
	case strings.HasPrefix(upper, "AGE-SECRET-KEY-1"):
		x, err := age.ParseX25519Identity(s)
		if err != nil {
			return nil, "", damaged
		}
		return x, x.Recipient().String(), ""
	default:
		return nil, "", "is not an age identity; give the identity file written by age-keygen -o"
	}
}
