package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/raft"
	"github.com/gregor-streaming/gregor/internal/testnet"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// Reference: Kafka's ScramParserTest (org.apache.kafka.metadata.storage):
// the grammar MECHANISM=[k=v,...] and its FormatterException messages.
func TestParseAddScramErrors(t *testing.T) {
	for _, c := range []struct{ arg, want string }{
		{"SCRAM-SHA-512", "Failed to find equals sign in SCRAM argument 'SCRAM-SHA-512'"},
		{"  SCRAM-SHA-512  ", "Failed to find equals sign in SCRAM argument 'SCRAM-SHA-512'"},
		{"SCRAM-SHA-UNSUPPORTED=[name=scram-admin,password=scram-user-secret]", "The add-scram mechanism SCRAM-SHA-UNSUPPORTED is not supported."},
		{"scram-sha-256=[name=a,password=b]", "The add-scram mechanism scram-sha-256 is not supported."},
		{"SCRAM-SHA-256=name=scram-admin,password=scram-user-secret", "Expected configuration string to start with ["},
		{"SCRAM-SHA-256=[name=scram-admin,password=scram-user-secret", "Expected configuration string to end with ]"},
		{"SCRAM-SHA-256=[]", "No equals sign found in SCRAM component: "},
		{"SCRAM-SHA-256=[name]", "No equals sign found in SCRAM component: name"},
		{"SCRAM-SHA-256=[name=a,,password=b]", "No equals sign found in SCRAM component: "},
		{"SCRAM-SHA-256=[password=mypass]", "You must supply 'name' to add-scram"},
		{"SCRAM-SHA-256=[name=bar]", "You must supply one of 'password' or 'saltedpassword' to add-scram"},
		{"SCRAM-SHA-256=[name=bob,password=mypass,unknown=something,unknown2=somethingelse]", "Unknown SCRAM configurations: unknown, unknown2"},
		{`SCRAM-SHA-256=[name=alice,saltedpassword="mT0yyUUxnlJaC99HXgRTSYlbuqa4FSGtJCJfTMvjYCE="]`, "You must supply 'salt' with 'saltedpassword' to add-scram"},
		{"SCRAM-SHA-256=[name=a,password=b,salt=!!]", "Failed to decode given salt: !!"},
		{`SCRAM-SHA-256=[name=a,salt="N3E=",saltedpassword=%%]`, "Failed to decode given saltedPassword: %%"},
		{"SCRAM-SHA-256=[name=a,password=b,iterations=many]", "Failed to parse iterations count: many"},
		{"SCRAM-SHA-256=[name=a,password=b,iterations=4095]", "The 'iterations' value must be >= 4096 for add-scram using SCRAM_SHA_256"},
		{"SCRAM-SHA-512=[name=a,password=b,iterations=16385]", "The 'iterations' value must be <= 16384 for add-scram using SCRAM_SHA_512"},
	} {
		_, err := parseAddScram([]string{"SCRAM-SHA-256=[name=ok,password=ok]", c.arg})
		var ke *kafkaError
		if !errors.As(err, &ke) || ke.Msg != c.want {
			t.Errorf("%q: %v, want %q", c.arg, err, c.want)
		}
	}
}

// The accepted forms, with ScramParserTest's salt and salted password:
// quoted values, the defaults (4096 iterations, a random ASCII salt), a
// given salt and iterations, the last of a repeated key, one record per
// argument in order.
func TestParseAddScram(t *testing.T) {
	testSalt := []byte{49, 108, 118, 52, 112, 100, 110, 119, 52, 102, 119, 113, 55, 110, 111, 116, 99, 120, 109, 48, 121, 121, 49, 107, 55, 113}
	testSalted := []byte{153, 61, 50, 201, 69, 49, 158, 82, 90, 11, 223, 71, 94, 4, 83, 73, 137, 91, 186, 166, 184, 21, 33, 173, 36, 34, 95, 76, 203, 227, 96, 33}
	recs, err := parseAddScram([]string{
		"SCRAM-SHA-256=[name=alice,password=alice-secret]",
		`SCRAM-SHA-512=[name=alice,salt="MWx2NHBkbnc0ZndxN25vdGN4bTB5eTFrN3E=",saltedpassword="mT0yyUUxnlJaC99HXgRTSYlbuqa4FSGtJCJfTMvjYCE="]`,
		" SCRAM-SHA-256=[name=bob,password=my pass,iterations=8192,salt=MWx2NHBkbnc0ZndxN25vdGN4bTB5eTFrN3E,iterations=\"8192\"] ",
		`SCRAM-SHA-256=[name="",password=""]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		if r.Type != metadata.TypeUserScramCredential || r.Scram == nil {
			t.Fatalf("record %+v", r)
		}
	}
	a256, a512, bob, empty := recs[0].Scram, recs[1].Scram, recs[2].Scram, recs[3].Scram
	if a256.Name != "alice" || a256.Mechanism != 1 || a256.Iterations != 4096 {
		t.Errorf("alice SHA-256: %+v", a256)
	}
	// Kafka's default salt: a random 130-bit number in base 36.
	if len(a256.Salt) == 0 || len(a256.Salt) > 26 || strings.Trim(string(a256.Salt), "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
		t.Errorf("random salt %q", a256.Salt)
	}
	if again, _ := parseAddScram([]string{"SCRAM-SHA-256=[name=alice,password=alice-secret]"}); bytes.Equal(again[0].Scram.Salt, a256.Salt) {
		t.Error("two random salts are equal")
	}
	if a512.Mechanism != 2 || a512.Iterations != 4096 || !bytes.Equal(a512.Salt, testSalt) {
		t.Errorf("alice SHA-512: %+v", a512)
	}
	// StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey =
	// HMAC(SaltedPassword, "Server Key") (RFC 5802 section 3).
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha512.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(testSalted, "Client Key")
	stored := sha512.Sum512(clientKey)
	if !bytes.Equal(a512.StoredKey, stored[:]) || !bytes.Equal(a512.ServerKey, mac(testSalted, "Server Key")) {
		t.Errorf("alice SHA-512 keys do not derive from the salted password")
	}
	if bob.Name != "bob" || bob.Iterations != 8192 || !bytes.Equal(bob.Salt, testSalt) {
		t.Errorf("bob: %+v", bob)
	}
	salted, err := pbkdf2.Key(sha256.New, "my pass", testSalt, 8192, 32)
	if err != nil {
		t.Fatal(err)
	}
	same, err := parseAddScram([]string{"SCRAM-SHA-256=[name=bob,iterations=8192,salt=MWx2NHBkbnc0ZndxN25vdGN4bTB5eTFrN3E=,saltedpassword=" + base64.StdEncoding.EncodeToString(salted) + "]"})
	if err != nil || !bytes.Equal(same[0].Scram.StoredKey, bob.StoredKey) || !bytes.Equal(same[0].Scram.ServerKey, bob.ServerKey) {
		t.Errorf("the saltedpassword form of bob's password differs: %v", err)
	}
	if empty.Name != "" {
		t.Errorf("quoted empty name: %+v", empty)
	}
}

// Reference: RFC 7677 section 3, the SCRAM-SHA-256 exchange of user
// "user" with password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096
// iterations. A server holding the record --add-scram makes accepts the
// client's proof and answers with the RFC's server signature.
func TestParseAddScramRFC7677(t *testing.T) {
	recs, err := parseAddScram([]string{`SCRAM-SHA-256=[name=user,password=pencil,salt="W22ZaJ0SNY7soEsUEjb6gQ==",iterations=4096]`})
	if err != nil {
		t.Fatal(err)
	}
	r := recs[0].Scram
	const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=" + nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=" + nonce
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientSignature := mac(r.StoredKey, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ clientSignature[i]
	}
	if h := sha256.Sum256(clientKey); !bytes.Equal(h[:], r.StoredKey) {
		t.Error("the stored key does not verify RFC 7677's client proof")
	}
	if got := base64.StdEncoding.EncodeToString(mac(r.ServerKey, authMessage)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Errorf("server signature %s, want RFC 7677's", got)
	}
}

// format writes bootstrap.checkpoint into the metadata directory only,
// with the metadata.version and the --add-scram records; without
// --add-scram it has no records. A directory skipped by
// --ignore-formatted keeps its checkpoint; a reformat of a fresh
// directory writes a new one.
func TestStorageFormatWritesBootstrap(t *testing.T) {
	cfg, dir := writeServerConfig(t, "node.id=1", "log.dirs=$DIR/data", "metadata.log.dir=$DIR/meta")
	const id = "MkU3OEVBNTcwNTJENDM2Qg"
	r := runTool(t, "kafka-storage", "format", "-t", id, "-c", cfg, "-r", "3.9",
		"--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret]",
		"-S", "SCRAM-SHA-256=[name=bob,password=bob-secret,iterations=8192]")
	if r.code != 0 {
		t.Fatalf("format: %+v", r)
	}
	bm, err := controller.ReadBootstrap(filepath.Join(dir, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	if bm.MetadataVersion != "3.9-IV0" || bm.Source != "format command" || len(bm.Records) != 2 ||
		bm.Records[0].Scram.Name != "alice" || bm.Records[0].Scram.Mechanism != 2 ||
		bm.Records[1].Scram.Name != "bob" || bm.Records[1].Scram.Iterations != 8192 {
		t.Fatalf("bootstrap %+v", bm)
	}
	if data, _ := controller.ReadBootstrap(filepath.Join(dir, "data")); len(data.Records) != 0 || data.Source != "" {
		t.Errorf("the data directory got a bootstrap checkpoint: %+v", data)
	}
	// -g over the formatted metadata dir leaves its checkpoint alone.
	r = runTool(t, "kafka-storage", "format", "-t", id, "-c", cfg, "-g", "-S", "SCRAM-SHA-512=[name=carol,password=c]")
	if r.code != 0 || r.stdout != "All of the log directories are already formatted.\n" {
		t.Fatalf("format -g: %+v", r)
	}
	if again, err := controller.ReadBootstrap(filepath.Join(dir, "meta")); err != nil || len(again.Records) != 2 || again.Records[0].Scram.Name != "alice" {
		t.Fatalf("-g changed the checkpoint: %+v, %v", again, err)
	}

	plain, pdir := writeServerConfig(t, "node.id=1", "log.dirs=$DIR/logs")
	if r := runTool(t, "kafka-storage", "format", "-t", id, "-c", plain); r.code != 0 {
		t.Fatalf("format: %+v", r)
	}
	bm, err = controller.ReadBootstrap(filepath.Join(pdir, "logs"))
	if err != nil || bm.MetadataVersion != "4.0-IV3" || len(bm.Records) != 0 {
		t.Fatalf("bootstrap without --add-scram: %+v, %v", bm, err)
	}

	// A dynamic quorum's controller gets it next to its initial log.
	dyn, ddir := dynamicControllerConfig(t, "3", "19093")
	if r := runTool(t, "kafka-storage", "format", "-t", id, "-c", dyn, "--standalone", "-S", "SCRAM-SHA-256=[name=alice,password=x]"); r.code != 0 {
		t.Fatalf("format --standalone: %+v", r)
	}
	if bm, err := controller.ReadBootstrap(filepath.Join(ddir, "meta")); err != nil || len(bm.Records) != 1 {
		t.Fatalf("dynamic bootstrap: %+v, %v", bm, err)
	}
}

// scramClient is a franz-go client logging in with SCRAM-SHA-512.
func scramClient(t *testing.T, addr, user, pass string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr),
		kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()),
		kgo.RetryTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func scramCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The getting-started flow of Kafka's SCRAM docs on a single combined
// node: format with --add-scram, start with a SASL_PLAINTEXT listener
// that only takes SCRAM-SHA-512, and alice produces and consumes; a
// wrong password is refused. After a restart the credential is there
// once, and the metadata log holds its record once.
//
// Reference: KIP-900 (kafka-storage format --add-scram).
func TestAddScramSingleNode(t *testing.T) {
	t.Parallel()
	cfg, dir := writeServerConfig(t, "process.roles=broker,controller", "node.id=1", "log.dirs=$DIR/logs")
	const id = "MkU3OEVBNTcwNTJENDM2Qg"
	if r := runTool(t, "kafka-storage", "format", "-t", id, "-c", cfg,
		"--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret]"); r.code != 0 {
		t.Fatalf("format: %+v", r)
	}
	logs := filepath.Join(dir, "logs")
	opts := []kafkatest.Opt{
		kafkatest.Dir(logs),
		kafkatest.Config("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
		kafkatest.Config("inter.broker.listener.name", "SASL_PLAINTEXT"),
		kafkatest.Config("sasl.enabled.mechanisms", "SCRAM-SHA-512"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512"),
		// The node's own login, as Kafka's docs configure it: the user
		// --add-scram made.
		kafkatest.Config("listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config",
			`org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";`),
	}
	c, err := kafkatest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := scramCtx(t)
	alice := scramClient(t, c.Addr(), "alice", "alice-secret", kgo.DefaultProduceTopic("greetings"),
		kgo.ConsumeTopics("greetings"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	adm := kadm.NewClient(alice)
	if resp, err := adm.CreateTopic(ctx, 1, 1, nil, "greetings"); err != nil || resp.Err != nil {
		c.Close()
		t.Fatalf("create as alice: %v %v", err, resp.Err)
	}
	for i := range 3 {
		if err := alice.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "hello %d", i)}).FirstErr(); err != nil {
			c.Close()
			t.Fatalf("produce as alice: %v", err)
		}
	}
	var got []string
	for len(got) < 3 && ctx.Err() == nil {
		alice.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if !slices.Equal(got, []string{"hello 0", "hello 1", "hello 2"}) {
		c.Close()
		t.Fatalf("consumed %q", got)
	}
	if err := scramClient(t, c.Addr(), "alice", "wrong").Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		c.Close()
		t.Fatalf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	c.Close()

	// Restart on the same data (a new port: kafkatest's Restart would
	// go back to PLAINTEXT).
	c = kafkatest.Start(t, opts...)
	adm = kadm.NewClient(scramClient(t, c.Addr(), "alice", "alice-secret"))
	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(described) != 1 || len(described["alice"].CredInfos) != 1 ||
		described["alice"].CredInfos[0].Mechanism != kadm.ScramSha512 || described["alice"].CredInfos[0].Iterations != 4096 {
		t.Fatalf("described %+v, want alice's one SCRAM-SHA-512 credential", described)
	}
	c.Close()

	j, err := metadata.OpenFileJournal(filepath.Join(logs, "__cluster_metadata-0"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	n, batch := 0, -1
	i := 0
	if err := j.Replay(func(recs []metadata.Record) error {
		for _, r := range recs {
			if r.Type == metadata.TypeUserScramCredential {
				n, batch = n+1, i
			}
		}
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 || batch != 0 {
		t.Fatalf("%d UserScramCredentialRecords in the metadata log (last in batch %d), want one, in the first batch", n, batch)
	}
}

// formatBootstrap writes into dir the bootstrap.checkpoint that
// `kafka-storage format --add-scram ARGS` writes (parseAddScram, then
// writeBootstrap): kafkatest.StartCluster formats its nodes itself, with
// a cluster id of its own, so the tests below put each node's checkpoint
// in its directory (kafkatest's <Dir>/node-<id>) before it starts. Every
// call salts anew, as separate format runs do.
func formatBootstrap(t *testing.T, dir string, args ...string) {
	t.Helper()
	recs, err := parseAddScram(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeBootstrap(dir, controller.BootstrapMetadata{MetadataVersion: latestMetadataVersion, Source: "format command", Records: recs}); err != nil {
		t.Fatal(err)
	}
}

// scramRecordsInLog counts the UserScramCredentialRecords committed in a
// stopped controller's metadata log (<dir>/__cluster_metadata-0), by
// replaying its Raft log alone; voters is controller.quorum.voters' ids,
// nil for a dynamic quorum.
func scramRecordsInLog(t *testing.T, dir string, nodeID int32, voters []int32) int {
	t.Helper()
	ln, err := testnet.Listen()
	if err != nil {
		t.Fatal(err)
	}
	rc := raft.Config{NodeID: nodeID, Dir: filepath.Join(dir, config.MetadataLogDirName), ElectionTimeout: time.Hour,
		Listen: func(string, string) (net.Listener, error) { return ln, nil }}
	if voters == nil { // a dynamic quorum: the voters are in the log
		rc.Dynamic, rc.ListenAddr = true, ln.Addr().String()
	} else {
		rc.Voters = map[int32]string{}
		for _, v := range voters {
			rc.Voters[v] = "127.0.0.1:1" // never reached: the log is only replayed
		}
		rc.Voters[nodeID] = ln.Addr().String()
	}
	l := &countingListener{applied: make(chan uint64, 1024)}
	j, err := raft.OpenJournal(rc, l)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	commit := j.Node().Status().Commit
	deadline := time.After(60 * time.Second)
	for done := uint64(0); done < commit; {
		select {
		case done = <-l.applied:
		case <-deadline:
			t.Fatalf("replayed the metadata log of node %d to %d of %d", nodeID, done, commit)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.scram
}

// countingListener counts SCRAM records in committed batches.
type countingListener struct {
	applied chan uint64
	mu      sync.Mutex
	scram   int
}

func (l *countingListener) HandleSnapshot(raft.Snapshot) error { return nil }
func (l *countingListener) HandleCommit(b raft.Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range b.Records {
		if r.Type == metadata.TypeUserScramCredential {
			l.scram++
		}
	}
	return nil
}
func (l *countingListener) HandleLeaderChange(int32, uint64) {}
func (l *countingListener) HandleApplied(index uint64)       { l.applied <- index }

// describeScram waits until addr knows users' SCRAM-SHA-512
// credentials, logging in as alice, and returns what it describes.
func describeScram(t *testing.T, addr string) kadm.DescribedUserSCRAMs {
	t.Helper()
	ctx := scramCtx(t)
	adm := kadm.NewClient(scramClient(t, addr, "alice", "alice-secret"))
	for {
		d, err := adm.DescribeUserSCRAMs(ctx)
		if err == nil {
			return d
		}
		if ctx.Err() != nil {
			t.Fatalf("describe on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Three combined nodes of a static quorum, each formatted with the same
// --add-scram (so each has its own checkpoint, with its own salt): the
// first active controller writes its records, the others find the log
// non-empty. alice logs in on every node, has one credential, and the
// metadata log holds one record for her on every voter.
//
// Reference: Kafka's QuorumController (bootstrap records for an empty
// log only), KIP-900.
func TestAddScramCluster(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for id := 1; id <= 3; id++ {
		formatBootstrap(t, filepath.Join(dir, fmt.Sprintf("node-%d", id)), "SCRAM-SHA-512=[name=alice,password=alice-secret]")
	}
	c, err := kafkatest.NewCluster(3, kafkatest.Dir(dir),
		kafkatest.Config("listener.security.protocol.map", "PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"),
		kafkatest.Config("sasl.enabled.mechanisms", "SCRAM-SHA-512"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512"),
		kafkatest.Config("listener.name.plaintext.scram-sha-512.sasl.jaas.config",
			`org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";`),
	)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			c.Close()
		}
	}()
	for _, addr := range c.Addrs() {
		d := describeScram(t, addr)
		if len(d) != 1 || len(d["alice"].CredInfos) != 1 || d["alice"].CredInfos[0].Mechanism != kadm.ScramSha512 {
			t.Fatalf("%s describes %+v, want alice's one credential", addr, d)
		}
	}
	c.Close()
	closed = true
	for id := int32(1); id <= 3; id++ {
		if n := scramRecordsInLog(t, filepath.Join(dir, fmt.Sprintf("node-%d", id)), id, []int32{1, 2, 3}); n != 1 {
			t.Errorf("node %d's metadata log holds %d UserScramCredentialRecords, want 1", id, n)
		}
	}
}

// Separate roles (config/controller.properties and broker.properties):
// the controllers' checkpoints bootstrap the cluster; a broker-only
// node's checkpoint is ignored (its user, mallory, never exists).
func TestAddScramSeparateControllers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, id := range []int{3000, 3001} {
		formatBootstrap(t, filepath.Join(dir, fmt.Sprintf("node-%d", id)), "SCRAM-SHA-512=[name=alice,password=alice-secret]")
	}
	formatBootstrap(t, filepath.Join(dir, "node-1"), "SCRAM-SHA-512=[name=mallory,password=m]")
	c, err := kafkatest.NewCluster(1, kafkatest.SeparateControllers(2), kafkatest.Dir(dir),
		kafkatest.Config("listener.security.protocol.map", "PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"),
		kafkatest.Config("sasl.enabled.mechanisms", "SCRAM-SHA-512"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512"),
		kafkatest.Config("listener.name.plaintext.scram-sha-512.sasl.jaas.config",
			`org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";`),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := describeScram(t, c.Addr())
	if len(d) != 1 || len(d["alice"].CredInfos) != 1 {
		t.Fatalf("described %+v, want alice only", d)
	}
}

// The quickstart of Kafka 4 (config/server.properties) with SCRAM: a
// combined node formatted --standalone --add-scram is a one-voter
// dynamic quorum (KIP-853) whose first activation writes alice; she logs
// in before and after a restart, and the log holds her record once.
func TestAddScramStandalone(t *testing.T) {
	t.Parallel()
	brk, err := testnet.Addr()
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := testnet.Addr()
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{
		"process.roles":                        "broker,controller",
		"node.id":                              "1",
		"listeners":                            "SASL_PLAINTEXT://" + brk + ",CONTROLLER://" + ctl,
		"advertised.listeners":                 "SASL_PLAINTEXT://" + brk + ",CONTROLLER://" + ctl,
		"controller.listener.names":            "CONTROLLER",
		"controller.quorum.bootstrap.servers":  ctl,
		"listener.security.protocol.map":       "CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
		"inter.broker.listener.name":           "SASL_PLAINTEXT",
		"sasl.enabled.mechanisms":              "SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
		"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";`,
	}
	var lines []string
	opts := []kafkatest.Opt{}
	for k, v := range props {
		lines = append(lines, k+"="+v)
		opts = append(opts, kafkatest.Config(k, v))
	}
	cfg, dir := writeServerConfig(t, append(lines, "log.dirs=$DIR/logs")...)
	logs := filepath.Join(dir, "logs")
	opts = append(opts, kafkatest.Dir(logs))
	if r := runTool(t, "kafka-storage", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-c", cfg, "--standalone",
		"--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret]"); r.code != 0 {
		t.Fatalf("format: %+v", r)
	}
	for range 2 { // start, restart
		c, err := kafkatest.New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		d := describeScram(t, c.Addr())
		c.Close()
		if len(d) != 1 || len(d["alice"].CredInfos) != 1 {
			t.Fatalf("described %+v, want alice's one credential", d)
		}
	}
	if n := scramRecordsInLog(t, logs, 1, nil); n != 1 {
		t.Fatalf("the metadata log holds %d UserScramCredentialRecords, want 1", n)
	}
}
