package configs

import (
	"net/url"
	"path"
	"strings"
)

const urlFix = "use s3://BUCKET/PREFIX or file:///ABSOLUTE/PATH"

func (c *Config) checkStorage() *Error {
	s := c.Storage
	if s.URL == "" {
		return required("storage.url", "set it to s3://BUCKET/PREFIX, or file:///ABSOLUTE/PATH for a local directory")
	}
	scheme, e := checkURL("storage.url", s.URL)
	if e != nil {
		return e
	}
	switch s.ObjectLock {
	case "compliance", "governance", "off":
	default:
		return &Error{Key: "storage.object_lock", Problem: quote(s.ObjectLock) + " is not a lock mode", Fix: "use compliance, governance or off"}
	}
	if scheme == "file" {
		return c.checkFileStorage()
	}
	if s.ObjectLock == "off" && s.RequireLockdown {
		return &Error{Key: "storage.object_lock", Problem: "off leaves backups deletable, which storage.require_lockdown: true forbids",
			Fix: "use compliance or governance, or set storage.require_lockdown: false to accept deletable backups"}
	}
	if e := checkEndpoint(s); e != nil {
		return e
	}
	if strings.ContainsFunc(s.Region, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return &Error{Key: "storage.region", Problem: quote(s.Region) + " is not a region name", Fix: "use a region such as eu-central-1, or \"\" for the default"}
	}
	if s.CAFile != "" {
		if e := checkReadable("storage.ca_file", s.CAFile, "name a PEM file of CA certificates, or remove the key to use the system roots"); e != nil {
			return e
		}
	}
	switch s.SSE {
	case "", "AES256", "aws:kms":
	default:
		return &Error{Key: "storage.sse", Problem: quote(s.SSE) + " is not a server-side encryption mode", Fix: `use "", AES256 or aws:kms`}
	}
	if s.KMSKeyID != "" && s.SSE != "aws:kms" {
		return &Error{Key: "storage.kms_key_id", Problem: "set without storage.sse: aws:kms", Fix: "set storage.sse: aws:kms, or remove kms_key_id"}
	}
	return nil
}

// checkFileStorage refuses S3-only settings with a file:// URL, and requires
// the operator to say that a directory gives no immutability.
func (c *Config) checkFileStorage() *Error {
	s := c.Storage
	if s.ObjectLock != "off" || s.RequireLockdown {
		return &Error{Key: "storage.object_lock", Problem: "file:// storage has no object lock, so backups there can be deleted",
			Fix: "set storage.object_lock: off and storage.require_lockdown: false to accept that, or use s3://"}
	}
	for _, x := range []struct {
		key string
		set bool
	}{
		{"storage.endpoint", s.Endpoint != ""},
		{"storage.region", s.Region != ""},
		{"storage.ca_file", s.CAFile != ""},
		{"storage.allow_insecure_http", s.AllowInsecureHTTP},
		{"storage.sse", s.SSE != ""},
		{"storage.kms_key_id", s.KMSKeyID != ""},
		{"tiers.base.storage_class", c.Tiers.Base.StorageClass != ""},
		{"tiers.daily.storage_class", c.Tiers.Daily.StorageClass != ""},
		{"tiers.weekly.storage_class", c.Tiers.Weekly.StorageClass != ""},
		{"tiers.monthly.storage_class", c.Tiers.Monthly.StorageClass != ""},
	} {
		if x.set {
			return &Error{Key: x.key, Problem: "only applies to s3:// storage, and storage.url is file://", Fix: "remove it"}
		}
	}
	return nil
}

func checkEndpoint(s Storage) *Error {
	const key = "storage.endpoint"
	if s.Endpoint == "" {
		return nil
	}
	const fix = "use https://HOST[:PORT] with nothing after the port"
	u, err := url.Parse(s.Endpoint)
	switch {
	case err != nil:
		return &Error{Key: key, Problem: "cannot parse as a URL", Fix: fix}
	case u.User != nil:
		return &Error{Key: key, Problem: "credentials in the URL are refused", Fix: "remove them and use the AWS credential chain"}
	case u.Scheme == "http" && !s.AllowInsecureHTTP:
		return &Error{Key: key, Problem: "plain http:// is refused", Fix: "use https:// or set storage.allow_insecure_http: true"}
	case u.Scheme != "http" && u.Scheme != "https":
		return &Error{Key: key, Problem: quote(s.Endpoint) + " is not an http(s) URL", Fix: fix}
	case u.Host == "" || u.Hostname() == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return &Error{Key: key, Problem: quote(s.Endpoint) + " is not a plain endpoint", Fix: fix}
	}
	return nil
}

// checkURL validates a storage URL and returns its scheme, "s3" or "file".
// It never echoes the URL when it holds credentials.
func checkURL(key, raw string) (string, *Error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", &Error{Key: key, Problem: "cannot parse as a URL", Fix: urlFix}
	case u.User != nil:
		return "", &Error{Key: key, Problem: "credentials in the URL are refused", Fix: "remove them and use the AWS credential chain"}
	case u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", &Error{Key: key, Problem: quote(raw) + " has parts a storage URL cannot have", Fix: urlFix}
	}
	switch u.Scheme {
	case "":
		return "", &Error{Key: key, Problem: quote(raw) + " has no scheme", Fix: urlFix}
	case "s3":
		if u.Host == "" {
			return "", &Error{Key: key, Problem: quote(raw) + " has no bucket", Fix: urlFix}
		}
		if !bucketName(u.Host) {
			return "", &Error{Key: key, Problem: "bucket " + quote(u.Host) + " is not a valid S3 bucket name",
				Fix: "use s3://BUCKET/PREFIX with a bucket of 3 to 63 lower-case letters, digits, dots and hyphens"}
		}
		prefix := strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"), "/")
		if prefix != "" && !cleanSegments(prefix) {
			return "", &Error{Key: key, Problem: "prefix " + quote(prefix) + ` has empty, "." or ".." parts or control characters`,
				Fix: "use a prefix such as pgtier or backups/pgtier"}
		}
		return "s3", nil
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" || !path.IsAbs(p) {
			return "", &Error{Key: key, Problem: quote(raw) + " does not name an absolute path", Fix: "use three slashes: file:///var/lib/pgtier"}
		}
		if p != "/" && !cleanSegments(strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")) {
			return "", &Error{Key: key, Problem: "path " + quote(p) + ` has empty, "." or ".." parts or control characters`, Fix: "write the path in clean form"}
		}
		return "file", nil
	}
	return "", &Error{Key: key, Problem: "unsupported scheme " + quote(u.Scheme), Fix: urlFix}
}

// bucketName reports whether s follows the S3 bucket naming rules.
func bucketName(s string) bool {
	if len(s) < 3 || len(s) > 63 || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '.' && c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// cleanSegments reports whether every "/"-separated part of p is non-empty,
// not "." or "..", and free of control characters.
func cleanSegments(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsFunc(seg, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return false
		}
	}
	return true
}

func (c *Config) checkAudit() *Error {
	if c.Audit.URL == "" {
		return nil
	}
	_, e := checkURL("audit.url", c.Audit.URL)
	return e
}
