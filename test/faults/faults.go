// Package faults is an HTTP reverse proxy in front of an S3 server that
// injects the failures a real S3 endpoint and the network between produce:
// 500 and 503 SlowDown answers, a connection reset in the middle of a
// request body, a response body cut short or reset, a flipped bit in a
// response body, an S3 error inside a 200 answer, and a shifted Date header.
//
// Clients talk plain HTTP to the proxy, which forwards each request, with
// its Host header unchanged so SigV4 signatures still verify, to the
// upstream server (typically HTTPS). Faults are armed with Arm for the next
// N requests that match a method, a key and a query; each request fires at
// most one fault, the first armed one that matches. The proxy is for tests
// only; it is not part of pgtier.
package faults

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Kind is one kind of fault.
type Kind string

// The faults the proxy can inject. Those marked "not forwarded" answer in
// place of the server, which never sees the request.
const (
	// InternalError answers 500 with an S3 InternalError body. Not forwarded.
	InternalError Kind = "500 InternalError"
	// SlowDown answers 503 with an S3 SlowDown body. Not forwarded.
	SlowDown Kind = "503 SlowDown"
	// ResetRequest reads Fault.At bytes of the request body, then resets
	// the TCP connection (RST) without an answer. Not forwarded.
	ResetRequest Kind = "reset mid-request"
	// TruncateBody forwards the request and sends the status, the headers
	// (with the full Content-Length) and Fault.At bytes of the body, then
	// closes the connection.
	TruncateBody Kind = "truncated body"
	// ResetResponse is TruncateBody ending in a TCP reset instead of a close.
	ResetResponse Kind = "reset mid-response"
	// FlipBit forwards the request and flips the lowest bit of byte Fault.At
	// of the response body (counted from the first byte of this response).
	FlipBit Kind = "flipped bit"
	// ErrorIn200 answers 200 with an S3 <Error> XML body, as S3 does when a
	// CompleteMultipartUpload fails after its 200 header went out. Not
	// forwarded unless Fault.Forward is set: then the server carries the
	// request out and its answer is replaced.
	ErrorIn200 Kind = "error in 200"
	// ShiftDate forwards the request and moves the answer's Date header by
	// Fault.Shift.
	ShiftDate Kind = "shifted Date"
)

// Always arms a fault for every matching request, for Fault.Times.
const Always = -1

// Match selects requests. Empty fields match anything.
type Match struct {
	Method string // GET, PUT, POST, HEAD or DELETE
	Key    string // a substring of the request path, /bucket/key in path style
	Query  string // a query parameter the request carries: uploads, uploadId, partNumber, versionId
	Part   int    // the partNumber parameter, for UploadPart
}

// UploadPart matches the upload of part (0: any part) of an object whose
// key contains key.
func UploadPart(key string, part int) Match {
	return Match{Method: "PUT", Key: key, Query: "partNumber", Part: part}
}

// CompleteUpload matches CompleteMultipartUpload of an object whose key
// contains key.
func CompleteUpload(key string) Match { return Match{Method: "POST", Key: key, Query: "uploadId"} }

// GetObject matches GetObject of an object whose key contains key.
func GetObject(key string) Match { return Match{Method: "GET", Key: key} }

// matches reports whether a request with this method, path and query is
// selected by m.
func (m Match) matches(method, path string, query url.Values) bool {
	if m.Method != "" && !strings.EqualFold(m.Method, method) {
		return false
	}
	if m.Key != "" && !strings.Contains(path, m.Key) {
		return false
	}
	if m.Query != "" && !query.Has(m.Query) {
		return false
	}
	if m.Part != 0 && query.Get("partNumber") != strconv.Itoa(m.Part) {
		return false
	}
	return true
}

// String describes m, for messages.
func (m Match) String() string {
	var parts []string
	for _, p := range []struct{ name, v string }{{"method", m.Method}, {"key", m.Key}, {"query", m.Query}} {
		if p.v != "" {
			parts = append(parts, p.name+"="+p.v)
		}
	}
	if m.Part != 0 {
		parts = append(parts, "part="+strconv.Itoa(m.Part))
	}
	if len(parts) == 0 {
		return "any request"
	}
	return strings.Join(parts, " ")
}

// Fault is a fault to inject into the requests that Match selects.
type Fault struct {
	Match
	Kind Kind
	// Times is how many matching requests the fault fires for: 0 means
	// once, Always means every one.
	Times int
	// At is a byte count or offset: the request body bytes read before
	// ResetRequest, the response body bytes sent before TruncateBody and
	// ResetResponse, the offset of the byte FlipBit changes.
	At int64
	// Shift is how far ShiftDate moves the Date header.
	Shift time.Duration
	// Forward lets the server carry out an ErrorIn200 request.
	Forward bool
}

// String describes f, for messages.
func (f Fault) String() string {
	s := fmt.Sprintf("%s on %s", f.Kind, f.Match)
	switch f.Kind {
	case ResetRequest, TruncateBody, ResetResponse, FlipBit:
		s += fmt.Sprintf(" at byte %d", f.At)
	case ShiftDate:
		s += " by " + f.Shift.String()
	case ErrorIn200:
		if f.Forward {
			s += " (forwarded)"
		}
	}
	return s
}

// Rule is an armed fault. Its methods are safe for concurrent use.
type Rule struct {
	p     *Proxy
	fault Fault
	left  int // Always: unlimited
	fired int
}

// Fault returns the fault the rule injects.
func (r *Rule) Fault() Fault { return r.fault }

// Fired returns how many requests the rule has fired for.
func (r *Rule) Fired() int {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	return r.fired
}

// Left returns how many more requests the rule will fire for (Always when
// unlimited, 0 when spent or disarmed).
func (r *Rule) Left() int {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	return r.left
}
