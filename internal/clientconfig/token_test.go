package clientconfig

import "testing"

// TestJAASTokenAuth: Kafka's ScramLoginModule sends the tokenauth=true
// SCRAM extension (KIP-48) when its tokenauth option is "true", compared
// without case; anything else is an ordinary SCRAM login.
func TestJAASTokenAuth(t *testing.T) {
	for _, tc := range []struct {
		jaas string
		want bool
	}{
		{`org.apache.kafka.common.security.scram.ScramLoginModule required username="id" password="hmac" tokenauth="true";`, true},
		{`org.apache.kafka.common.security.scram.ScramLoginModule required username="id" password="hmac" tokenauth="TRUE";`, true},
		{`org.apache.kafka.common.security.scram.ScramLoginModule required username="id" password="hmac" tokenauth="false";`, false},
		{`org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";`, false},
		{`username="id" password="hmac" tokenauth="true"`, true}, // not a whole JAAS entry: options searched
		{``, false},
	} {
		if got := jaasTokenAuth(tc.jaas); got != tc.want {
			t.Errorf("jaasTokenAuth(%q) = %v, want %v", tc.jaas, got, tc.want)
		}
	}
}
