package storage

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// policyStatusCheck combines the server's view (isPublic, from
// GetBucketPolicyStatus) with pgtier's own reading of the bucket policy: an
// unconditional Allow to every principal fails even when the server does not
// call the bucket public (MinIO does so only when anyone may both list and
// write).
func policyStatusCheck(isPublic *bool, stErr error, policy string, polErr error) Check {
	const absentCode = "NoSuchBucketPolicy"
	noPolicy := Check{CheckPolicyStatus, StatusOK, "no bucket policy"}
	open, conditional := anonymousAllows(policy)
	if stErr == nil && isPublic != nil && *isPublic {
		detail := "the server reports the bucket as public"
		if polErr == nil && open != "" {
			detail += ": its policy lets anyone " + open
		}
		return Check{CheckPolicyStatus, StatusFail, detail + "; remove the statements of its policy that allow anyone"}
	}
	if polErr == nil && open != "" {
		return Check{CheckPolicyStatus, StatusFail, "the bucket policy lets anyone " + open + "; remove that statement"}
	}
	if stErr != nil {
		if code, _ := apiCode(stErr); code == absentCode {
			return noPolicy
		}
		c := readError(CheckPolicyStatus, "s3:GetBucketPolicyStatus", stErr, Check{})
		if polErr == nil && conditional != "" {
			c.Status, c.Detail = StatusWarn, c.Detail+"; the bucket policy lets anyone "+conditional+" under conditions: check them"
		}
		return c
	}
	if isPublic == nil {
		return Check{CheckPolicyStatus, StatusUnknown, "the server's policy status has no verdict"}
	}
	return Check{CheckPolicyStatus, StatusOK, "not public"}
}

// tlsOnlyCheck looks for a statement of the bucket policy that denies every
// principal every action on the store's objects when aws:SecureTransport is
// false.
func tlsOnlyCheck(policy string, err error, bucket, prefix string) Check {
	absent := Check{Status: StatusWarn, Detail: "no bucket policy, so plain-HTTP requests are not refused; apply configs/iam/bucket-policy.json"}
	if err != nil {
		return readError(CheckTLSOnly, "s3:GetBucketPolicy", err, absent, "NoSuchBucketPolicy")
	}
	doc, perr := parsePolicy(policy)
	if perr != nil {
		return Check{CheckTLSOnly, StatusUnknown, "cannot parse the bucket policy: " + perr.Error()}
	}
	object := "arn:aws:s3:::" + bucket + "/" + prefix + "x"
	for _, st := range doc.Statement {
		if strings.EqualFold(st.Effect, "Deny") && anyone(st.Principal) && len(st.NotAction) == 0 &&
			(slices.Contains(st.Action, "s3:*") || slices.Contains(st.Action, "*")) &&
			slices.ContainsFunc(st.Resource, func(r string) bool { return wildcardMatch(r, object) }) &&
			insecureTransport(st.Condition) {
			return Check{CheckTLSOnly, StatusOK, "the bucket policy denies requests without TLS"}
		}
	}
	return Check{CheckTLSOnly, StatusWarn, "the bucket policy does not deny requests without TLS (aws:SecureTransport false); add the statement of configs/iam/bucket-policy.json"}
}

// policyDoc is the part of an IAM policy document that posture reads.
type policyDoc struct {
	Statement statements
}

type policyStatement struct {
	Sid       string
	Effect    string
	Principal json.RawMessage
	Action    stringList
	NotAction stringList
	Resource  stringList
	Condition map[string]map[string]stringList
}

// parsePolicy decodes a bucket policy.
func parsePolicy(policy string) (policyDoc, error) {
	var d policyDoc
	if err := json.Unmarshal([]byte(policy), &d); err != nil {
		return policyDoc{}, err
	}
	return d, nil
}

// statements decodes a policy's Statement, which is one object or a list.
type statements []policyStatement

func (s *statements) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var one policyStatement
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = statements{one}
		return nil
	}
	return json.Unmarshal(b, (*[]policyStatement)(s))
}

// stringList decodes a policy value that is a string, a boolean or a list
// of them, as policy grammar allows.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	*l = nil
	for _, it := range items {
		switch x := it.(type) {
		case string:
			*l = append(*l, x)
		case bool:
			*l = append(*l, strconv.FormatBool(x))
		default:
			return fmt.Errorf("unexpected value %q in a policy list", b)
		}
	}
	return nil
}

// anyone reports whether a statement's principal is everybody: "*" or
// {"AWS": "*"}.
func anyone(principal json.RawMessage) bool {
	var s string
	if json.Unmarshal(principal, &s) == nil {
		return s == "*"
	}
	var m map[string]stringList
	if json.Unmarshal(principal, &m) == nil {
		return slices.Contains(m["AWS"], "*")
	}
	return false
}

// anonymousAllows returns the actions that the policy allows to every
// principal, without conditions (open) and under conditions (conditional),
// each with its statement, for a Detail; "" when there are none or the
// policy cannot be parsed.
func anonymousAllows(policy string) (open, conditional string) {
	if policy == "" {
		return "", ""
	}
	doc, err := parsePolicy(policy)
	if err != nil {
		return "", ""
	}
	for i, st := range doc.Statement {
		if !strings.EqualFold(st.Effect, "Allow") || !anyone(st.Principal) {
			continue
		}
		sid := st.Sid
		if sid == "" {
			sid = "#" + strconv.Itoa(i+1)
		}
		what := strings.Join(append(slices.Clone(st.Action), st.NotAction...), ", ") + " (statement " + sid + ")"
		if len(st.Condition) == 0 && open == "" {
			open = what
		} else if len(st.Condition) > 0 && conditional == "" {
			conditional = what
		}
	}
	return open, conditional
}

// insecureTransport reports whether a condition block holds
// Bool/BoolIfExists aws:SecureTransport false.
func insecureTransport(cond map[string]map[string]stringList) bool {
	for op, keys := range cond {
		if !strings.EqualFold(op, "Bool") && !strings.EqualFold(op, "BoolIfExists") {
			continue
		}
		for k, vals := range keys {
			if strings.EqualFold(k, "aws:SecureTransport") && slices.ContainsFunc(vals, func(v string) bool { return strings.EqualFold(v, "false") }) {
				return true
			}
		}
	}
	return false
}

// wildcardMatch matches s against an IAM resource pattern, where * stands
// for any run of characters (slashes included) and ? for one character.
func wildcardMatch(pattern, s string) bool {
	px, sx := 0, 0
	star, back := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			star, back = px, sx
			px++
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case star >= 0:
			back++
			px, sx = star+1, back
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
