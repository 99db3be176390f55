package storage

import (
	"strings"
	"testing"
)

// FuzzBucketPolicy feeds the posture checks arbitrary bucket policies: they
// must not panic, must give a known status, and their detail is one line
// unless the policy itself spells a line break inside a string; a policy
// that lets anyone act without conditions always fails.
func FuzzBucketPolicy(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":[{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*",` +
			`"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*"}}`,
		`{"Statement":[{"Effect":"allow","Principal":"*","NotAction":"s3:DeleteObject","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`,
		`{"Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"*","Resource":"arn:aws:s3:::?/pgtier/*",` +
			`"Condition":{"BoolIfExists":{"aws:SecureTransport":false}}}]}`,
		`{"Statement":[{"Action":[1,` + "\n" + `2]}]}`, // the detail once quoted this line break
		`{"Statement":null}`, `{"Statement":[null]}`, `{"Statement":"x"}`, `[]`, `null`, ``, `{`,
	} {
		f.Add(s)
	}
	known := map[string]bool{StatusOK: true, StatusWarn: true, StatusFail: true, StatusUnknown: true}
	f.Fuzz(func(t *testing.T, policy string) {
		no := false
		checks := []Check{
			tlsOnlyCheck(policy, nil, "b", "pgtier/production/"),
			policyStatusCheck(&no, nil, policy, nil),
			policyStatusCheck(nil, apiErr("AccessDenied"), policy, nil),
		}
		for _, c := range checks {
			if !known[c.Status] {
				t.Fatalf("%s: status %q", c.Name, c.Status)
			}
			if strings.ContainsAny(c.Detail, "\n\r") && !strings.Contains(policy, `\`) {
				t.Fatalf("%s: multi-line detail %q", c.Name, c.Detail)
			}
		}
		if open, _ := anonymousAllows(policy); open != "" && checks[1].Status != StatusFail {
			t.Fatalf("a policy that lets anyone %s: %+v", open, checks[1])
		}
	})
}
