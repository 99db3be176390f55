package faults

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Proxy is a fault-injecting reverse proxy listening on 127.0.0.1. Its
// methods are safe for concurrent use.
type Proxy struct {
	// URL is the proxy's address, http://127.0.0.1:PORT: the endpoint to
	// give clients.
	URL string

	upstream *url.URL
	rt       http.RoundTripper
	srv      *http.Server
	ln       net.Listener

	mu    sync.Mutex
	rules []*Rule
	fired map[Kind]int
	log   []string
}

// Start starts a proxy that forwards to upstream (scheme://host:port)
// through rt; a *http.Transport is cloned with compression off, so bodies
// and their Content-Length pass unchanged. Close stops it.
func Start(upstream string, rt http.RoundTripper) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("fault proxy upstream %q: want http(s)://host:port", upstream)
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	if tr, ok := rt.(*http.Transport); ok {
		tr = tr.Clone()
		tr.DisableCompression = true
		rt = tr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting fault proxy: %w", err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), upstream: u, rt: rt, ln: ln, fired: map[Kind]int{}}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy and drops its open connections.
func (p *Proxy) Close() error { return p.srv.Close() }

// Arm adds a fault; it fires for the next f.Times requests it matches.
func (p *Proxy) Arm(f Fault) *Rule {
	r := &Rule{p: p, fault: f, left: f.Times}
	if r.left == 0 {
		r.left = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
	return r
}

// Disarm removes every armed fault; their rules keep their counts.
func (p *Proxy) Disarm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		r.left = 0
	}
	p.rules = nil
}

// Fired returns how many times faults of kind k have fired.
func (p *Proxy) Fired(k Kind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fired[k]
}

// Requests returns one line per request seen, in order:
// "METHOD /path?query", followed by " <- KIND" when a fault fired.
func (p *Proxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// take returns the fault to inject into r, if any, and notes the request.
func (p *Proxy) take(r *http.Request) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := r.Method + " " + r.URL.RequestURI()
	for _, rule := range p.rules {
		if rule.left == 0 || !rule.fault.matches(r.Method, r.URL.Path, r.URL.Query()) {
			continue
		}
		if rule.left > 0 {
			rule.left--
		}
		rule.fired++
		p.fired[rule.fault.Kind]++
		p.log = append(p.log, line+" <- "+string(rule.fault.Kind))
		return rule.fault, true
	}
	p.log = append(p.log, line)
	return Fault{}, false
}

// ServeHTTP forwards r, injecting the fault armed for it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, armed := p.take(r)
	if armed {
		switch {
		case f.Kind == InternalError:
			s3Error(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
			return
		case f.Kind == SlowDown:
			s3Error(w, r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
			return
		case f.Kind == ResetRequest:
			_, _ = io.CopyN(io.Discard, r.Body, f.At)
			reset(w)
			return
		case f.Kind == ErrorIn200 && !f.Forward:
			_, _ = io.Copy(io.Discard, r.Body)
			errorIn200(w)
			return
		}
	}
	resp, err := p.forward(r)
	if err != nil {
		s3Error(w, r, http.StatusBadGateway, "BadGateway", "fault proxy: "+err.Error())
		return
	}
	defer resp.Body.Close()
	if armed && f.Kind == ErrorIn200 {
		_, _ = io.Copy(io.Discard, resp.Body)
		errorIn200(w)
		return
	}
	h := w.Header()
	for k, vs := range resp.Header {
		if !hopByHop(k) {
			h[k] = vs
		}
	}
	if armed && f.Kind == ShiftDate {
		date := time.Now()
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			date = d
		}
		h.Set("Date", date.Add(f.Shift).UTC().Format(http.TimeFormat))
	}
	w.WriteHeader(resp.StatusCode)
	body := io.Reader(resp.Body)
	if armed {
		switch f.Kind {
		case TruncateBody, ResetResponse:
			_, _ = io.CopyN(w, body, f.At)
			_ = http.NewResponseController(w).Flush()
			if f.Kind == ResetResponse {
				reset(w)
			} else {
				hangUp(w)
			}
			return
		case FlipBit:
			body = &flipper{r: body, at: f.At}
		}
	}
	_, _ = io.Copy(w, body)
}

// forward sends r to the upstream server, with its Host header kept.
func (p *Proxy) forward(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.upstream.Scheme, p.upstream.Host
	out.Host = r.Host
	for k := range out.Header {
		if hopByHop(k) {
			out.Header.Del(k)
		}
	}
	// The proxy already answered the client's Expect: 100-continue.
	out.Header.Del("Expect")
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return p.rt.RoundTrip(out)
}

// hopByHop reports whether header k concerns one connection only.
func hopByHop(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// s3Error answers with an S3 error document.
func s3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", "FAULTPROXY")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>FAULTPROXY</RequestId></Error>",
			code, xmlEscape(msg), xmlEscape(r.URL.Path))
	}
}

// errorIn200 answers as S3 does when CompleteMultipartUpload fails after its
// 200 header went out: whitespace to keep the connection alive, then an
// <Error> document.
func errorIn200(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	_ = http.NewResponseController(w).Flush()
	fmt.Fprint(w, "\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>FAULTPROXY</RequestId></Error>")
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// reset ends the client's connection with a TCP reset.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// hangUp closes the client's connection, as a server that stops mid-body.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// flipper flips the lowest bit of byte at of what it reads.
type flipper struct {
	r   io.Reader
	at  int64
	off int64
}

func (f *flipper) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if i := f.at - f.off; i >= 0 && i < int64(n) {
		b[i] ^= 1
	}
	f.off += int64(n)
	return n, err
}
