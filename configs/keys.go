package configs

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// EnvName returns the environment variable that overrides a dotted key:
// "storage.endpoint" -> PGTIER_STORAGE_ENDPOINT, "tiers.base.min" ->
// PGTIER_TIERS_BASE_MIN, "environment" -> PGTIER_ENVIRONMENT.
func EnvName(key string) string {
	return "PGTIER_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys returns every configuration key, dotted ("postgres.port"), in the
// order of the Config struct, which is the order of configs/example.yaml.
func Keys() []string { return leafKeys() }

// leafKeys lists the keys that hold values, derived from the mapstructure
// tags of Config so that the struct is the one list of keys.
func leafKeys() []string {
	var keys []string
	walkKeys(reflect.TypeFor[Config](), "", func(key string, leaf bool) {
		if leaf {
			keys = append(keys, key)
		}
	})
	return keys
}

// sectionKeys lists the keys that hold mappings ("postgres", "tiers.base").
func sectionKeys() []string {
	var keys []string
	walkKeys(reflect.TypeFor[Config](), "", func(key string, leaf bool) {
		if !leaf {
			keys = append(keys, key)
		}
	})
	return keys
}

func walkKeys(t reflect.Type, prefix string, visit func(key string, leaf bool)) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if !f.IsExported() || tag == "" {
			continue
		}
		key := prefix + tag
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[Duration]() {
			visit(key, false)
			walkKeys(f.Type, key+".", visit)
			continue
		}
		visit(key, true)
	}
}

func isLeaf(key string) bool { return slices.Contains(leafKeys(), key) }

// schema is the set of keys, computed once per Load.
type schema struct {
	leaves, sections []string
	leaf, section    map[string]bool
}

func newSchema() schema {
	s := schema{leaves: leafKeys(), sections: sectionKeys(), leaf: map[string]bool{}, section: map[string]bool{}}
	for _, k := range s.leaves {
		s.leaf[k] = true
	}
	for _, k := range s.sections {
		s.section[k] = true
	}
	return s
}

// defaults are the values of keys the file and environment leave unset.
// environment, cluster, storage.url and encryption.recipients_file have none:
// they are required. postgres.sslmode is decided from postgres.host.
func defaults() map[string]any {
	return map[string]any{
		"timezone":                 "UTC",
		"postgres.host":            "/var/run/postgresql",
		"postgres.port":            5432,
		"postgres.user":            "backupd",
		"postgres.databases":       []string{"*"},
		"postgres.globals":         true,
		"schedule.base":            "0 */6 * * *",
		"schedule.jitter":          time.Duration(0),
		"schedule.catch_up":        true,
		"tiers.base.min":           "2d",
		"tiers.base.max":           "5d",
		"tiers.daily.min":          "7d",
		"tiers.daily.max":          "365d",
		"tiers.weekly.min":         "4w",
		"tiers.weekly.max":         "52w",
		"tiers.monthly.min":        "13mo",
		"tiers.monthly.max":        "36mo",
		"compression.level":        "default",
		"storage.object_lock":      "compliance",
		"storage.require_lockdown": true,
		"metrics.listen":           "127.0.0.1:9861",
	}
}

// secretFix says where a secret belongs instead of the config body, for a key
// whose last part names a secret; "" if the key is not a secret.
func secretFix(key string) string {
	last := key[strings.LastIndex(key, ".")+1:]
	switch last {
	case "password", "passwd", "pass", "pgpassword", "dsn", "connstring", "conninfo":
		return "put the password in a file and set postgres.password_file (or systemd LoadCredential= with $CREDENTIALS_DIRECTORY/...)"
	case "secret", "secret_key", "secret_access_key", "access_key", "access_key_id",
		"session_token", "token", "credentials", "aws_access_key_id", "aws_secret_access_key":
		return "remove it and use the AWS credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the service environment, or an instance role)"
	case "identity", "private_key", "signing_key", "key":
		return "keep keys in files: encryption.signing_key_file for the daemon, backupctl --identity for an operator's age identity"
	}
	return ""
}

// checkKeys walks the settings read from the file and refuses secrets, keys
// that are not in Config, and values of the wrong shape (a mapping where a
// value belongs, or a value where a mapping belongs). Keys are visited in
// sorted order so the reported problem does not depend on map order.
func (s schema) checkKeys(m map[string]any, prefix string) *Error {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		key := prefix + name
		val := m[name]
		sub, isMap := val.(map[string]any)
		switch {
		case s.leaf[key]:
			if isMap {
				return &Error{Key: key, Problem: "expected a single value, got a mapping",
					Fix: "see configs/example.yaml for the form of " + key}
			}
		case s.section[key]:
			if !isMap && val != nil {
				return &Error{Key: key, Problem: fmt.Sprintf("expected a mapping of keys, got %s", quote(fmt.Sprint(val))),
					Fix: "see configs/example.yaml for the keys of " + key}
			}
			if e := s.checkKeys(sub, key+"."); e != nil {
				return e
			}
		case secretFix(key) != "":
			return &Error{Key: key, Problem: "secrets are not allowed in the config file", Fix: secretFix(key)}
		default:
			return &Error{Key: key, Problem: "unknown key", Fix: "check the spelling" + suggest(key, s.leaves, s.sections) + " (see configs/example.yaml)"}
		}
	}
	return nil
}

// checkEnv refuses PGTIER_ variables that look like config overrides but name
// no key: a variable under a section prefix (PGTIER_STORAGE_ENDPONT) or one
// close to a real name (PGTIER_ENVIRONMNT). Other PGTIER_ variables are left
// alone. Secrets are refused as in the file (PGTIER_POSTGRES_PASSWORD).
func (s schema) checkEnv(environ []string) *Error {
	known := map[string]bool{}
	var names []string
	for _, k := range s.leaves {
		known[EnvName(k)] = true
		names = append(names, EnvName(k))
	}
	sort.Strings(environ)
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "PGTIER_") || known[name] || val == "" {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(name, "PGTIER_"))
		underSection := ""
		for _, sec := range s.sections {
			if p := strings.ReplaceAll(sec, ".", "_") + "_"; strings.HasPrefix(key, p) && len(p) > len(underSection) {
				underSection = p
			}
		}
		if underSection != "" {
			key = strings.ReplaceAll(underSection, "_", ".") + strings.TrimPrefix(key, underSection)
		}
		if fix := secretFix(key); fix != "" && underSection != "" {
			return &Error{Key: name, Problem: "secrets are not allowed as config overrides", Fix: fix}
		}
		hint := suggest(name, names, nil)
		if underSection == "" && hint == "" {
			continue
		}
		return &Error{Key: name, Problem: "environment variable names no config key",
			Fix: "check the spelling" + hint + " or unset it (variables are PGTIER_ and the key in capitals, dots as underscores)"}
	}
	return nil
}

// suggest returns `, did you mean "x"?` for the candidate closest to s, or ""
// when none is within two edits.
func suggest(s string, lists ...[]string) string {
	if len(s) > 64 {
		return ""
	}
	best, bestDist := "", 3
	for _, list := range lists {
		for _, c := range list {
			if d := editDistance(s, c); d < bestDist {
				best, bestDist = c, d
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(", did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
