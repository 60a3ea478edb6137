package controller

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

// rewrite regenerates the expected output of transcript tests:
//
//	go test ./internal/controller -run Transcript -rewrite
var rewrite = flag.Bool("rewrite", false, "rewrite testdata transcripts with actual output")

// A transcript is a file of commands and their expected output, in the
// style of etcd-raft's and pebble's datadriven tests:
//
//	# comment
//	command key=value flag
//	----
//	expected output
//	(a blank line ends the output)
//
// runTranscript runs every command through run and compares its output.
type transcriptCmd struct {
	pos  string
	name string
	args map[string]string
}

func (c transcriptCmd) has(key string) bool { _, ok := c.args[key]; return ok }

func parseCmd(line string) (string, map[string]string) {
	fields := strings.Fields(line)
	args := map[string]string{}
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, "=")
		args[k] = v
	}
	return fields[0], args
}

func runTranscript(t *testing.T, path string, run func(transcriptCmd) string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var out strings.Builder
	for i := 0; i < len(lines); {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			i++
			continue
		}
		pos := fmt.Sprintf("%s:%d", path, i+1)
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s: command %q not followed by ----", pos, line)
		}
		j := i + 2
		for j < len(lines) && strings.TrimSpace(lines[j]) != "" {
			j++
		}
		want := strings.Join(lines[i+2:j], "\n")
		name, args := parseCmd(line)
		got := strings.TrimRight(run(transcriptCmd{pos: pos, name: name, args: args}), "\n")
		if got == "" {
			got = "ok"
		}
		if got != want && !*rewrite {
			t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", pos, line, got, want)
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n", line, got)
		if j < len(lines) {
			out.WriteString("\n")
		}
		i = j + 1
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
