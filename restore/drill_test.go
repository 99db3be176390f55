package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/snapshot"
)

// listing is pg_restore --list output of restore/testdata/drill.dump, plus
// a table whose data is missing.
const listing = `;
; Archive created at 2026-11-21 08:29:01 UTC
;     TOC Entries: 14
;
7; 2615 16422 SCHEMA - s p postgres
2; 3079 16434 EXTENSION - amcheck 
216; 1259 16419 TABLE public my tab postgres
218; 1259 16428 TABLE public p postgres
219; 1259 16431 TABLE public p1 postgres
217; 1259 16423 TABLE s p t postgres
220; 1259 16440 TABLE public nodata postgres
3216; 0 0 TABLE ATTACH public p1 postgres
3361; 0 16419 TABLE DATA public my tab postgres
3363; 0 16431 TABLE DATA public p1 postgres
3362; 0 16423 TABLE DATA s p t 
3218; 2606 16427 CONSTRAINT s p t t_pkey postgres
`

func TestParseTOC(t *testing.T) {
	got := parseTOC([]byte(listing))
	if got.entries != 12 || len(got.tables) != 5 || len(got.data) != 3 {
		t.Fatalf("entries %d, tables %q, data %q; want 12, 5 and 3", got.entries, got.tables, got.data)
	}
	if got.data[0] != "public my tab postgres" || got.data[2] != "s p t " {
		t.Fatalf("data entries %q", got.data)
	}
}

func TestCompareArchive(t *testing.T) {
	toc := parseTOC([]byte(listing))
	tc := func(schema, table string) catalog.TableCount { return catalog.TableCount{Schema: schema, Table: table} }
	cases := []struct {
		name   string
		tables []catalog.TableCount
		result string
		detail string
	}{
		{"every table has its data", []catalog.TableCount{tc("public", "my tab"), tc("public", "p1"), tc("s p", "t")}, ResultPass,
			"12 entries; table data for 3 tables, 3 counted in the manifest"},
		{"an extension's table is not in the archive", []catalog.TableCount{tc("public", "my tab"), tc("public", "spatial_ref_sys")}, ResultPass,
			"1 counted tables are not defined in the archive (extension tables, or dropped during the backup): public.spatial_ref_sys"},
		{"a defined table without data", []catalog.TableCount{tc("public", "my tab"), tc("public", "nodata")}, ResultFail,
			"the archive defines 1 tables of the manifest without their data: public.nodata"},
		{"no tables", nil, ResultPass, "table data for 3 tables, 0 counted"},
	}
	for _, c := range cases {
		got := compareArchive(c.tables, toc)
		if got.Name != CheckArchive || got.Result != c.result || !strings.Contains(got.Detail, c.detail) {
			t.Errorf("%s: %+v; want %s with %q", c.name, got, c.result, c.detail)
		}
	}
}

func TestWithinEstimate(t *testing.T) {
	cases := []struct {
		estimate, restored int64
		ok                 bool
	}{
		{0, 1000, true},
		{0, 1001, false},
		{500, 1500, true},
		{100000, 110000, true},
		{100000, 90000, true},
		{100000, 110001, false},
		{100000, 89999, false},
		{5000000, 5400000, true},
		{5000000, 5600000, false},
	}
	for _, c := range cases {
		if got := withinEstimate(c.estimate, c.restored); got != c.ok {
			t.Errorf("estimate %d, restored %d: within %t, want %t", c.estimate, c.restored, got, c.ok)
		}
	}
}

func TestCompareCounts(t *testing.T) {
	exact := func(table string, n int64) catalog.TableCount {
		return catalog.TableCount{Schema: "public", Table: table, Rows: n, Exact: true}
	}
	estimate := func(table string, n int64) catalog.TableCount {
		return catalog.TableCount{Schema: "public", Table: table, Rows: n}
	}
	restored := func(kv ...any) map[tableKey]int64 {
		m := map[tableKey]int64{}
		for i := 0; i < len(kv); i += 2 {
			m[tableKey{"public", kv[i].(string)}] = int64(kv[i+1].(int))
		}
		return m
	}
	cases := []struct {
		name     string
		manifest []catalog.TableCount
		restored map[tableKey]int64
		results  []string
		ok       bool
		detail   string
	}{
		{"exact counts equal", []catalog.TableCount{exact("a", 3), exact("b", 0)}, restored("a", 3, "b", 0),
			[]string{TableMatch, TableMatch}, true, "2 exact counts equal"},
		{"an exact count off by one", []catalog.TableCount{exact("a", 3)}, restored("a", 2),
			[]string{TableMismatch}, false, "public.a has 2 rows, the manifest counted 3 exactly"},
		{"an estimate within 10%", []catalog.TableCount{estimate("big", 200000)}, restored("big", 219000),
			[]string{TableWithin}, true, "1 estimates within 10% or 1000 rows"},
		{"an estimate off by 20%", []catalog.TableCount{estimate("big", 200000)}, restored("big", 160000),
			[]string{TableMismatch}, false, "public.big has 160000 rows, the manifest counted 200000 by estimate"},
		{"a table never analyzed", []catalog.TableCount{estimate("huge", -1)}, restored("huge", 7),
			[]string{TableNoCount}, true, "1 without an estimate"},
		{"a table missing from the restore", []catalog.TableCount{exact("a", 1), exact("gone", 1)}, restored("a", 1),
			[]string{TableMatch, TableMissing}, false, "public.gone is missing"},
		{"a table not in the manifest", []catalog.TableCount{exact("a", 1)}, restored("a", 1, "new", 5),
			[]string{TableMatch, TableUnlisted}, true, "1 not in the manifest"},
	}
	for _, c := range cases {
		got, check := compareCounts(c.manifest, c.restored)
		var results []string
		for _, g := range got {
			results = append(results, g.Result)
		}
		if strings.Join(results, ",") != strings.Join(c.results, ",") {
			t.Errorf("%s: results %q, want %q", c.name, results, c.results)
		}
		if check.Name != CheckRowCounts || (check.Result == ResultPass) != c.ok || !strings.Contains(check.Detail, c.detail) {
			t.Errorf("%s: check %+v; want ok %t with %q", c.name, check, c.ok, c.detail)
		}
	}
	got, _ := compareCounts([]catalog.TableCount{exact("gone", 1)}, nil)
	if got[0].Restored != -1 {
		t.Errorf("a missing table's restored count is %d, want -1", got[0].Restored)
	}
}

// bytesSource serves one stored object.
type bytesSource struct{ data []byte }

func (s bytesSource) Open(context.Context, *catalog.Manifest) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(s.data)), nil
}

// sealed compresses and encrypts plain as a backup does and returns the
// stored bytes and a manifest for them.
func sealed(t *testing.T, plain []byte, to age.Recipient) ([]byte, *catalog.Manifest) {
	t.Helper()
	var out bytes.Buffer
	enc, err := crypto.Encrypt(&out, []age.Recipient{to})
	if err != nil {
		t.Fatal(err)
	}
	zw, err := crypto.Compress(enc, "fastest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out.Bytes())
	return out.Bytes(), &catalog.Manifest{ID: "20261121T060000Z", Database: "drill", SHA256: hex.EncodeToString(sum[:]),
		StoredBytes: int64(out.Len()), Tables: []catalog.TableCount{
			{Schema: "public", Table: "my tab", Rows: 3, Exact: true},
			{Schema: "public", Table: "p1", Rows: 1, Exact: true},
			{Schema: "s p", Table: "t", Rows: 2, Exact: true},
		}}
}

// TestDrillReadsTheArchive runs a drill without a database on a small
// pg_dump archive: intact, with one stored byte changed, and cut short.
func TestDrillReadsTheArchive(t *testing.T) {
	tools, err := snapshot.FindTools("", 0)
	if err != nil {
		t.Skipf("no pg_restore: %v", err)
	}
	archive, err := os.ReadFile("testdata/drill.dump")
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	stored, m := sealed(t, archive, id.Recipient())
	flipped := append([]byte(nil), stored...)
	flipped[len(flipped)/2] ^= 0x01
	notArchive, notArchiveManifest := sealed(t, []byte("not a pg_dump archive"), id.Recipient())
	cases := []struct {
		name   string
		data   []byte
		m      *catalog.Manifest
		checks string
		detail string
	}{
		{"intact", stored, m, "object:pass decrypt:pass archive:pass", "12 entries; table data for 3 tables, 3 counted"},
		{"one byte changed", flipped, m, "object:fail", "sha256"},
		{"cut short", stored[:len(stored)-10], m, "object:fail", "the manifest records"},
		{"altered before it was stored", flipped, withSum(m, flipped), "object:pass decrypt:fail", "decrypting and decompressing the object"},
		{"not an archive", notArchive, notArchiveManifest, "object:pass decrypt:pass archive:fail", "pg_restore --list"},
	}
	for _, c := range cases {
		var seen int64
		r := &Restorer{Source: bytesSource{c.data}, Identities: []age.Identity{id}, Tools: tools,
			Progress: func(int64) func(int64) { return func(n int64) { seen += n } }}
		d, err := r.Drill(context.Background(), c.m, DrillOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for _, ch := range d.Checks {
			got = append(got, ch.Name+":"+ch.Result)
		}
		last := d.Checks[len(d.Checks)-1]
		if strings.Join(got, " ") != c.checks || !strings.Contains(last.Detail, c.detail) {
			t.Errorf("%s: checks %v, last %q; want %s with %q", c.name, got, last.Detail, c.checks, c.detail)
		}
		if d.Bytes != int64(len(c.data)) || seen != d.Bytes {
			t.Errorf("%s: read %d bytes, progress saw %d; want %d", c.name, d.Bytes, seen, len(c.data))
		}
		if f := d.Failure(); (f == nil) != (c.name == "intact") {
			t.Errorf("%s: first failure %+v", c.name, f)
		}
	}
}

// withSum returns a copy of m that records data's size and SHA-256.
func withSum(m *catalog.Manifest, data []byte) *catalog.Manifest {
	c := *m
	sum := sha256.Sum256(data)
	c.SHA256, c.StoredBytes = hex.EncodeToString(sum[:]), int64(len(data))
	return &c
}

// TestDrillWrongIdentity: identities the backup was not encrypted to are an
// error, not a failed check.
func TestDrillWrongIdentity(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	stored, m := sealed(t, []byte("archive"), id.Recipient())
	r := &Restorer{Source: bytesSource{stored}, Identities: []age.Identity{other}}
	d, err := r.Drill(context.Background(), m, DrillOptions{})
	if d != nil || !crypto.IsNoIdentity(err) {
		t.Fatalf("drill with the wrong identity: %+v, %v; want no report and a no-identity error", d, err)
	}
}

// TestDrillGlobalsIntoDatabase: the globals cannot be restored into a
// database, and that is refused before anything is read.
func TestDrillGlobalsIntoDatabase(t *testing.T) {
	r := &Restorer{Source: bytesSource{}}
	m := &catalog.Manifest{Database: catalog.GlobalsDatabase}
	if _, err := r.Drill(context.Background(), m, DrillOptions{Into: &snapshot.Conn{Database: "x"}}); !errors.Is(err, ErrGlobalsNeedFile) {
		t.Fatalf("globals into a database: %v, want ErrGlobalsNeedFile", err)
	}
}
