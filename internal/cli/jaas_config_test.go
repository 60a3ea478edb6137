package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The walkthrough's --producer.config with a missing quote in
// sasl.jaas.config: the console producer refuses it before it connects,
// with Kafka's JaasConfig message, instead of failing its first login
// much later.
func TestConsoleProducerMalformedJAAS(t *testing.T) {
	// A listener that counts connections: the tool must make none.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	cfg := filepath.Join(t.TempDir(), "alice.properties")
	props := "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n" +
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice password="x";` + "\n"
	if err := os.WriteFile(cfg, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	// The deadline only keeps a broken tool from hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader("hello\n"), Stdout: &bytes.Buffer{}, Stderr: &stderr}
	code := Run(ctx, env, []string{"kafka-console-producer", "--bootstrap-server", ln.Addr().String(),
		"--topic", "payments", "--producer.config", cfg})
	if code == 0 {
		t.Fatalf("exit code 0; stderr: %s", stderr.String())
	}
	if want := "Value not specified for key 'x' in JAAS config"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the tool connected %d times before refusing its config", n)
	}
}
