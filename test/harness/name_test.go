package harness

import (
	"regexp"
	"strings"
	"testing"
)

func TestUniqueName(t *testing.T) {
	bucket := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	t.Run(strings.Repeat("Long_Sub/Test Name ", 10), func(t *testing.T) {
		n := uniqueName(t, "pgtier-", '-', 63)
		if !bucket.MatchString(n) || strings.Contains(n, "--") {
			t.Fatalf("bad bucket name %q", n)
		}
		if m := uniqueName(t, "pgtier-", '-', 63); m == n {
			t.Fatalf("name repeats: %q", n)
		}
		if d := uniqueName(t, "t_", '_', 63); len(d) > 63 || strings.ContainsAny(d, "-/ ") {
			t.Fatalf("bad database name %q", d)
		}
	})
}
