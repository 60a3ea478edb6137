package cli

// Failing fast on a refused login.
//
// Kafka's producer and consumer throw an AuthenticationException as soon
// as a connection's login fails: the consumer from poll(), the producer
// from send() (through the record's callback). franz-go instead keeps
// the failed Metadata requests to itself, so a consumer with a wrong
// password polls forever and a producer's records wait until they time
// out. The client tools therefore watch the login themselves:
//
//	loginCtx, stop := watchLogin(ctx, cl) // stop ends the watch; call it before cl.Close
//	defer stop()
//	... cl.PollFetches(loginCtx) / cl.Produce(loginCtx, r, promise) ...
//	if err := loginFailure(loginCtx); err != nil { /* print err as Kafka does */ }
//
// watchLogin sends one Metadata request for no topics, which needs a
// logged-in connection, and repeats it until it succeeds. A fatal login
// error cancels loginCtx with that error as its cause:
//
//	SASL   SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM,
//	       ILLEGAL_SASL_STATE → their Kafka exceptions (…SaslAuthenticationException: <broker's message>)
//	TLS    a broker certificate we cannot verify, a TLS alert from the
//	       broker (it refused our certificate), a peer that does not
//	       speak TLS → org.apache.kafka.common.errors.SslAuthenticationException: SSL handshake failed
//
// Anything else (a broker that is not up yet, a connection reset) is
// retried, as Kafka's clients retry it: the watch never ends a tool that
// would otherwise have recovered. After the first successful request the
// watch ends; a login that fails later (another broker, a
// re-authentication) is not watched.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/clientconfig"
)

// loginError is a failed login as the AuthenticationException Kafka's
// clients throw for it. Error returns the exception's first line (and,
// for TLS, the cause on a second line); it unwraps to the client's error.
type loginError struct {
	exception string // "org.apache.kafka.common.errors.X: message"
	cause     string // "" or a "Caused by: …" line
	err       error
}

func (e *loginError) Error() string {
	if e.cause == "" {
		return e.exception
	}
	return e.exception + "\n" + e.cause
}

func (e *loginError) Unwrap() error { return e.err }

// Login watch timing: the first retry after a non-fatal error waits
// loginRetryMin, doubling up to loginRetryMax, like Kafka's
// reconnect.backoff.ms / reconnect.backoff.max.ms (50 ms, 1 s).
const (
	loginRetryMin = 50 * time.Millisecond
	loginRetryMax = time.Second
)

// asLoginError returns err as a *loginError when it is a fatal login
// failure (see the file comment), and nil otherwise: nil, context errors,
// network errors and any other Kafka error code are not fatal here.
func asLoginError(err error) *loginError {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var le *loginError
	if errors.As(err, &le) {
		return le
	}
	if clientconfig.IsSASLFailure(err) {
		return &loginError{exception: javaErrorString(err), err: err}
	}
	if clientconfig.IsTLSFailure(err) {
		return &loginError{
			exception: "org.apache.kafka.common.errors.SslAuthenticationException: SSL handshake failed",
			cause:     "Caused by: " + err.Error(),
			err:       err,
		}
	}
	return nil
}

// watchLogin starts the login watch (see the file comment) for cl and
// returns a context derived from ctx that is cancelled, with the
// *loginError as its cause, when the login fails for good. stop ends the
// watch, waits for its goroutine and releases the context; it may be
// called more than once. The watch also ends when ctx does.
func watchLogin(ctx context.Context, cl *kgo.Client) (loginCtx context.Context, stop func()) {
	loginCtx, fail := context.WithCancelCause(ctx)
	reqCtx, cancelReq := context.WithCancel(loginCtx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		backoff := loginRetryMin
		for {
			req := kmsg.NewPtrMetadataRequest()
			req.Topics = []kmsg.MetadataRequestTopic{} // none (nil asks for all)
			_, err := req.RequestWith(reqCtx, cl)
			if err == nil {
				return
			}
			if le := asLoginError(err); le != nil {
				fail(le)
				return
			}
			t := time.NewTimer(backoff)
			select {
			case <-reqCtx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, loginRetryMax)
		}
	}()
	return loginCtx, sync.OnceFunc(func() {
		cancelReq()
		<-done
		fail(context.Canceled)
	})
}

// loginFailure returns the *loginError that cancelled a context from
// watchLogin, or nil if the login has not failed.
func loginFailure(ctx context.Context) error {
	var le *loginError
	if errors.As(context.Cause(ctx), &le) {
		return le
	}
	return nil
}
