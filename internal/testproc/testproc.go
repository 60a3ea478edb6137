// Package testproc builds the binaries that tests run as real processes
// (the broker killed by crash and fault tests, helper programs) and runs
// them with their stderr kept. It is for tests only.
//
// A test package builds its binaries once, in TestMain:
//
//	var gregorBin string
//
//	func TestMain(m *testing.M) {
//		testproc.Main(m, "crash", testproc.Binary{Name: "gregor-crashtest", Package: testproc.GregorPackage, Path: &gregorBin})
//	}
//
// and a test starts, waits for, signals and reaps processes through
// Process (process.go).
package testproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Binary is one program to build: Name is the file name in the build
// directory, Package its import path. Path, if not nil, is set to the
// built binary's path (by Main, before the tests run).
type Binary struct {
	Name    string
	Package string
	Path    *string
}

// Build compiles bins into a new temporary directory named after prefix
// and returns it; with race the binaries are built with -race (tests built
// with -race pass RaceEnabled). The caller removes the directory.
//
// Name the broker binary anything but "gregor": bin/kafka-server-stop.sh
// signals every process named gregor with the argument "server", and a
// test of it running in parallel must not stop another test's brokers.
func Build(prefix string, race bool, bins ...Binary) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	for _, b := range bins {
		args := []string{"build", "-o", filepath.Join(dir, b.Name)}
		if race {
			args = append(args, "-race")
		}
		args = append(args, b.Package)
		cmd := exec.Command(goTool, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("testproc: go %s: %w", strings.Join(args, " "), err)
		}
		if b.Path != nil {
			*b.Path = filepath.Join(dir, b.Name)
		}
	}
	return dir, nil
}

// Main is a whole TestMain: it builds bins (with -race when the test
// binary has it, RaceEnabled) into a temporary directory named after
// pkg, runs the tests, removes the directory and exits with the tests'
// status. When a build fails it prints the error after "pkg:" and exits
// with status 1 without running any test. It does not return.
func Main(m *testing.M, pkg string, bins ...Binary) {
	dir, err := Build("gregor-"+pkg+"-bin-", RaceEnabled, bins...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", pkg, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// GregorPackage is the import path of the gregor binary.
const GregorPackage = "github.com/gregor-streaming/gregor/cmd/gregor"
