package clientconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ClientException: Kafka's authorization exceptions name the topic or
// the group (franz-go's descriptions do not: "Not authorized to access
// topics: [Topic authorization failed.]"), other codes become their
// exception with the broker's message or the code's description, and
// anything else is left alone; the result still matches the code.
func TestClientException(t *testing.T) {
	other := errors.New("dial tcp 127.0.0.1:1: connection refused")
	for _, tc := range []struct {
		topic, group string
		err          error
		want         string
	}{
		{"payments", "", kerr.TopicAuthorizationFailed, "org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [payments]"},
		{"payments", "", fmt.Errorf("produce: %w", kerr.TopicAuthorizationFailed), "org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [payments]"},
		{"", "connect-sink", &kgo.ErrGroupSession{Err: kerr.GroupAuthorizationFailed}, "org.apache.kafka.common.errors.GroupAuthorizationException: Not authorized to access group: connect-sink"},
		{"payments", "connect-sink", kerr.ClusterAuthorizationFailed, "org.apache.kafka.common.errors.ClusterAuthorizationException: " + kerr.ClusterAuthorizationFailed.Description},
		{"", "", fmt.Errorf("%w: %s", kerr.SaslAuthenticationFailed, "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN"),
			"org.apache.kafka.common.errors.SaslAuthenticationException: Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN"},
		{"t", "", kerr.MessageTooLarge, "org.apache.kafka.common.errors.RecordTooLargeException: " + kerr.MessageTooLarge.Description},
		{"t", "g", other, other.Error()},
	} {
		got := ClientException(tc.topic, tc.group, tc.err)
		if got.Error() != tc.want {
			t.Errorf("ClientException(%q, %q, %v) = %q, want %q", tc.topic, tc.group, tc.err, got, tc.want)
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("ClientException(%v) does not match the error", tc.err)
		}
	}
}

// IsFatalConsumerError: what Kafka's consumer throws from poll (and a
// Connect sink task fails on) against what it retries or recovers from.
func TestIsFatalConsumerError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{kerr.TopicAuthorizationFailed, true},
		{&kgo.ErrGroupSession{Err: kerr.GroupAuthorizationFailed}, true},
		{&kgo.ErrGroupSession{Err: fmt.Errorf("%w: bad password", kerr.SaslAuthenticationFailed)}, true},
		{kerr.ClusterAuthorizationFailed, true},
		{kerr.InvalidTopicException, true},
		{&kgo.ErrGroupSession{Err: kerr.GroupMaxSizeReached}, true},

		{kerr.UnknownTopicOrPartition, false},
		{kerr.NotLeaderForPartition, false},
		{&kgo.ErrGroupSession{Err: kerr.CoordinatorNotAvailable}, false},
		{&kgo.ErrGroupSession{Err: kerr.RebalanceInProgress}, false},
		{&kgo.ErrGroupSession{Err: kerr.UnknownMemberID}, false},
		{kerr.OffsetOutOfRange, false},
		{&kgo.ErrDataLoss{Topic: "t", ResetTo: 3, ConsumedTo: 5}, false},
		{&kgo.ErrGroupSession{Err: io.EOF}, false},
		{context.Canceled, false},
	} {
		if got := IsFatalConsumerError(tc.err); got != tc.want {
			t.Errorf("IsFatalConsumerError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestIsLoginFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"sasl", kerr.SaslAuthenticationFailed, true},
		{"sasl wrapped", fmt.Errorf("login: %w", kerr.SaslAuthenticationFailed), true},
		{"mechanism", kerr.UnsupportedSaslMechanism, true},
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, true},
		{"alert from the peer", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, true},
		{"not tls", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, true},
		{"refused dial", &net.OpError{Op: "dial", Err: errors.New("connect: connection refused")}, false},
		{"authorization", kerr.TopicAuthorizationFailed, false},
		{"retriable", kerr.NotLeaderForPartition, false},
		{"eof", io.EOF, false},
		{"nil", nil, false},
	} {
		if got := IsLoginFailure(tc.err); got != tc.want {
			t.Errorf("%s: IsLoginFailure(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
