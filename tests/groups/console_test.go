package groups

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/cli"
)

// console runs kafka-console-consumer with args and returns the lines it
// printed.
func console(ctx context.Context, t *testing.T, addr string, args ...string) []string {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	full := append([]string{"kafka-console-consumer", "--bootstrap-server", addr}, args...)
	if code := cli.Run(ctx, env, full); code != 0 {
		t.Errorf("%q: exit %d\n%s", full, code, errOut.String())
	}
	return strings.Fields(out.String())
}

// TestConsoleConsumerGroup: kafka-console-consumer --group commits what
// it printed, so a second run of the same group continues where the
// first stopped; two consumers of one group split the partitions.
func TestConsoleConsumerGroup(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("c", 2)
	e.produce("c", 2, 5)
	addr := e.c.Addr()

	first := console(e.ctx, t, addr, "--topic", "c", "--group", "cg", "--from-beginning", "--max-messages", "6")
	if len(first) != 6 {
		t.Fatalf("first run printed %v", first)
	}
	second := console(e.ctx, t, addr, "--topic", "c", "--group", "cg", "--from-beginning", "--max-messages", "4", "--timeout-ms", "10000")
	if len(second) != 4 {
		t.Fatalf("second run printed %v", second)
	}
	all := append(slices.Clone(first), second...)
	slices.Sort(all)
	if !slices.Equal(slices.Compact(all), []string{"0-0", "0-1", "0-2", "0-3", "0-4", "1-0", "1-1", "1-2", "1-3", "1-4"}) {
		t.Fatalf("the two runs printed %v and %v: not every record exactly once", first, second)
	}
	offsets, err := e.adm.FetchOffsets(e.ctx, "cg")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if o, _ := offsets.Lookup("c", p); o.At != 5 {
			t.Errorf("cg committed %d for c-%d, want 5", o.At, p)
		}
	}

	// Two consumers in one group: each gets a partition. They read from
	// the beginning (the group has no offsets): "latest" could be
	// resolved after the records below arrive.
	e.createTopic("split", 2)
	var wg sync.WaitGroup
	outs := make([][]string, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = console(e.ctx, t, addr, "--topic", "split", "--group", "two", "--from-beginning", "--max-messages", "3", "--timeout-ms", "30000")
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := describe(t, e, "two")
		if d.State == "Stable" && len(d.Members) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the two console consumers did not form a group: %s with %d members", d.State, len(d.Members))
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.produce("split", 2, 3)
	wg.Wait()
	for i, lines := range outs {
		if len(lines) != 3 {
			t.Fatalf("consumer %d printed %v", i, lines)
		}
		for _, l := range lines {
			if l[0] != lines[0][0] {
				t.Errorf("consumer %d read from both partitions: %v", i, lines)
			}
		}
	}
	if outs[0][0][0] == outs[1][0][0] {
		t.Errorf("both consumers read partition %c", outs[0][0][0])
	}
}
