package security

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// A three-node cluster whose every listener is SASL_SSL: the Raft
// quorum, the controller channels, the metadata of brokers and the
// replica fetchers all authenticate (PLAIN, over mutual TLS on the
// controller listener). An RF=3 topic with min.insync.replicas=3 takes
// acks=all writes, so every record reached every replica; SCRAM
// credentials set through one broker (forwarded to the active
// controller) let a user in on every broker.
func TestClusterSASLSSL(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	logs := &logBuffer{}
	c := kafkatest.StartCluster(t, 3,
		kafkatest.Logger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		// Sessions end after 3 s: the nodes' connections to each other
		// must re-authenticate (KIP-368) to stay open.
		kafkatest.Config("connections.max.reauth.ms", "3000"),
		kafkatest.Config("listener.security.protocol.map", "PLAINTEXT:SASL_SSL,CONTROLLER:SASL_SSL"),
		kafkatest.Config("ssl.keystore.type", "PEM"),
		kafkatest.Config("ssl.keystore.location", p.keystore),
		kafkatest.Config("ssl.truststore.type", "PEM"),
		kafkatest.Config("ssl.truststore.location", p.truststore),
		kafkatest.Config("listener.name.controller.ssl.client.auth", "required"),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("sasl.mechanism.controller.protocol", "PLAIN"),
		kafkatest.Config("listener.name.plaintext.plain.sasl.jaas.config", plainUsers),
		kafkatest.Config("listener.name.controller.plain.sasl.jaas.config", plainUsers),
	)
	tlsOpt := kgo.DialTLSConfig(p.clientTLS(false))
	admin := func(addr string) *kgo.Client {
		return client(t, addr, tlsOpt, kgo.SASL(plainAuth("admin", "admin-secret")))
	}
	cl := admin(c.Addr())
	adm := kadm.NewClient(cl)
	ctx := ctxT(t)
	const topic = "replicated"
	resp, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("3")}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	prod := client(t, c.Addr(), tlsOpt, kgo.SASL(plainAuth("alice", "alice-secret")),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic))
	for i := range 50 {
		// Until the followers have caught up the ISR is short of
		// three, and acks=all is refused; retry those.
		for {
			err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("v%d", i))}).FirstErr()
			if err == nil {
				break
			}
			if !errors.Is(err, kerr.NotEnoughReplicas) && !errors.Is(err, kerr.NotEnoughReplicasAfterAppend) || ctx.Err() != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if p := md.Topics[topic].Partitions[0]; len(p.Replicas) != 3 || len(p.ISR) != 3 {
		t.Errorf("partition %+v, want three replicas in sync", p)
	}
	consume(t, prod, topic, 50)

	// Let the sessions of the nodes' own connections (heartbeats every
	// 2 s, fetchers) run out twice; they re-authenticate and are never
	// closed for it.
	time.Sleep(7 * time.Second)
	if n := logs.count("re-authenticated", "principal=User:admin"); n == 0 {
		t.Errorf("the nodes' connections never re-authenticated:\n%s", tail(logs.String()))
	}
	if n := logs.count("SASL session expired"); n > 0 {
		t.Errorf("%d connections between nodes expired:\n%s", n, tail(logs.String()))
	}
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("v50")}).FirstErr(); err != nil {
		t.Fatalf("produce after the sessions were renewed: %v", err)
	}

	// SCRAM credentials through one broker, used on every broker.
	rs, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-secret"}})
	if err != nil || rs["carol"].Err != nil {
		t.Fatalf("alter SCRAM: %v %+v", err, rs)
	}
	for _, addr := range c.Addrs() {
		deadline := time.Now().Add(20 * time.Second)
		for {
			// Each node learns the credential from the metadata log.
			err := client(t, addr, tlsOpt, kgo.SASL(scramAuth("SCRAM-SHA-512", "carol", "carol-secret"))).Ping(ctxShort(t))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("carol on %s: %v", addr, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// A node with the wrong password on the controller listener cannot
	// join: every connection to a controller authenticates.
	for _, id := range c.ControllerIDs() {
		nc := dialRaw(t, c.ControllerAddr(id), p.clientTLS(true))
		r := &rawConn{t: t, nc: nc}
		r.c = replica.NewConn(nc, "raw", 0)
		r.must(handshake(1, "PLAIN"))
		if ar := r.must(authenticate(1, []byte("\x00admin\x00guess"))).(*kmsg.SASLAuthenticateResponse); ar.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Errorf("controller %d accepted a wrong password: %+v", id, ar)
		}
	}
}
