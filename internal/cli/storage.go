package cli

// kafka-storage: Kafka's StorageTool.
//
//	kafka-storage random-uuid
//	kafka-storage format -t CLUSTER_ID -c server.properties [--standalone | --initial-controllers V | --no-initial-controllers]
//	                     [--ignore-formatted] [--release-version 4.0] [--feature k=v]... [--add-scram S]...
//	kafka-storage info -c server.properties
//
// format writes meta.properties (version 1: cluster.id, node.id, a new
// directory.id) into every directory of log.dirs and metadata.log.dir,
// through storage.FormatLogDir, printing for each
//
//	Formatting metadata directory /tmp/kraft-combined-logs with metadata.version 4.0-IV3.
//
// A controller of a dynamic quorum (controller.quorum.bootstrap.servers
// without controller.quorum.voters, KIP-853) must say how the quorum
// starts, as in Kafka 4:
//
//	--standalone            this controller is the only initial voter, at
//	                        its advertised controller listener, with a new
//	                        directory id
//	--initial-controllers   the initial voters: id@host:port:directoryId,...
//	                        (the same list on every initial controller; a
//	                        voter's metadata dir gets its directory id)
//	--no-initial-controllers  none: the controller joins later
//	                        (kafka-metadata-quorum add-controller)
//
// and format writes Gregor's equivalent of Kafka's bootstrap checkpoint
// (00000000000000000000-0000000000.checkpoint with a VotersRecord): the
// initial Raft log, <metadata dir>/__cluster_metadata-0/raft.wal, whose
// first entries add the initial voters (raft.Bootstrap; internal/raft's
// doc draws the format). The metadata directory is then a "dynamic
// metadata (voter) directory". Other nodes (brokers, static quorums,
// Gregor's quorum-less single node) write no log: their first start
// creates it. --feature is checked and accepted but has no other effect.
//
// Every metadata directory format writes, whatever the node's roles, gets
// the bootstrap metadata, <metadata dir>/bootstrap.checkpoint (Kafka 4.0's
// BootstrapDirectory; controller.WriteBootstrap draws the format), before
// its meta.properties: the metadata.version and the records of
// --add-scram, which the first active controller of the new cluster
// writes into the empty metadata log (a broker-only node ignores it). Each
// --add-scram is Kafka's ScramParser grammar (parseAddScram):
//
//	MECHANISM=[name=NAME,password=PASSWORD]
//	MECHANISM=[name=NAME,iterations=N,salt="BASE64",saltedpassword="BASE64"]
//
// MECHANISM is SCRAM-SHA-256 or SCRAM-SHA-512; iterations defaults to
// 4096 and must be within 4096..16384; salt defaults to a random one;
// saltedpassword (Hi(password, salt, iterations), RFC 5802) needs salt.
// A value may be in double quotes. A bad argument fails format before
// anything is written.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gregor-streaming/gregor/internal/uuid"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/raft"
	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/storage"
)

func init() {
	register(&Command{
		Name:    "kafka-storage",
		Summary: "Format log directories, show their state, or make a cluster id (kafka-storage.sh).",
		Run:     runStorage,
	})
}

const storageUsage = "usage: kafka-storage [-h] {info,format,random-uuid} ..."

// latestMetadataVersion is the metadata.version format writes by default:
// Kafka 4.0's latest production version (see server's ApiVersions).
const latestMetadataVersion = "4.0-IV3"

// metadataVersions are the production metadata.versions Kafka 4.0 accepts,
// oldest first.
var metadataVersions = []string{
	"3.3-IV3", "3.4-IV0", "3.5-IV0", "3.5-IV1", "3.5-IV2", "3.6-IV0", "3.6-IV1", "3.6-IV2",
	"3.7-IV0", "3.7-IV1", "3.7-IV2", "3.7-IV3", "3.7-IV4", "3.8-IV0", "3.9-IV0",
	"4.0-IV0", "4.0-IV1", "4.0-IV2", "4.0-IV3",
}

// parseReleaseVersion is MetadataVersion.fromVersionString: "X.Y" means the
// latest internal version of release X.Y.
func parseReleaseVersion(s string) (string, error) {
	if slices.Contains(metadataVersions, s) {
		return s, nil
	}
	latest := ""
	for _, v := range metadataVersions {
		if strings.HasPrefix(v, s+"-IV") {
			latest = v
		}
	}
	if latest == "" {
		return "", &kafkaError{Msg: fmt.Sprintf("Unknown metadata.version '%s'. Supported metadata.version are: %s",
			s, strings.Join(metadataVersions, ", "))}
	}
	return latest, nil
}

func runStorage(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("%s\nkafka-storage: error: too few arguments", storageUsage)
	}
	switch args[0] {
	case "-h", "--help":
		fmt.Fprintf(env.Stdout, "%s\n\nThe Kafka storage tool.\n\npositional arguments:\n"+
			"  {info,format,random-uuid}\n"+
			"    info                 Get information about the Kafka log directories on this node.\n"+
			"    format               Format the Kafka log directories on this node.\n"+
			"    random-uuid          Print a random UUID.\n", storageUsage)
		return nil
	case "random-uuid":
		fs := newFlagSet("kafka-storage random-uuid", "Print a random UUID.")
		if help, err := fs.Parse(env, args[1:]); help || err != nil {
			return err
		}
		if len(fs.Args()) > 0 {
			return usagef("unrecognized arguments: '%s'", strings.Join(fs.Args(), " "))
		}
		fmt.Fprintln(env.Stdout, uuid.Format(uuid.New()))
		return nil
	case "info":
		return storageInfo(env, args[1:])
	case "format":
		return storageFormat(env, args[1:])
	}
	return usagef("%s\nkafka-storage: error: argument {info,format,random-uuid}: invalid choice: '%s' (choose from 'info', 'format', 'random-uuid')", storageUsage, args[0])
}

// loadServerConfig loads -c/--config, failing as StorageTool does when it
// is missing.
func loadServerConfig(fs *FlagSet, path string) (*config.Broker, error) {
	if !fs.Changed("config") {
		return nil, usagef("argument --config/-c is required")
	}
	b, err := config.Load(path, nil)
	if err != nil {
		return nil, &kafkaError{Msg: err.Error(), Err: err}
	}
	return b, nil
}

// storageDirectories is configToLogDirectories: log.dirs plus
// metadata.log.dir, sorted, without duplicates.
func storageDirectories(b *config.Broker) []string {
	dirs := append(slices.Clone(b.LogDirs), b.MetadataLogDir)
	for i, d := range dirs {
		if d != "" {
			dirs[i] = filepath.Clean(d)
		}
	}
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	return slices.DeleteFunc(dirs, func(d string) bool { return d == "" })
}

func storageFormat(env *Env, args []string) error {
	fs := newFlagSet("kafka-storage format", "Format the Kafka log directories on this node.")
	cfgPath := fs.String("config", "CONFIG", "The Kafka configuration file to use.")
	fs.Alias("c", "config")
	clusterID := fs.String("cluster-id", "CLUSTER_ID", "The cluster ID to use.")
	fs.Alias("t", "cluster-id")
	scrams := fs.Strings("add-scram", "ADD_SCRAM", "A SCRAM_CREDENTIAL to add to the __cluster_metadata log e.g.\n"+
		"'SCRAM-SHA-256=[name=alice,password=alice-secret]'\n"+
		"'SCRAM-SHA-512=[name=alice,iterations=8192,salt=\"N3E=\",saltedpassword=\"YCE=\"]'")
	fs.Alias("S", "add-scram")
	fs.Bool("ignore-formatted", "When this option is passed, the format command will skip over already formatted directories rather than failing.")
	fs.Alias("g", "ignore-formatted")
	release := fs.String("release-version", "RELEASE_VERSION",
		"The release version to use for the initial feature settings. The minimum is 3.3-IV3; the default is "+latestMetadataVersion)
	fs.Alias("r", "release-version")
	features := fs.Strings("feature", "FEATURE", "The setting to use for a specific feature, in feature=level format. For example: `kraft.version=1`.")
	fs.Alias("f", "feature")
	fs.Bool("standalone", "Used to initialize a controller as a single-node dynamic quorum.")
	fs.Alias("s", "standalone")
	initial := fs.String("initial-controllers", "INITIAL_CONTROLLERS",
		"Used to initialize a server with a specific dynamic quorum. The argument is a comma-separated list of id@hostname:port:directory. The same values must be used to format all nodes.")
	fs.Alias("I", "initial-controllers")
	fs.Bool("no-initial-controllers", "Used to initialize a server without a dynamic quorum topology.")
	fs.Alias("N", "no-initial-controllers")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		return usagef("unrecognized arguments: '%s'", strings.Join(fs.Args(), " "))
	}
	if given := fs.Given("standalone", "initial-controllers", "no-initial-controllers"); len(given) > 1 {
		return usagef("argument --%s: not allowed with argument --%s", given[1], given[0])
	}
	b, err := loadServerConfig(fs, *cfgPath)
	if err != nil {
		return err
	}
	if !fs.Changed("cluster-id") {
		return usagef("argument --cluster-id/-t is required")
	}
	if len(b.ProcessRoles) == 0 {
		return &kafkaError{Msg: "The kafka configuration file appears to be for a legacy cluster. Formatting is only supported for clusters in KRaft mode."}
	}
	if _, err := parseKafkaUUID(*clusterID); err != nil {
		return &kafkaError{Msg: fmt.Sprintf("Cluster ID string %s does not appear to be a valid UUID: %v", *clusterID, err)}
	}
	if b.NodeID < 0 {
		return &kafkaError{Msg: "You must specify a valid non-negative node ID."}
	}
	version := latestMetadataVersion
	if fs.Changed("release-version") {
		if version, err = parseReleaseVersion(*release); err != nil {
			return err
		}
	}
	for _, f := range *features {
		name, level, ok := strings.Cut(f, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return &kafkaError{Msg: "Can't parse feature=level string " + f + ": equals sign not found."}
		}
		if strings.TrimSpace(name) == "metadata.version" && fs.Changed("release-version") {
			return &kafkaError{Msg: "Use --release-version instead of --feature metadata.version=X to avoid ambiguity."}
		}
		if _, err := parseInt16(strings.TrimSpace(level)); err != nil {
			return &kafkaError{Msg: "Can't parse feature=level string " + f + ": unable to parse " + strings.TrimSpace(level) + " as a short."}
		}
	}
	// Formatter.calculateBootstrapMetadata: the records of --add-scram,
	// checked before anything is written.
	bootstrap := controller.BootstrapMetadata{MetadataVersion: version, Source: "format command"}
	if len(*scrams) > 0 {
		if slices.Index(metadataVersions, version) < slices.Index(metadataVersions, scramMinMetadataVersion) {
			return &kafkaError{Msg: "SCRAM is only supported in metadata.version " + scramMinMetadataVersion + " or later."}
		}
		if bootstrap.Records, err = parseAddScram(*scrams); err != nil {
			return err
		}
	}
	// The metadata directory is "dynamic" when the quorum is formed with
	// KIP-853 voters; a voter when this node is one of them.
	metaKind := "metadata directory"
	plan := dynamicPlan{}
	dynamicQuorum := len(b.ControllerQuorumVoters) == 0 && len(b.ControllerQuorumBootstrapServers) > 0
	controller := b.HasRole("controller")
	switch {
	case fs.Changed("standalone"):
		if !controller {
			return &kafkaError{Msg: "You can only use --standalone on a controller."}
		}
		metaKind = "dynamic metadata voter directory"
		if dynamicQuorum {
			v, err := standaloneVoter(b)
			if err != nil {
				return err
			}
			plan = dynamicPlan{bootstrap: true, voters: []raft.Member{v}}
		}
	case fs.Changed("initial-controllers"):
		voters, err := parseInitialControllers(*initial, controllerListenerName(b))
		if err != nil {
			return err
		}
		metaKind = "dynamic metadata directory"
		if slices.ContainsFunc(voters, func(v raft.Member) bool { return v.ID == b.NodeID }) {
			metaKind = "dynamic metadata voter directory"
		}
		if dynamicQuorum && controller {
			plan = dynamicPlan{bootstrap: true, voters: voters}
		}
	case fs.Changed("no-initial-controllers"):
		plan.bootstrap = dynamicQuorum && controller
	case controller && dynamicQuorum:
		return &kafkaError{Msg: "Because controller.quorum.voters is not set on this controller, you must specify one of the following: --standalone, --initial-controllers, or --no-initial-controllers."}
	}

	dirs := storageDirectories(b)
	metaDir := filepath.Clean(b.MetadataLogDir)
	var empty []string
	formatted := ""
	for _, d := range dirs {
		m, err := storage.ReadMetaProperties(d)
		switch {
		case errors.Is(err, storage.ErrNotFormatted):
			empty = append(empty, d)
			continue
		case err != nil:
			fmt.Fprintf(env.Stdout, "I/O error trying to read log directory %s. Ignoring...\n", d)
			continue
		}
		if m.ClusterID != *clusterID {
			return &kafkaError{Msg: fmt.Sprintf("Invalid cluster.id in: %s. Expected %s, but read %s",
				filepath.Join(d, storage.MetaPropertiesFile), *clusterID, m.ClusterID)}
		}
		if m.NodeID != b.NodeID {
			return &kafkaError{Msg: fmt.Sprintf("Invalid node.id in: %s. Expected %d, but read %d",
				filepath.Join(d, storage.MetaPropertiesFile), b.NodeID, m.NodeID)}
		}
		if formatted == "" {
			formatted = d
		}
	}
	if formatted != "" && !fs.Changed("ignore-formatted") {
		return &kafkaError{Msg: "Log directory " + formatted + " is already formatted. Use --ignore-formatted to ignore this directory and format the others."}
	}
	if len(empty) == 0 {
		if formatted == "" {
			return &kafkaError{Msg: "No available log directories to format."}
		}
		fmt.Fprintln(env.Stdout, "All of the log directories are already formatted.")
		return nil
	}
	for _, d := range empty {
		kind := "data directory"
		if d == metaDir {
			kind = metaKind
		}
		fmt.Fprintf(env.Stdout, "Formatting %s %s with metadata.version %s.\n", kind, d, version)
		if d == metaDir {
			// The bootstrap checkpoint first, as Kafka's pre-write
			// handler: a dir is formatted once meta.properties exists.
			if err := writeBootstrap(d, bootstrap); err != nil {
				return err
			}
		}
		if d == metaDir && plan.bootstrap {
			if err := formatDynamicMetadataDir(d, *clusterID, b.NodeID, plan.voters); err != nil {
				return err
			}
			continue
		}
		if err := storage.FormatLogDir(d, *clusterID, b.NodeID); err != nil {
			return &kafkaError{Msg: fmt.Sprintf("Error while writing meta.properties file %s: %v", d, err), Err: err}
		}
	}
	return nil
}

// writeBootstrap writes dir's bootstrap.checkpoint, creating dir.
func writeBootstrap(dir string, bm controller.BootstrapMetadata) error {
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		err = controller.WriteBootstrap(dir, bm)
	}
	if err != nil {
		return &kafkaError{Msg: fmt.Sprintf("Error while writing meta.properties file %s: %v", dir, err), Err: err}
	}
	return nil
}

// commaRE splits an --add-scram configuration (Java's split(",")).
var commaRE = regexp.MustCompile(",")

// scramMinMetadataVersion is the first metadata.version with SCRAM
// records (MetadataVersion.IBP_3_5_IV2.isScramSupported).
const scramMinMetadataVersion = "3.5-IV2"

// parseAddScram is Kafka's ScramParser.parse: one
// UserScramCredentialRecord per --add-scram argument, in order, with
// Kafka's messages (FormatterException) for a bad one.
func parseAddScram(args []string) ([]metadata.Record, error) {
	var recs []metadata.Record
	for _, a := range args {
		mech, conf, err := parseScramArgument(a)
		if err != nil {
			return nil, err
		}
		spec, err := parseScramConfig(conf)
		if err != nil {
			return nil, err
		}
		r, err := spec.record(mech)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// parseScramArgument splits MECHANISM=[CONFIG] (parsePerMechanismArgument).
func parseScramArgument(in string) (security.ScramMechanism, string, error) {
	in = strings.TrimSpace(in)
	name, conf, ok := strings.Cut(in, "=")
	if !ok {
		return 0, "", &kafkaError{Msg: "Failed to find equals sign in SCRAM argument '" + in + "'"}
	}
	mech, ok := security.ParseScramMechanism(name)
	if !ok {
		return 0, "", &kafkaError{Msg: "The add-scram mechanism " + name + " is not supported."}
	}
	if !strings.HasPrefix(conf, "[") {
		return 0, "", &kafkaError{Msg: "Expected configuration string to start with ["}
	}
	if !strings.HasSuffix(conf, "]") {
		return 0, "", &kafkaError{Msg: "Expected configuration string to end with ]"}
	}
	return mech, conf[1 : len(conf)-1], nil
}

// scramSpec is one --add-scram's configuration (Kafka's
// PerMechanismData): nil fields were not given.
type scramSpec struct {
	name           string
	salt           []byte
	iterations     *int32
	password       *string
	saltedPassword []byte
}

// parseScramConfig parses name=...,salt=...,iterations=...,password=...,
// saltedpassword=... (PerMechanismData's constructor, with its checks in
// its order). A repeated key keeps its last value.
func parseScramConfig(conf string) (scramSpec, error) {
	fail := func(msg string) (scramSpec, error) { return scramSpec{}, &kafkaError{Msg: msg} }
	comps := map[string]string{}
	for _, c := range javaSplit(commaRE, conf) {
		k, v, ok := strings.Cut(c, "=")
		if !ok {
			return fail("No equals sign found in SCRAM component: " + c)
		}
		if len(v) >= 2 && strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) {
			v = v[1 : len(v)-1]
		}
		comps[k] = v
	}
	take := func(k string) (string, bool) {
		v, ok := comps[k]
		delete(comps, k)
		return v, ok
	}
	var spec scramSpec
	name, ok := take("name")
	if !ok {
		return fail("You must supply 'name' to add-scram")
	}
	spec.name = name
	if s, ok := take("salt"); ok {
		b, err := javaBase64(s)
		if err != nil {
			return fail("Failed to decode given salt: " + s)
		}
		spec.salt = b
	}
	if s, ok := take("iterations"); ok {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return fail("Failed to parse iterations count: " + s)
		}
		it := int32(n)
		spec.iterations = &it
	}
	password, hasPassword := take("password")
	salted, hasSalted := take("saltedpassword")
	switch {
	case hasPassword:
		spec.password = &password
	case !hasSalted:
		return fail("You must supply one of 'password' or 'saltedpassword' to add-scram")
	case spec.salt == nil:
		return fail("You must supply 'salt' with 'saltedpassword' to add-scram")
	default:
		b, err := javaBase64(salted)
		if err != nil {
			return fail("Failed to decode given saltedPassword: " + salted)
		}
		spec.saltedPassword = b
	}
	if len(comps) > 0 {
		return fail("Unknown SCRAM configurations: " + strings.Join(sortedKeys(comps), ", "))
	}
	return spec, nil
}

// record is PerMechanismData.toRecord: the defaults (a random salt, 4096
// iterations), the iteration bounds, and StoredKey and ServerKey derived
// from the salted password.
func (s scramSpec) record(mech security.ScramMechanism) (metadata.Record, error) {
	salt := s.salt
	if salt == nil {
		salt = scramRandomSalt()
	}
	iterations := int32(security.ScramMinIterations)
	if s.iterations != nil {
		iterations = *s.iterations
	}
	// Kafka names the mechanism by its Java enum constant here.
	enumName := strings.ReplaceAll(mech.String(), "-", "_")
	if iterations < security.ScramMinIterations {
		return metadata.Record{}, &kafkaError{Msg: fmt.Sprintf("The 'iterations' value must be >= %d for add-scram using %s", security.ScramMinIterations, enumName)}
	}
	if iterations > security.ScramMaxIterations {
		return metadata.Record{}, &kafkaError{Msg: fmt.Sprintf("The 'iterations' value must be <= %d for add-scram using %s", security.ScramMaxIterations, enumName)}
	}
	salted := s.saltedPassword
	if salted == nil {
		var err error
		if salted, err = security.SaltedPassword(mech, *s.password, salt, int(iterations)); err != nil {
			return metadata.Record{}, &kafkaError{Msg: err.Error(), Err: err}
		}
	}
	cred := security.CredentialFromSaltedPassword(mech, salted, salt, iterations)
	return metadata.Record{Type: metadata.TypeUserScramCredential, Scram: &metadata.ScramCredentialRecord{
		Name: s.name, Mechanism: int8(mech), Salt: cred.Salt, StoredKey: cred.StoredKey, ServerKey: cred.ServerKey, Iterations: cred.Iterations,
	}}, nil
}

// scramRandomSalt is ScramFormatter.secureRandomBytes: a random 130-bit
// number in base 36, as ASCII bytes.
func scramRandomSalt() []byte {
	b := make([]byte, 17)
	rand.Read(b)
	b[0] &= 0x03 // 130 bits
	return []byte(new(big.Int).SetBytes(b).Text(36))
}

// javaBase64 decodes as Java's Base64.getDecoder(): the standard
// alphabet, padding optional.
func javaBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// dynamicPlan is what format writes for a dynamic quorum's controller
// (controller.quorum.bootstrap.servers, no controller.quorum.voters):
// the initial log with voters (none for --no-initial-controllers).
type dynamicPlan struct {
	bootstrap bool
	voters    []raft.Member
}

// formatDynamicMetadataDir formats a dynamic controller's metadata log
// dir: meta.properties with this node's directory id from the initial
// voters (a new one if it is not among them), as Kafka's Formatter does,
// and the initial Raft log in __cluster_metadata-0 (raft.Bootstrap:
// Gregor's equivalent of Kafka's bootstrap checkpoint
// 00000000000000000000-0000000000.checkpoint with its VotersRecord).
func formatDynamicMetadataDir(dir, clusterID string, nodeID int32, voters []raft.Member) error {
	dirID := uuid.New()
	for _, v := range voters {
		if v.ID == nodeID {
			dirID = v.DirectoryID
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &kafkaError{Msg: fmt.Sprintf("Error while writing meta.properties file %s: %v", dir, err), Err: err}
	}
	if err := raft.Bootstrap(filepath.Join(dir, config.MetadataLogDirName), nodeID, voters); err != nil {
		return &kafkaError{Msg: fmt.Sprintf("Error while writing the bootstrap metadata in %s: %v", dir, err), Err: err}
	}
	m := storage.MetaProperties{Version: 1, ClusterID: clusterID, NodeID: nodeID, DirectoryID: uuid.Format(dirID)}
	if err := storage.WriteMetaProperties(dir, m); err != nil {
		return &kafkaError{Msg: fmt.Sprintf("Error while writing meta.properties file %s: %v", dir, err), Err: err}
	}
	return nil
}

// controllerListenerName is the first of controller.listener.names: the
// listener the initial voters' endpoints belong to.
func controllerListenerName(b *config.Broker) string {
	if len(b.ControllerListenerNames) > 0 {
		return b.ControllerListenerNames[0]
	}
	return "CONTROLLER"
}

// standaloneVoter is this controller as --standalone makes it the only
// initial voter: its first advertised controller listener ("localhost"
// for an empty host) and a new directory id.
func standaloneVoter(b *config.Broker) (raft.Member, error) {
	ls := b.AdvertisedControllerListeners
	if len(ls) == 0 {
		ls = b.ControllerListeners()
	}
	if len(ls) == 0 {
		return raft.Member{}, &kafkaError{Msg: "No controller listeners found."}
	}
	host := ls[0].Host
	if host == "" {
		host = "localhost"
	}
	return raft.Member{
		ID: b.NodeID, DirectoryID: uuid.New(), Listener: ls[0].Name,
		Addr: net.JoinHostPort(host, strconv.Itoa(ls[0].Port)), Voter: true,
	}, nil
}

// parseInitialControllers parses --initial-controllers as Kafka's
// DynamicVoters.parse: id@host:port:directoryId, comma-separated, a
// bracketed host for IPv6, each id once.
func parseInitialControllers(s, listener string) ([]raft.Member, error) {
	var out []raft.Member
	seen := map[int32]bool{}
	for _, v := range strings.Split(strings.TrimSpace(s), ",") {
		if v == "" {
			continue
		}
		m, err := parseDynamicVoter(v, listener)
		if err != nil {
			return nil, &kafkaError{Msg: err.Error()}
		}
		if seen[m.ID] {
			return nil, &kafkaError{Msg: fmt.Sprintf("Node id %d was specified more than once.", m.ID)}
		}
		seen[m.ID] = true
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, &kafkaError{Msg: "No voters given."}
	}
	return out, nil
}

// parseDynamicVoter is Kafka's DynamicVoter.parse, with its messages.
func parseDynamicVoter(in, listener string) (raft.Member, error) {
	in = strings.TrimSpace(in)
	at := strings.Index(in, "@")
	switch {
	case at < 0:
		return raft.Member{}, errors.New("No @ found in dynamic voter string.")
	case at == 0:
		return raft.Member{}, errors.New("Invalid @ at beginning of dynamic voter string.")
	}
	id, err := strconv.ParseInt(in[:at], 10, 32)
	if err != nil {
		return raft.Member{}, errors.New("Failed to parse node id in dynamic voter string.")
	}
	if id < 0 {
		return raft.Member{}, fmt.Errorf("Invalid negative node id %d in dynamic voter string.", id)
	}
	in = in[at+1:]
	if in == "" {
		return raft.Member{}, errors.New("No hostname found after node id.")
	}
	var host string
	if strings.HasPrefix(in, "[") {
		end := strings.Index(in, "]")
		if end < 0 {
			return raft.Member{}, errors.New("Hostname began with left bracket, but no right bracket was found.")
		}
		host, in = in[1:end], in[end+1:]
	} else {
		end := strings.Index(in, ":")
		if end < 0 {
			return raft.Member{}, errors.New("No colon following hostname could be found.")
		}
		host, in = in[:end], in[end:]
	}
	if !strings.HasPrefix(in, ":") {
		return raft.Member{}, errors.New("Port section must start with a colon.")
	}
	in = in[1:]
	end := strings.Index(in, ":")
	if end < 0 {
		return raft.Member{}, errors.New("No colon following port could be found.")
	}
	port, err := strconv.ParseInt(in[:end], 10, 32)
	if err != nil {
		return raft.Member{}, errors.New("Failed to parse port in dynamic voter string.")
	}
	if port < 0 || port > 65535 {
		return raft.Member{}, fmt.Errorf("Invalid port %d in dynamic voter string.", port)
	}
	dir, err := parseKafkaUUID(in[end+1:])
	if err != nil {
		return raft.Member{}, errors.New("Failed to parse directory ID in dynamic voter string.")
	}
	return raft.Member{
		ID: int32(id), DirectoryID: dir, Listener: listener,
		Addr: net.JoinHostPort(host, strconv.Itoa(int(port))), Voter: true,
	}, nil
}

func parseInt16(s string) (int16, error) {
	n, err := strconv.ParseInt(s, 10, 16)
	return int16(n), err
}

func storageInfo(env *Env, args []string) error {
	fs := newFlagSet("kafka-storage info", "Get information about the Kafka log directories on this node.")
	cfgPath := fs.String("config", "CONFIG", "The Kafka configuration file to use.")
	fs.Alias("c", "config")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		return usagef("unrecognized arguments: '%s'", strings.Join(fs.Args(), " "))
	}
	b, err := loadServerConfig(fs, *cfgPath)
	if err != nil {
		return err
	}
	dirs := storageDirectories(b)
	w := env.Stdout
	if len(dirs) == 0 {
		fmt.Fprintln(w, "No directories specified.")
		return nil
	}
	var problems, found []string
	var first *storage.MetaProperties
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil || !st.IsDir() {
			if err != nil && errors.Is(err, os.ErrNotExist) {
				problems = append(problems, d+" does not exist")
			} else {
				problems = append(problems, d+" is not a directory")
			}
			continue
		}
		found = append(found, d)
		m, err := storage.ReadMetaProperties(d)
		switch {
		case errors.Is(err, storage.ErrNotFormatted):
			problems = append(problems, d+" is not formatted.")
			continue
		case err != nil:
			problems = append(problems, fmt.Sprintf("Error loading %s: %v", filepath.Join(d, storage.MetaPropertiesFile), err))
			continue
		}
		if first == nil {
			first = &m
		} else if first.ClusterID != m.ClusterID {
			problems = append(problems, "Mismatched cluster IDs between storage directories.")
		} else if first.NodeID != m.NodeID {
			problems = append(problems, "Mismatched node IDs between storage directories.")
		}
	}
	if first != nil && first.Version == 0 {
		problems = append(problems, "The kafka configuration file appears to be for a cluster in KRaft mode, but the directories are formatted for legacy mode.")
	}
	if len(found) > 0 {
		if len(found) == 1 {
			fmt.Fprintln(w, "Found log directory:")
		} else {
			fmt.Fprintln(w, "Found log directories:")
		}
		for _, d := range found {
			fmt.Fprintf(w, "  %s\n", d)
		}
		fmt.Fprintln(w)
	}
	if first != nil {
		props := map[string]string{
			"cluster.id": first.ClusterID,
			"node.id":    fmt.Sprint(first.NodeID),
			"version":    fmt.Sprint(first.Version),
		}
		if first.DirectoryID != "" {
			props["directory.id"] = first.DirectoryID
		}
		var kv []string
		for _, k := range sortedKeys(props) {
			kv = append(kv, k+"="+props[k])
		}
		fmt.Fprintf(w, "Found metadata: {%s}\n\n", strings.Join(kv, ", "))
	}
	if len(problems) > 0 {
		if len(problems) == 1 {
			fmt.Fprintln(w, "Found problem:")
		} else {
			fmt.Fprintln(w, "Found problems:")
		}
		for _, p := range problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		fmt.Fprintln(w)
		// Kafka exits 1 without another message.
		return &kafkaError{Err: fmt.Errorf("found %d problem(s) with the log directories", len(problems))}
	}
	return nil
}
