package streams_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// lockedBuffer is a bytes.Buffer safe for the App's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The default transaction timeout outlives franz-go's default session
// timeout: under exactly_once_v2 a commit that meets a rebalance waits
// for it, and the group waits up to the session timeout for a member
// killed with SIGKILL. With Kafka Streams' 10 s, the surviving instance
// of two was fenced (PRODUCER_FENCED) and stopped when the killed one
// was restarted within the session timeout.
func TestDefaultTransactionTimeoutOutlivesSessionTimeout(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	must(t, err)
	defer cl.Close()
	session, ok := cl.OptValue(kgo.SessionTimeout).(time.Duration)
	if !ok {
		t.Fatalf("session timeout: %T", cl.OptValue(kgo.SessionTimeout))
	}
	if streams.DefaultTransactionTimeout <= session {
		t.Fatalf("DefaultTransactionTimeout %v is not above franz-go's default session timeout %v",
			streams.DefaultTransactionTimeout, session)
	}
}

// Start warns when the transaction timeout is not above the group
// client's session timeout under exactly_once_v2, and only then.
func TestStartWarnsOfTransactionTimeoutBelowSessionTimeout(t *testing.T) {
	c := startBroker(t)
	createTopic(t, c.Addr(), "lines", 1)
	const warning = "transaction timeout is not above the session timeout"
	for _, tc := range []struct {
		name      string
		opts      []streams.Opt
		wantsWarn bool
	}{
		// newApp sets a 2 s session timeout.
		{"eos-below", []streams.Opt{streams.ProcessingGuarantee(streams.ExactlyOnceV2), streams.TransactionTimeout(time.Second)}, true},
		{"eos-above", []streams.Opt{streams.ProcessingGuarantee(streams.ExactlyOnceV2), streams.TransactionTimeout(3 * time.Second)}, false},
		{"eos-default", []streams.Opt{streams.ProcessingGuarantee(streams.ExactlyOnceV2)}, false},
		{"at-least-once", []streams.Opt{streams.TransactionTimeout(time.Second)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs lockedBuffer
			opts := append(tc.opts, streams.Logger(slog.New(slog.NewTextHandler(&logs, nil))))
			app := newApp(t, c.Addr(), "txn-timeout-"+tc.name, t.TempDir(), opts...)
			must(t, app.Start())
			must(t, app.Close())
			if got := strings.Contains(logs.String(), warning); got != tc.wantsWarn {
				t.Fatalf("warned: %v, want %v; logs:\n%s", got, tc.wantsWarn, logs.String())
			}
		})
	}
}
