package clientconfig

import (
	"errors"
	"strings"
	"testing"
)

// A sasl.jaas.config a SASL client cannot log in with is refused when the
// options are built, with the message of Kafka's JaasConfig/JaasContext,
// rather than at the first login; well-formed texts (PLAIN, SCRAM, a
// delegation token's tokenauth) are accepted and never echoed back.
func TestJAASConfigChecked(t *testing.T) {
	const (
		plainModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
		scramModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
	)
	for _, tc := range []struct {
		mech, jaas string // jaas "-" for not set
		want       string // "" for accepted
	}{
		{"PLAIN", plainModule + ` required username="alice" password="alice-secret";`, ""},
		{"SCRAM-SHA-512", scramModule + ` required username="alice" password="alice-secret";`, ""},
		{"SCRAM-SHA-256", scramModule + " required\n  username=\"id\"\n  password=\"hmac\"\n  tokenauth=\"true\";", ""},
		{"PLAIN", plainModule + ` required /* comment */ username=alice password='alice-secret';`, ""},

		// The walkthrough's missing quote.
		{"SCRAM-SHA-512", scramModule + ` required username="alice password="x";`, "Value not specified for key 'x' in JAAS config"},
		{"PLAIN", plainModule + ` required username="alice" password;`, "Value not specified for key 'password' in JAAS config"},
		{"PLAIN", plainModule + ` required username="alice" password=;`, "Value not specified for key 'password' in JAAS config"},
		{"PLAIN", plainModule + ` required username="alice" password="alice-secret"`, "JAAS config entry not terminated by semi-colon"},
		{"PLAIN", plainModule, "Login module control flag not specified in JAAS config"},
		{"PLAIN", plainModule + ` mandatory username="alice";`, "Invalid login module control flag 'mandatory' in JAAS config"},
		{"PLAIN", `username="alice" password="alice-secret";`, "Login module control flag is not available in the JAAS config"},
		{"PLAIN", plainModule + ` required username="a" password="b"; ` + plainModule + ` required username="c" password="d";`,
			"JAAS config property contains 2 login modules, should be 1 module"},
		{"PLAIN", "  ", "Could not find a 'KafkaClient' entry in the JAAS configuration. System property 'java.security.auth.login.config' is not set"},
		{"PLAIN", "-", "Could not find a 'KafkaClient' entry in the JAAS configuration. System property 'java.security.auth.login.config' is not set"},
		{"PLAIN", "/* only a comment */", "JAAS config property does not contain any login modules"},
	} {
		props := map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": tc.mech}
		if tc.jaas != "-" {
			props["sasl.jaas.config"] = tc.jaas
		}
		_, _, err := Options(props, Producer)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: refused: %v", tc.jaas, err)
		case tc.want != "" && err == nil:
			t.Errorf("%q: accepted, want %q", tc.jaas, tc.want)
		case tc.want != "" && err.Error() != tc.want:
			t.Errorf("%q: %q, want %q", tc.jaas, err, tc.want)
		case err != nil && !errors.Is(err, ErrInvalidConfig):
			t.Errorf("%q: %v does not match ErrInvalidConfig", tc.jaas, err)
		case err != nil && (strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), `"x"`)):
			t.Errorf("%q: the message shows a password: %v", tc.jaas, err)
		}
	}
	// Without SASL the JAAS text is not used, and not checked (Kafka
	// reads it only for a SASL channel).
	if _, _, err := Options(map[string]string{"security.protocol": "SSL", "sasl.jaas.config": "not jaas"}, Producer); err != nil {
		t.Errorf("SSL with an unused sasl.jaas.config: %v", err)
	}
}
