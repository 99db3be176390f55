package configs

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/spf13/viper"
)

// loadExample loads example.yaml with its recipients file replaced by a
// test fixture, as an operator's environment override would.
func loadExample(t *testing.T) *Config {
	t.Helper()
	cleanEnv(t)
	t.Setenv("PGTIER_ENCRYPTION_RECIPIENTS_FILE", mustAbs(t, "testdata/recipients.txt"))
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExampleLoads(t *testing.T) {
	c := loadExample(t)
	if c.Environment != "production" || c.Cluster != "main" || c.Storage.URL != "s3://example-backups/pgtier" {
		t.Errorf("unexpected example values: %+v", c)
	}
}

// TestExampleDocumentsEveryKey keeps example.yaml and Config in step.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	got := v.AllKeys()
	slices.Sort(got)
	want := Keys()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("example.yaml keys differ from Config:\n got  %v\n want %v", got, want)
	}
}

// TestExampleShowsDefaults proves the values in example.yaml are the
// defaults: it equals a file that sets only the required keys.
func TestExampleShowsDefaults(t *testing.T) {
	example := loadExample(t)
	file := filepath.Join(t.TempDir(), "pgtier.yaml")
	minimal := "environment: production\ncluster: main\nstorage: {url: s3://example-backups/pgtier}\n"
	if err := os.WriteFile(file, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, example) {
		t.Errorf("example.yaml does not show the defaults:\n example %+v\n defaults %+v", example, c)
	}
}
