// Package configs is pgtier's configuration: the typed structs every other
// package receives, loading them from one YAML file plus PGTIER_* environment
// overrides (with viper, which no other package imports), defaults and
// validation. Load either returns a complete, validated *Config or a one-line
// *Error naming the key and the fix; nothing falls back silently.
//
// configs does not connect to anything, parse key material or read secrets
// at load time: Postgres.Password reads the password file when asked.
package configs

import (
	"bytes"
	"os"
	"path/filepath"
	"time"
	_ "time/tzdata" // timezones work on hosts and images without tzdata

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// Config is a loaded, validated configuration. Paths in it are absolute:
// relative paths in the file are taken relative to the file's directory,
// relative paths from the environment relative to the working directory.
// A path starting with $CREDENTIALS_DIRECTORY is kept as written when that
// variable is unset (see ExpandPath).
type Config struct {
	Environment string      `mapstructure:"environment"` // label in object keys; a safe path segment
	Cluster     string      `mapstructure:"cluster"`     // names the Postgres cluster in object keys
	Timezone    string      `mapstructure:"timezone"`    // IANA name; calendar for tier promotion
	Postgres    Postgres    `mapstructure:"postgres"`
	Schedule    Schedule    `mapstructure:"schedule"`
	Tiers       Tiers       `mapstructure:"tiers"`
	Encryption  Encryption  `mapstructure:"encryption"`
	Compression Compression `mapstructure:"compression"`
	Storage     Storage     `mapstructure:"storage"`
	Metrics     Metrics     `mapstructure:"metrics"`
	Audit       Audit       `mapstructure:"audit"`

	loc *time.Location
}

// Postgres says how to reach the cluster being backed up.
type Postgres struct {
	Host         string   `mapstructure:"host"`          // socket directory (starts with /) or host name
	Port         int      `mapstructure:"port"`          // 1..65535
	User         string   `mapstructure:"user"`          // role with pg_read_all_data
	PasswordFile string   `mapstructure:"password_file"` // "" = no password; see Password
	SSLMode      string   `mapstructure:"sslmode"`       // libpq sslmode; verify-full for TCP when unset, "" for sockets
	Databases    []string `mapstructure:"databases"`     // names, or "*" for every non-template database
	Globals      bool     `mapstructure:"globals"`       // also dump roles and tablespaces
	BinDir       string   `mapstructure:"bin_dir"`       // "" = find pg_dump matching the server
}

// Schedule says when base backups run.
type Schedule struct {
	Base    string        `mapstructure:"base"`     // cron spec accepted by cron.ParseStandard
	Jitter  time.Duration `mapstructure:"jitter"`   // random delay added to each run, >= 0
	CatchUp bool          `mapstructure:"catch_up"` // run at start when a scheduled run was missed
}

// Tier is one retention window: a backup in the tier cannot be deleted before
// taken_at+Min (object lock) and is pruned after taken_at+Max. Min <= Max
// from every start date.
type Tier struct {
	Min          Duration `mapstructure:"min"`
	Max          Duration `mapstructure:"max"`
	StorageClass string   `mapstructure:"storage_class"` // S3 storage class; "" = bucket default
}

// Tiers holds the four retention tiers.
type Tiers struct {
	Base    Tier `mapstructure:"base"`
	Daily   Tier `mapstructure:"daily"`
	Weekly  Tier `mapstructure:"weekly"`
	Monthly Tier `mapstructure:"monthly"`
}

// Encryption names the key files. Only RecipientsFile is checked at load time
// (it must be readable); the signing and verify key files are checked by the
// program that uses them, since the daemon and backupctl each need only one.
type Encryption struct {
	RecipientsFile string `mapstructure:"recipients_file"`  // age public keys, one per line
	SigningKeyFile string `mapstructure:"signing_key_file"` // daemon's manifest signing key
	VerifyKeyFile  string `mapstructure:"verify_key_file"`  // public key backupctl verifies with
}

// Compression is the zstd level: "fastest", "default", "better", "best" or "1".."22".
type Compression struct {
	Level string `mapstructure:"level"`
}

// Storage is where backups go. URL is s3://BUCKET[/PREFIX] or file:///PATH; the
// other settings apply to s3:// only and are refused with file://.
type Storage struct {
	URL               string `mapstructure:"url"`
	Endpoint          string `mapstructure:"endpoint"` // "" = AWS; otherwise https://HOST[:PORT]
	Region            string `mapstructure:"region"`
	CAFile            string `mapstructure:"ca_file"` // extra CA bundle for Endpoint
	AllowInsecureHTTP bool   `mapstructure:"allow_insecure_http"`
	ObjectLock        string `mapstructure:"object_lock"` // compliance | governance | off
	RequireLockdown   bool   `mapstructure:"require_lockdown"`
	SSE               string `mapstructure:"sse"`        // "", AES256, aws:kms
	KMSKeyID          string `mapstructure:"kms_key_id"` // only with aws:kms
}

// Metrics is where /metrics and /healthz listen.
type Metrics struct {
	Listen string `mapstructure:"listen"` // host:port
	// WebConfigFile is a Prometheus exporter web config (TLS, basic auth);
	// "" serves plain HTTP.
	WebConfigFile string `mapstructure:"web_config_file"`
}

// Audit is where the restore-access log goes; URL "" means the storage URL.
type Audit struct {
	URL string `mapstructure:"url"`
}

// Load reads the YAML file at path, applies PGTIER_<SECTION>_<KEY> environment
// overrides (PGTIER_STORAGE_ENDPOINT, PGTIER_TIERS_BASE_MIN, PGTIER_CLUSTER)
// over the file over the defaults, and validates the result. Unknown keys,
// secrets in the config body, missing required keys and invalid values are
// errors; every error is a one-line *Error. Load checks that the recipients,
// CA and password files exist; it reads no secret.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Problem: "cannot read: " + err.Error(),
			Fix: "pass the path of the pgtier YAML file (see configs/example.yaml)", Err: err}
	}
	c, cerr := load(path, data)
	if cerr != nil {
		cerr.File = path
		if cerr.Env == "" && isLeaf(cerr.Key) {
			if name := EnvName(cerr.Key); os.Getenv(name) != "" {
				cerr.Env = name
			}
		}
		return nil, cerr
	}
	return c, nil
}

func load(path string, data []byte) (*Config, *Error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, &Error{Problem: "invalid YAML: " + yamlMessage(err),
			Fix: "fix the syntax (see configs/example.yaml)", Err: err}
	}
	keys := newSchema()
	if e := keys.checkKeys(v.AllSettings(), ""); e != nil {
		return nil, e
	}
	if e := keys.checkEnv(os.Environ()); e != nil {
		return nil, e
	}
	defs := defaults()
	for _, key := range keys.leaves {
		if d, ok := defs[key]; ok {
			v.SetDefault(key, d)
		}
		if err := v.BindEnv(key, EnvName(key)); err != nil {
			return nil, &Error{Key: key, Problem: err.Error()}
		}
	}
	var c Config
	err := v.Unmarshal(&c, viper.DecodeHook(decodeHook()), func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.WeaklyTypedInput = false
	})
	if err != nil {
		return nil, decodeError(err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, &Error{Problem: "resolving the config directory: " + err.Error(), Err: err}
	}
	if e := c.resolvePaths(dir); e != nil {
		return nil, e
	}
	if c.Postgres.SSLMode == "" && !isSocket(c.Postgres.Host) {
		c.Postgres.SSLMode = "verify-full"
	}
	if e := c.validate(); e != nil {
		return nil, e
	}
	return &c, nil
}

// Location returns the time zone named by Timezone, loaded once by Load.
// For a Config built by hand it loads Timezone on each call and returns UTC
// when the name does not load; only Load validates.
func (c *Config) Location() *time.Location {
	if c.loc != nil {
		return c.loc
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}
