package iam

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgtier/pgtier/test/harness"
)

// statement is one statement of a policy file, with its lists normalized.
type statement struct {
	Sid       string
	Effect    string
	Principal any
	Action    []string
	Resource  []string
	Condition map[string]map[string]string
}

// statements reads configs/iam/<name> and checks what every file must hold:
// JSON, the 2012-10-17 grammar and resources of the placeholder bucket only.
func statements(t *testing.T, name string) []statement {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.Root(t), "configs", "iam", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("%s: version %q", name, doc.Version)
	}
	list := func(v any) []string {
		switch x := v.(type) {
		case string:
			return []string{x}
		case []any:
			var out []string
			for _, e := range x {
				out = append(out, e.(string))
			}
			return out
		}
		return nil
	}
	var out []statement
	for _, raw := range doc.Statement {
		st := statement{Sid: raw["Sid"].(string), Effect: raw["Effect"].(string), Principal: raw["Principal"],
			Action: list(raw["Action"]), Resource: list(raw["Resource"])}
		for _, r := range st.Resource {
			if r != "arn:aws:s3:::BUCKET" && !strings.HasPrefix(r, "arn:aws:s3:::BUCKET/") {
				t.Errorf("%s %s: resource %s is not in the bucket BUCKET", name, st.Sid, r)
			}
		}
		if c, ok := raw["Condition"]; ok {
			cb, _ := json.Marshal(c)
			if err := json.Unmarshal(cb, &st.Condition); err != nil {
				t.Errorf("%s %s: condition: %v", name, st.Sid, err)
			}
		}
		out = append(out, st)
	}
	return out
}

// allowed returns every grant of the Allow statements, as "action resource".
func allowed(sts []statement) []string {
	var out []string
	for _, st := range sts {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Action {
			for _, r := range st.Resource {
				out = append(out, a+" "+r)
			}
		}
	}
	return out
}

func TestIdentityPolicyFiles(t *testing.T) {
	for name, forbidden := range map[string][]string{
		// The writer never reads backup data nor removes versions.
		"writer.json": {"s3:GetObject arn:aws:s3:::BUCKET/*", "s3:GetObjectVersion", "s3:DeleteObjectVersion",
			"s3:BypassGovernanceRetention", "s3:*", "s3:Put*", "s3:Delete*"},
		// The restorer writes only audit records and deletes nothing.
		"restorer.json": {"s3:PutObject arn:aws:s3:::BUCKET/*", "s3:DeleteObject", "s3:DeleteObjectVersion",
			"s3:BypassGovernanceRetention", "s3:AbortMultipartUpload", "s3:*", "s3:Put*", "s3:Delete*"},
	} {
		sts := statements(t, name)
		grants := allowed(sts)
		for _, g := range grants {
			for _, f := range forbidden {
				if g == f || strings.HasPrefix(g, f+" ") {
					t.Errorf("%s allows %s", name, g)
				}
			}
		}
		for _, st := range sts {
			if st.Principal != nil || st.Condition != nil {
				t.Errorf("%s %s: an identity policy names no principal and needs no condition", name, st.Sid)
			}
		}
		if !slices.ContainsFunc(sts, func(st statement) bool {
			return st.Effect == "Deny" && slices.Contains(st.Action, "s3:DeleteObjectVersion")
		}) {
			t.Errorf("%s does not deny s3:DeleteObjectVersion outright", name)
		}
	}
}

func TestBucketPolicyFile(t *testing.T) {
	sts := statements(t, "bucket-policy.json")
	if len(sts) != 1 {
		t.Fatalf("%d statements, want the TLS-only one", len(sts))
	}
	st := sts[0]
	if st.Effect != "Deny" || st.Principal != "*" || !slices.Equal(st.Action, []string{"s3:*"}) ||
		st.Condition["Bool"]["aws:SecureTransport"] != "false" ||
		!slices.Equal(st.Resource, []string{"arn:aws:s3:::BUCKET", "arn:aws:s3:::BUCKET/*"}) {
		t.Errorf("the TLS-only statement is %+v", st)
	}
}
