package server

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// relayedKeys are every API a broker listener relays to the active
// controller: before the handler (forwardedKeys) or from it (64, 80,
// 81).
func relayedKeys() []int16 {
	keys := []int16{64, 80, 81}
	for k := range forwardedKeys {
		keys = append(keys, k)
	}
	return keys
}

// For every relayed API the timed-out answer carries REQUEST_TIMED_OUT,
// and an answer with NOT_CONTROLLER in it is retried: the two halves of
// the one forwarding loop (forwardWithin) agree on each response type.
func TestFailedResponseAndNotControllerAgree(t *testing.T) {
	for _, k := range relayedKeys() {
		req := kmsg.RequestForKey(k)
		req.SetVersion(req.MaxVersion())
		fillOne(reflect.ValueOf(req).Elem())
		timedOut := failedResponse(req, kerr.RequestTimedOut)
		if timedOut.Key() != k || !carries(reflect.ValueOf(timedOut).Elem(), kerr.RequestTimedOut.Code) {
			t.Errorf("%s: the timed-out answer %+v carries no REQUEST_TIMED_OUT", kmsg.NameForKey(k), timedOut)
		}
		if notController(timedOut) {
			t.Errorf("%s: REQUEST_TIMED_OUT read as NOT_CONTROLLER", kmsg.NameForKey(k))
		}
		if nc := failedResponse(req, kerr.NotController); !notController(nc) {
			t.Errorf("%s: NOT_CONTROLLER in every result is not retried", kmsg.NameForKey(k))
		}
	}
	for _, resp := range []kmsg.Response{
		&kmsg.AddRaftVoterResponse{ErrorCode: kerr.NotLeaderForPartition.Code},
		&kmsg.RemoveRaftVoterResponse{ErrorCode: kerr.NotLeaderForPartition.Code},
		&kmsg.CreateACLsResponse{Results: []kmsg.CreateACLsResponseResult{{}, {ErrorCode: kerr.NotController.Code}}},
		&kmsg.DeleteACLsResponse{Results: []kmsg.DeleteACLsResponseResult{{ErrorCode: kerr.NotController.Code}}},
	} {
		if !notController(resp) {
			t.Errorf("%s %+v is not retried", kmsg.NameForKey(resp.Key()), resp)
		}
	}
	if notController(&kmsg.CreateACLsResponse{Results: []kmsg.CreateACLsResponseResult{{ErrorCode: kerr.InvalidRequest.Code}}}) {
		t.Error("a CreateAcls answer without NOT_CONTROLLER is retried")
	}
}

// AlterUserScramCredentials answers once per user, deletions first, in
// request order (Kafka's ControllerApis); v0-1 UpdateFeatures answers per
// feature too.
func TestFailedResponseShapes(t *testing.T) {
	scram := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	for _, u := range []string{"bob", "alice"} {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name = u
		scram.Deletions = append(scram.Deletions, d)
	}
	for _, u := range []string{"alice", "carol"} {
		up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		up.Name = u
		scram.Upsertions = append(scram.Upsertions, up)
	}
	var users []string
	for _, r := range failedResponse(scram, kerr.RequestTimedOut).(*kmsg.AlterUserSCRAMCredentialsResponse).Results {
		users = append(users, r.User)
	}
	if !reflect.DeepEqual(users, []string{"bob", "alice", "carol"}) {
		t.Errorf("users %q", users)
	}
	for v, want := range map[int16]int{1: 1, 2: 0} {
		uf := kmsg.NewPtrUpdateFeaturesRequest()
		uf.Version = v
		uf.FeatureUpdates = append(uf.FeatureUpdates, kmsg.NewUpdateFeaturesRequestFeatureUpdate())
		r := failedResponse(uf, kerr.RequestTimedOut).(*kmsg.UpdateFeaturesResponse)
		if r.ErrorCode != kerr.RequestTimedOut.Code || len(r.Results) != want {
			t.Errorf("UpdateFeatures v%d: error %d, %d results, want %d", v, r.ErrorCode, len(r.Results), want)
		}
	}
}

// scriptedForwarder answers Forward from a script, then with errors.
type scriptedForwarder struct {
	mu     sync.Mutex
	script []kmsg.Response // nil entries: no response
	calls  int
}

func (f *scriptedForwarder) Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(f.script) == 0 {
		return nil, errors.New("no controller")
	}
	r := f.script[0]
	f.script = f.script[1:]
	if r == nil {
		return nil, errors.New("no controller")
	}
	return r, nil
}

func TestForwardWithin(t *testing.T) {
	ok := &kmsg.UnregisterBrokerResponse{}
	f := &scriptedForwarder{script: []kmsg.Response{nil, &kmsg.UnregisterBrokerResponse{ErrorCode: kerr.NotController.Code}, ok}}
	s := &Server{log: slog.New(slog.DiscardHandler), deps: Deps{Forwarder: f}}
	req := kmsg.NewPtrUnregisterBrokerRequest()
	timedOut := func() kmsg.Response { t.Fatal("timed out"); return nil }
	if got := s.forwardWithin(t.Context(), req, time.Minute, timedOut); got != ok || f.calls != 3 {
		t.Fatalf("got %+v after %d calls, want the third answer", got, f.calls)
	}

	// Nobody answers: the caller's answer, once the timeout passed.
	f = &scriptedForwarder{}
	s.deps.Forwarder = f
	mine := &kmsg.UnregisterBrokerResponse{ErrorCode: kerr.RequestTimedOut.Code}
	if got := s.forwardWithin(t.Context(), req, time.Millisecond, func() kmsg.Response { return mine }); got != mine || f.calls == 0 {
		t.Fatalf("got %+v after %d calls, want the timed-out answer", got, f.calls)
	}
}

// Without an authorizer an ACL change fails in every result (Kafka's
// AclApis: SECURITY_DISABLED).
func TestGateACLChangeWithoutAuthorizer(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	create := kmsg.NewPtrCreateACLsRequest()
	create.Creations = make([]kmsg.CreateACLsRequestCreation, 2)
	del := kmsg.NewPtrDeleteACLsRequest()
	del.Filters = make([]kmsg.DeleteACLsRequestFilter, 3)
	for req, n := range map[kmsg.Request]int{create: 2, del: 3} {
		resp := s.gateACLChange(nil, req)
		results := reflect.ValueOf(resp).Elem().FieldByName("Results")
		if resp == nil || resp.Key() != req.Key() || results.Len() != n {
			t.Fatalf("%s: %+v, want %d results", kmsg.NameForKey(req.Key()), resp, n)
		}
		for i := range n {
			r := results.Index(i)
			if code, msg := r.FieldByName("ErrorCode").Int(), r.FieldByName("ErrorMessage").Interface().(*string); code != int64(kerr.SecurityDisabled.Code) || msg == nil || *msg != "No Authorizer is configured." {
				t.Errorf("%s result %d: %d %v", kmsg.NameForKey(req.Key()), i, code, msg)
			}
		}
	}
}
