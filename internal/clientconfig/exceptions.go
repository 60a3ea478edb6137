package clientconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Exception is an error as the Java exception a Kafka client raises for
// it, so that what a tool prints or a Connect task's status trace reads
// is what Kafka's would:
//
//	org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [payments]
//	org.apache.kafka.common.errors.GroupAuthorizationException: Not authorized to access group: connect-local-file-sink
//
// It unwraps to the client's error, so errors.Is(err,
// kerr.TopicAuthorizationFailed) still holds.
type Exception struct {
	// Class is the exception's fully qualified Java class name.
	Class string
	// Message is the exception's message.
	Message string
	// Err is the franz-go error it stands for.
	Err error
}

// Error returns "Class: Message", the first line of Kafka's trace.
func (e *Exception) Error() string { return e.Class + ": " + e.Message }

// Unwrap returns the franz-go error.
func (e *Exception) Unwrap() error { return e.Err }

// ClientException returns err as the exception Kafka's producer or
// consumer raises for it. topic names the topic the failed request was
// for and group the consumer's group ("" when there is none): Kafka's
// TopicAuthorizationException names the topic ("Not authorized to access
// topics: [payments]") and its GroupAuthorizationException the group,
// where franz-go's error only carries the code's description. Any other
// Kafka error code becomes its exception with the broker's message, or
// the code's description when the broker sent none. An error that is no
// Kafka error code is returned as it is.
func ClientException(topic, group string, err error) error {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return err
	}
	switch {
	case ke == kerr.TopicAuthorizationFailed && topic != "":
		return &Exception{Class: ExceptionClass(ke.Code), Message: "Not authorized to access topics: [" + topic + "]", Err: err}
	case ke == kerr.GroupAuthorizationFailed && group != "":
		return &Exception{Class: ExceptionClass(ke.Code), Message: "Not authorized to access group: " + group, Err: err}
	}
	// franz-go appends the broker's error message to the code
	// ("SASL_AUTHENTICATION_FAILED: SASL Authentication failed.: …");
	// Kafka's exception carries that message instead of the default.
	msg := ke.Description
	if s, prefix := err.Error(), ke.Error()+": "; strings.Contains(s, prefix) {
		if m := s[strings.Index(s, prefix)+len(prefix):]; m != "" {
			msg = m
		}
	}
	return &Exception{Class: ExceptionClass(ke.Code), Message: msg, Err: err}
}

// ExceptionClass names the Java exception Kafka's clients raise for an
// error code, e.g. org.apache.kafka.common.errors.TopicExistsException.
func ExceptionClass(code int16) string {
	name := "UNKNOWN_SERVER_ERROR"
	var ke *kerr.Error
	if errors.As(kerr.ErrorForCode(code), &ke) {
		name = ke.Message
	}
	class, ok := irregularExceptions[name]
	if !ok {
		var b strings.Builder
		for _, w := range strings.Split(strings.TrimSuffix(name, "_FAILED"), "_") {
			if w != "" {
				b.WriteString(w[:1] + strings.ToLower(w[1:]))
			}
		}
		class = b.String() + "Exception"
	}
	return "org.apache.kafka.common.errors." + class
}

// irregularExceptions are the codes whose exception is not named after
// the code (Kafka's Errors enum).
var irregularExceptions = map[string]string{
	"UNKNOWN_SERVER_ERROR":     "UnknownServerException",
	"CORRUPT_MESSAGE":          "CorruptRecordException",
	"REQUEST_TIMED_OUT":        "TimeoutException",
	"TOPIC_ALREADY_EXISTS":     "TopicExistsException",
	"INVALID_CONFIG":           "InvalidConfigurationException",
	"INVALID_TOPIC_EXCEPTION":  "InvalidTopicException",
	"MESSAGE_TOO_LARGE":        "RecordTooLargeException",
	"RECORD_LIST_TOO_LARGE":    "RecordBatchTooLargeException",
	"KAFKA_STORAGE_ERROR":      "KafkaStorageException",
	"NON_EMPTY_GROUP":          "GroupNotEmptyException",
	"NOT_LEADER_FOR_PARTITION": "NotLeaderOrFollowerException",
}

// IsFatalConsumerError reports whether err, as a kgo consumer reports it
// from a poll (Fetches.Errors, with group errors as *kgo.ErrGroupSession),
// is one Kafka's consumer throws from poll rather than retrying:
// authorization and authentication failures and the other non-retriable
// error codes. Codes the consumer recovers from itself (an offset out of
// range reset by auto.offset.reset, a rebalance, a fenced or unknown
// member that rejoins), retriable codes, data loss notices and network
// errors are not fatal.
func IsFatalConsumerError(err error) bool {
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke.Retriable {
		return false
	}
	var loss *kgo.ErrDataLoss
	if errors.As(err, &loss) {
		return false
	}
	switch ke {
	case kerr.OffsetOutOfRange, kerr.RebalanceInProgress, kerr.IllegalGeneration,
		kerr.UnknownMemberID, kerr.MemberIDRequired, kerr.FencedMemberEpoch,
		kerr.StaleMemberEpoch, kerr.UnknownServerError:
		return false
	}
	return true
}

// IsLoginFailure reports whether err is a refused login that no retry can
// fix, one Kafka's clients throw as an AuthenticationException instead of
// retrying: SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM,
// ILLEGAL_SASL_STATE, or a TLS handshake failure (IsTLSFailure). A broker
// that is not up yet, a reset connection or any other error code is not
// one.
func IsLoginFailure(err error) bool {
	return IsSASLFailure(err) || IsTLSFailure(err)
}

// IsSASLFailure reports whether err is a refused SASL login:
// SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM or
// ILLEGAL_SASL_STATE (Kafka's SaslAuthenticationException and its
// siblings).
func IsSASLFailure(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState)
}

// IsTLSFailure reports whether err is a TLS handshake that no retry can
// fix (Kafka's SslAuthenticationException): a broker certificate we
// cannot verify, an alert the peer sent (such as "bad certificate" or
// "certificate required" when it refuses ours), or a peer that answered
// with something other than TLS.
func IsTLSFailure(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		header    tls.RecordHeaderError
		alert     tls.AlertError
		opErr     *net.OpError
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &authority), errors.As(err, &hostname),
		errors.As(err, &invalid), errors.As(err, &header), errors.As(err, &alert):
		return true
	case errors.As(err, &opErr):
		// crypto/tls reports alerts as *net.OpError{Op: "remote error"}
		// (sent by the peer) or {Op: "local error"} (sent by us), with
		// an unexported alert type whose text starts with "tls: ".
		return (opErr.Op == "remote error" || opErr.Op == "local error") &&
			opErr.Err != nil && strings.HasPrefix(opErr.Err.Error(), "tls: ")
	}
	return false
}
