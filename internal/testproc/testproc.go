// Package testproc builds the binaries that tests run as real processes
// (the broker killed by crash and fault tests, helper programs). It is
// for tests only.
package testproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binary is one program to build: Name is the file name in the build
// directory, Package its import path.
type Binary struct {
	Name    string
	Package string
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
	}
	return dir, nil
}

// GregorPackage is the import path of the gregor binary.
const GregorPackage = "github.com/gregor-streaming/gregor/cmd/gregor"
