package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/internal/storage"
)

// writeProps writes a properties file and returns its path.
func writeProps(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.properties")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// add-controller reads the new controller from its own configuration:
// node.id, the directory id of its metadata dir, its controller
// endpoints; --dry-run prints what would be sent.
func TestAddControllerReadsItsConfig(t *testing.T) {
	meta := t.TempDir()
	const dirID = "MvDxzVmcRsaTz33bUuRU6A"
	if err := storage.WriteMetaProperties(meta, storage.MetaProperties{Version: 1, ClusterID: "c", NodeID: 5, DirectoryID: dirID}); err != nil {
		t.Fatal(err)
	}
	good := []string{"process.roles=controller", "node.id=5", "listeners=CONTROLLER://:9095",
		"advertised.listeners=CONTROLLER://ctl5.example:9095", "controller.listener.names=CONTROLLER", "log.dirs=" + meta}
	out := mustRun(t, "kafka-metadata-quorum", "--bootstrap-controller", "127.0.0.1:1", "--command-config", writeProps(t, good...), "add-controller", "--dry-run")
	if want := "DRY RUN of adding controller 5 with directory id " + dirID + " and endpoints: CONTROLLER://ctl5.example:9095\n"; out != want {
		t.Fatalf("dry run = %q, want %q", out, want)
	}
	// Without advertised.listeners an empty host is localhost.
	out = mustRun(t, "kafka-metadata-quorum", "--bootstrap-controller", "127.0.0.1:1", "--command-config",
		writeProps(t, append(good[:3:3], "controller.listener.names=CONTROLLER", "metadata.log.dir="+meta)...), "add-controller", "--dry-run")
	if !strings.HasSuffix(out, "endpoints: CONTROLLER://localhost:9095\n") {
		t.Fatalf("dry run without advertised.listeners = %q", out)
	}

	without := func(key string, extra ...string) []string {
		var out []string
		for _, l := range good {
			if !strings.HasPrefix(l, key+"=") {
				out = append(out, l)
			}
		}
		return append(out, extra...)
	}
	for name, c := range map[string]struct {
		props []string
		want  string
	}{
		"no node.id":    {without("node.id"), "node.id not found in configuration file. Is this a valid controller configuration file?"},
		"negative id":   {without("node.id", "node.id=-1"), "node.id was negative in configuration file. Is this a valid controller configuration file?"},
		"a broker":      {without("process.roles", "process.roles=broker"), "process.roles did not contain 'controller' in configuration file. Is this a valid controller configuration file?"},
		"no dirs":       {without("log.dirs"), "Neither metadata.log.dir nor log.dirs were found. Is this a valid controller configuration file?"},
		"not formatted": {without("log.dirs", "log.dirs="+t.TempDir()), "Unable to read meta.properties from "},
		"no names":      {without("controller.listener.names"), "controller.listener.names was not found. Is this a valid controller configuration file?"},
		"unknown name":  {without("controller.listener.names", "controller.listener.names=OTHER"), "Cannot find information about controller listener name: OTHER"},
		"bad listener":  {without("listeners", "listeners=nonsense"), "Unable to parse nonsense to a broker endpoint"},
	} {
		r := runTool(t, "kafka-metadata-quorum", "--bootstrap-controller", "127.0.0.1:1", "--command-config", writeProps(t, c.props...), "add-controller", "--dry-run")
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", name, r.code, r.stderr, c.want)
		}
	}
}

func TestRemoveControllerArguments(t *testing.T) {
	out := mustRun(t, "kafka-metadata-quorum", "--bootstrap-server", "127.0.0.1:1", "remove-controller",
		"--controller-id", "2", "--controller-directory-id", "MvDxzVmcRsaTz33bUuRU6A", "--dry-run")
	if want := "DRY RUN of removing  KRaft controller 2 with directory id MvDxzVmcRsaTz33bUuRU6A\n"; out != want {
		t.Fatalf("dry run = %q, want %q", out, want)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"remove-controller", "--controller-directory-id", "MvDxzVmcRsaTz33bUuRU6A"}, "argument --controller-id/-i is required"},
		{[]string{"remove-controller", "-i", "2"}, "argument --controller-directory-id/-d is required"},
		{[]string{"remove-controller", "-i", "-1", "-d", "MvDxzVmcRsaTz33bUuRU6A"}, "Invalid negative --controller-id: -1"},
		{[]string{"remove-controller", "-i", "1", "-d", "nope"}, "Failed to parse --controller-directory-id: "},
		{[]string{"add-controller"}, "You must supply the configuration file of the controller you are adding when using add-controller."},
		{[]string{"frobnicate"}, "argument command: invalid choice: 'frobnicate' (choose from 'describe', 'add-controller', 'remove-controller')"},
	} {
		r := runTool(t, append([]string{"kafka-metadata-quorum", "--bootstrap-server", "127.0.0.1:1"}, c.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
