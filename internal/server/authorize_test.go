package server

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Every request-wide check can refuse its request with Kafka's error
// somewhere in the response: the top-level error code, or every result.
func TestRefuseEveryCheckedAPI(t *testing.T) {
	keys := map[int16]bool{}
	for k := range brokerChecks {
		keys[k] = true
	}
	for k := range controllerChecks {
		keys[k] = true
	}
	for k := range keys {
		req := kmsg.RequestForKey(k)
		req.SetVersion(req.MaxVersion())
		fillOne(reflect.ValueOf(req).Elem())
		resp := refuse(req, kerr.ClusterAuthorizationFailed, "")
		if resp == nil || resp.Key() != k {
			t.Fatalf("%s: response %v", kmsg.NameForKey(k), resp)
		}
		if !carries(reflect.ValueOf(resp).Elem(), kerr.ClusterAuthorizationFailed.Code) {
			t.Errorf("%s: the refusal carries no error code", kmsg.NameForKey(k))
		}
	}
}

// fillOne gives every slice of v one element, recursively, so results
// built per element exist.
func fillOne(v reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct && f.CanSet() {
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
			fillOne(f.Index(0))
		}
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Int32 && f.CanSet() {
			f.Set(reflect.ValueOf([]int32{0}))
		}
	}
}

// carries reports whether v holds code in an ErrorCode field, at the top
// or in results.
func carries(v reflect.Value, code int16) bool {
	if f := v.FieldByName("ErrorCode"); f.IsValid() && int16(f.Int()) == code {
		return true
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct {
			for j := 0; j < f.Len(); j++ {
				if carries(f.Index(j), code) {
					return true
				}
			}
		}
	}
	return false
}
