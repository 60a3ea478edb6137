package testpg

import (
	"strings"
	"testing"
)

// The server accepts connections, databases are independent and SQL runs.
func TestStart(t *testing.T) {
	s := Start(t)
	a := s.CreateDatabase(t)
	b := s.CreateDatabase(t)
	if a == b {
		t.Fatalf("CreateDatabase returned %s twice", a)
	}
	db := a[strings.LastIndexByte(a, '/')+1 : strings.IndexByte(a, '?')]
	out, err := s.Psql(db, "CREATE TABLE t (x int); INSERT INTO t VALUES (41), (1); SELECT sum(x) FROM t")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) != "42" {
		t.Fatalf("sum = %q, want 42", out)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Psql(db, "SELECT 1"); err == nil {
		t.Fatal("psql succeeded after Close")
	}
}
