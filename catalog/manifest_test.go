package catalog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestManifestRoundTrip(t *testing.T) {
	m := sample("app", time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC))
	m.Tables = []TableCount{{Schema: "public", Table: "t", Rows: 3, Exact: true}}
	data, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.Encode()
	if string(again) != string(data) {
		t.Fatalf("round trip changed the manifest:\n%s\n%s", data, again)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, _ := sample("app", time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)).Encode()
	cases := map[string]string{
		"not json":        `nope`,
		"unknown field":   strings.Replace(string(good), `"format": 1,`, `"format": 1, "extra": 2,`, 1),
		"future format":   strings.Replace(string(good), `"format": 1,`, `"format": 2,`, 1),
		"id and taken_at": strings.Replace(string(good), `"id": "20261121T060000Z"`, `"id": "20261121T070000Z"`, 1),
		"no sha":          strings.Replace(string(good), strings.Repeat("ab", 32), "", 1),
	}
	for name, data := range cases {
		if _, err := Decode([]byte(data)); !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("%s: Decode = %v, want ErrInvalidManifest", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := sample("app", time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)).Encode()
	f.Add(good)
	f.Add([]byte(`{"format":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidManifest) {
				t.Fatalf("Decode error %v is not ErrInvalidManifest", err)
			}
			return
		}
		if err := m.check(); err != nil {
			t.Fatalf("Decode accepted a manifest that check refuses: %v", err)
		}
	})
}
