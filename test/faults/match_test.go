package faults

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	const path = "/bucket/pgtier/test/main/db/20250101T000000Z.dump.zst.age"
	q := func(s string) url.Values {
		v, err := url.ParseQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name   string
		m      Match
		method string
		query  url.Values
		want   bool
	}{
		{"empty matches anything", Match{}, "GET", nil, true},
		{"method", Match{Method: "get"}, "GET", nil, true},
		{"other method", Match{Method: "PUT"}, "GET", nil, false},
		{"key substring", Match{Key: ".dump.zst.age"}, "GET", nil, true},
		{"other key", Match{Key: ".manifest.json"}, "GET", nil, false},
		{"part", UploadPart(".dump", 2), "PUT", q("partNumber=2&uploadId=x"), true},
		{"other part", UploadPart(".dump", 2), "PUT", q("partNumber=3&uploadId=x"), false},
		{"any part", UploadPart(".dump", 0), "PUT", q("partNumber=7&uploadId=x"), true},
		{"a put that is no part", UploadPart(".dump", 0), "PUT", nil, false},
		{"complete", CompleteUpload(".dump"), "POST", q("uploadId=x"), true},
		{"create is not complete", CompleteUpload(".dump"), "POST", q("uploads="), false},
		{"get", GetObject(".dump"), "GET", q("versionId=v"), true},
		{"head is not get", GetObject(".dump"), "HEAD", nil, false},
	}
	for _, c := range cases {
		if got := c.m.matches(c.method, path, c.query); got != c.want {
			t.Errorf("%s: %s matches %s %s?%s = %v, want %v", c.name, c.m, c.method, path, c.query.Encode(), got, c.want)
		}
	}
}

// TestTimes: a fault fires for its next Times matching requests (0 meaning
// once, Always meaning all), the first armed rule first; Disarm stops all.
func TestTimes(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	p, err := Start(up.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	get := func(path string) int {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	once := p.Arm(Fault{Match: Match{Key: "/a"}, Kind: InternalError})
	twice := p.Arm(Fault{Match: Match{Key: "/a"}, Kind: SlowDown, Times: 2})
	always := p.Arm(Fault{Match: Match{Key: "/b"}, Kind: SlowDown, Times: Always})
	var got []int
	for _, path := range []string{"/a", "/a", "/a", "/a", "/b", "/b", "/c"} {
		got = append(got, get(path))
	}
	want := []int{500, 503, 503, 200, 503, 503, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	if once.Fired() != 1 || once.Left() != 0 || twice.Fired() != 2 || always.Fired() != 2 || always.Left() != Always {
		t.Fatalf("fired %d/%d/%d, left %d/%d", once.Fired(), twice.Fired(), always.Fired(), once.Left(), always.Left())
	}
	if p.Fired(SlowDown) != 4 || p.Fired(InternalError) != 1 {
		t.Fatalf("fired by kind: %d SlowDown, %d InternalError", p.Fired(SlowDown), p.Fired(InternalError))
	}
	p.Disarm()
	if get("/b") != 200 || always.Left() != 0 {
		t.Fatal("a disarmed fault still fires")
	}
	log := strings.Join(p.Requests(), "\n")
	if !strings.Contains(log, "GET /a <- 500 InternalError") || !strings.HasSuffix(log, "GET /b") {
		t.Fatalf("request log:\n%s", log)
	}
}

func TestStartRefusesBadUpstream(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:9000", "ftp://host"} {
		if p, err := Start(u, nil); err == nil {
			p.Close()
			t.Errorf("Start(%q) succeeded", u)
		}
	}
}
