package cli

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/raft"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// dynamicControllerConfig is a controller of a dynamic quorum (KIP-853):
// controller.quorum.bootstrap.servers, no controller.quorum.voters.
func dynamicControllerConfig(t *testing.T, id, port string) (string, string) {
	return writeServerConfig(t,
		"process.roles=controller",
		"node.id="+id,
		"controller.quorum.bootstrap.servers=127.0.0.1:19093",
		"listeners=CONTROLLER://:"+port,
		"advertised.listeners=CONTROLLER://ctl"+id+".example:"+port,
		"controller.listener.names=CONTROLLER",
		"log.dirs=$DIR/data",
		"metadata.log.dir=$DIR/meta",
	)
}

func metaDirectoryID(t *testing.T, dir string) [16]byte {
	t.Helper()
	m, err := storage.ReadMetaProperties(dir)
	if err != nil {
		t.Fatal(err)
	}
	id, err := parseKafkaUUID(m.DirectoryID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// --standalone writes the initial log: this controller is the only
// voter, at its advertised controller listener, with the metadata dir's
// directory id (Kafka's bootstrap checkpoint with a VotersRecord).
func TestStorageFormatStandalone(t *testing.T) {
	cfg, dir := dynamicControllerConfig(t, "3", "19093")
	const id = "q1Sh-9_ISia_zwGINzRvyQ"

	r := runTool(t, "kafka-storage", "format", "-t", id, "-c", cfg)
	want := "kafka-storage: Because controller.quorum.voters is not set on this controller, you must specify one of the following: --standalone, --initial-controllers, or --no-initial-controllers.\n"
	if r.code != 1 || !sameStderr(r.stderr, want) {
		t.Fatalf("format without a voter option: %+v", r)
	}

	r = runTool(t, "kafka-storage", "format", "-t", id, "-c", cfg, "--standalone")
	if r.code != 0 || !strings.Contains(r.stdout, "Formatting dynamic metadata voter directory "+dir+"/meta with metadata.version 4.0-IV3.\n") {
		t.Fatalf("format --standalone: %+v", r)
	}
	metaLog := filepath.Join(dir, "meta", config.MetadataLogDirName)
	got, err := raft.ReadMembers(metaLog, 3)
	if err != nil {
		t.Fatal(err)
	}
	want3 := []raft.Member{{ID: 3, DirectoryID: metaDirectoryID(t, filepath.Join(dir, "meta")), Listener: "CONTROLLER", Addr: "ctl3.example:19093", Voter: true}}
	if !slices.Equal(got, want3) {
		t.Fatalf("initial voters %+v, want %+v", got, want3)
	}
	if raft.Bootstrapped(filepath.Join(dir, "data", config.MetadataLogDirName)) {
		t.Fatal("a data directory got a metadata log")
	}
	if dataID := metaDirectoryID(t, filepath.Join(dir, "data")); dataID == want3[0].DirectoryID {
		t.Fatal("the data directory shares the metadata directory's id")
	}
}

// --initial-controllers names the same voters on every initial
// controller; each voter's metadata dir takes its directory id from the
// list, and the logs all start alike. A controller not in the list gets
// the voters too ("dynamic metadata directory").
func TestStorageFormatInitialControllers(t *testing.T) {
	const voters = "1@h1:9093:MvDxzVmcRsaTz33bUuRU6A,2@[::1]:9094:07R5amHmR32VDA6jHkGbTA"
	var first []raft.Member
	for _, c := range []struct{ id, kind string }{
		{"1", "dynamic metadata voter directory"},
		{"2", "dynamic metadata voter directory"},
		{"7", "dynamic metadata directory"},
	} {
		cfg, dir := dynamicControllerConfig(t, c.id, "19093")
		r := runTool(t, "kafka-storage", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-c", cfg, "--initial-controllers", voters)
		if r.code != 0 || !strings.Contains(r.stdout, "Formatting "+c.kind+" "+dir+"/meta ") {
			t.Fatalf("node %s: %+v", c.id, r)
		}
		node, _ := strconv.Atoi(c.id)
		members, err := raft.ReadMembers(filepath.Join(dir, "meta", config.MetadataLogDirName), int32(node))
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = members
		} else if !slices.Equal(members, first) {
			t.Fatalf("node %s starts with %+v, node 1 with %+v", c.id, members, first)
		}
		dirID := metaDirectoryID(t, filepath.Join(dir, "meta"))
		for _, m := range members {
			if m.ID == int32(node) && m.DirectoryID != dirID {
				t.Fatalf("node %s's metadata dir id %x, its voter entry %x", c.id, dirID, m.DirectoryID)
			}
		}
	}
	if len(first) != 2 || first[0].Addr != "h1:9093" || first[1].Addr != "[::1]:9094" || first[0].Listener != "CONTROLLER" {
		t.Fatalf("voters %+v", first)
	}
}

// --no-initial-controllers: a controller starts with an empty log (it is
// added later); a broker writes no log at all.
func TestStorageFormatNoInitialControllers(t *testing.T) {
	cfg, dir := dynamicControllerConfig(t, "4", "19093")
	r := runTool(t, "kafka-storage", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-c", cfg, "-N")
	if r.code != 0 || !strings.Contains(r.stdout, "Formatting metadata directory "+dir+"/meta ") {
		t.Fatalf("format -N: %+v", r)
	}
	if got, err := raft.ReadMembers(filepath.Join(dir, "meta", config.MetadataLogDirName), 4); err != nil || len(got) != 0 {
		t.Fatalf("members of a joining controller: %+v, %v", got, err)
	}

	brokerCfg, bdir := writeServerConfig(t, "process.roles=broker", "node.id=5", "log.dirs=$DIR/logs",
		"controller.quorum.bootstrap.servers=localhost:9093", "controller.listener.names=CONTROLLER",
		"listeners=PLAINTEXT://:9092")
	for _, flags := range [][]string{nil, {"--no-initial-controllers"}} {
		d := filepath.Join(bdir, "logs")
		r = runTool(t, append([]string{"kafka-storage", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-c", brokerCfg, "-g"}, flags...)...)
		if r.code != 0 || raft.Bootstrapped(filepath.Join(d, config.MetadataLogDirName)) {
			t.Fatalf("broker %q: %+v", flags, r)
		}
	}
}

// The quickstart config (a combined node whose bootstrap servers name
// only itself) is a single node until formatted --standalone, which makes
// it a one-voter dynamic quorum that can grow.
func TestStorageFormatStandaloneQuickstart(t *testing.T) {
	cfg, dir := writeServerConfig(t,
		"process.roles=broker,controller",
		"node.id=1",
		"controller.quorum.bootstrap.servers=localhost:19093",
		"listeners=PLAINTEXT://:19092,CONTROLLER://:19093",
		"advertised.listeners=PLAINTEXT://localhost:19092,CONTROLLER://localhost:19093",
		"controller.listener.names=CONTROLLER",
		"log.dirs=$DIR/logs",
	)
	b, err := config.Load(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !b.SingleNode() {
		t.Fatal("the unformatted quickstart config is not a single node")
	}
	if r := runTool(t, "kafka-storage", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-c", cfg, "--standalone"); r.code != 0 {
		t.Fatalf("format: %+v", r)
	}
	if b.SingleNode() || !b.DynamicQuorumFormatted() {
		t.Fatalf("formatted --standalone: single node %v, dynamic %v", b.SingleNode(), b.DynamicQuorumFormatted())
	}
	got, err := raft.ReadMembers(filepath.Join(dir, "logs", config.MetadataLogDirName), 1)
	if err != nil || len(got) != 1 || got[0].Addr != "localhost:19093" {
		t.Fatalf("voters %+v, %v", got, err)
	}
}

func TestParseInitialControllers(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "No voters given.",
		"1h:1:MvDxzVmcRsaTz33bUuRU6A":      "No @ found in dynamic voter string.",
		"@h:1:MvDxzVmcRsaTz33bUuRU6A":      "Invalid @ at beginning of dynamic voter string.",
		"x@h:1:MvDxzVmcRsaTz33bUuRU6A":     "Failed to parse node id in dynamic voter string.",
		"-1@h:1:MvDxzVmcRsaTz33bUuRU6A":    "Invalid negative node id -1 in dynamic voter string.",
		"1@":                               "No hostname found after node id.",
		"1@[::1:1:MvDxzVmcRsaTz33bUuRU6A":  "Hostname began with left bracket, but no right bracket was found.",
		"1@h":                              "No colon following hostname could be found.",
		"1@[::1]1:MvDxzVmcRsaTz33bUuRU6A":  "Port section must start with a colon.",
		"1@h:1":                            "No colon following port could be found.",
		"1@h:x:MvDxzVmcRsaTz33bUuRU6A":     "Failed to parse port in dynamic voter string.",
		"1@h:70000:MvDxzVmcRsaTz33bUuRU6A": "Invalid port 70000 in dynamic voter string.",
		"1@h:1:nope":                       "Failed to parse directory ID in dynamic voter string.",
		"1@h:1:MvDxzVmcRsaTz33bUuRU6A,1@g:2:MvDxzVmcRsaTz33bUuRU6A": "Node id 1 was specified more than once.",
	} {
		_, err := parseInitialControllers(in, "CONTROLLER")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	got, err := parseInitialControllers(" 2@h2:9094:07R5amHmR32VDA6jHkGbTA, 1@h1:9093:MvDxzVmcRsaTz33bUuRU6A,", "C")
	if err != nil || len(got) != 2 || got[0].ID != 2 || got[0].Addr != "h2:9094" || got[1].Listener != "C" || !got[1].Voter {
		t.Fatalf("%+v, %v", got, err)
	}
}
