package clientconfig

import (
	"strconv"
	"strings"

	"github.com/gregor-streaming/gregor/internal/security"
)

// checkJAAS refuses a sasl.jaas.config a SASL client cannot log in with,
// as Kafka refuses it when the client is built (JaasContext and
// JaasConfig): no value at all, text that does not parse, or more than one
// login module. The text is parsed by the broker's own JAAS parser
// (security.ParseJAASModule); the message is Kafka's, found by walking the
// text as Kafka's StreamTokenizer does (kafkaJAASMessage). Messages never
// include option values, but like Kafka's they name the key at which
// parsing stopped, and after a missing quote that "key" is whatever word
// follows the quoted text (username="alice password="x"; is refused with
// "Value not specified for key 'x' in JAAS config").
func checkJAAS(jaas string, set bool) error {
	if !set || strings.TrimSpace(jaas) == "" {
		// Kafka falls back to the static JAAS file, which Gregor
		// does not read.
		return configError("Could not find a 'KafkaClient' entry in the JAAS configuration. System property 'java.security.auth.login.config' is not set")
	}
	if _, err := security.ParseJAASModule(jaas); err != nil {
		msg := kafkaJAASMessage(jaas)
		if msg == "" {
			// The two parsers disagree on what is wrong: the
			// broker's parser's own words.
			msg = strings.TrimPrefix(err.Error(), security.ErrBadConfig.Error()+": ")
		}
		return configError(msg)
	}
	return nil
}

// kafkaJAASMessage returns the message Kafka's JaasConfig (and
// JaasContext, for the number of modules) gives for text, or "" when it
// finds nothing wrong. It follows JaasConfig's parse loop:
//
//	entries   = { module flag { key "=" value } ";" }
//	module    = word
//	flag      = required | requisite | sufficient | optional
//	value     = word | quoted string ('…' or "…", ended by the quote,
//	            a line break or the end of the text)
//
// with // and /* */ comments skipped.
func kafkaJAASMessage(text string) string {
	tz := &kafkaTokenizer{s: text}
	modules := 0
	for {
		tok := tz.next()
		if tok.kind == ktEOF {
			break
		}
		modules++
		flag := tz.next()
		if flag.kind == ktEOF {
			return "Login module control flag not specified in JAAS config"
		}
		switch strings.ToLower(flag.sval()) {
		case "required", "requisite", "sufficient", "optional":
		case "null":
			return "Login module control flag is not available in the JAAS config"
		default:
			return "Invalid login module control flag '" + flag.sval() + "' in JAAS config"
		}
		tok = tz.next()
		for tok.kind != ktEOF && !tok.is(';') {
			key := tok.sval()
			if eq := tz.next(); !eq.is('=') {
				return "Value not specified for key '" + key + "' in JAAS config"
			}
			if v := tz.next(); v.kind != ktWord && v.kind != ktQuoted {
				return "Value not specified for key '" + key + "' in JAAS config"
			}
			tok = tz.next()
		}
		if !tok.is(';') {
			return "JAAS config entry not terminated by semi-colon"
		}
	}
	switch {
	case modules == 0:
		return "JAAS config property does not contain any login modules"
	case modules > 1:
		return "JAAS config property contains " + strconv.Itoa(modules) + " login modules, should be 1 module"
	}
	return ""
}

type kafkaTokenKind int

const (
	ktEOF kafkaTokenKind = iota
	ktWord
	ktQuoted
	ktChar // any other single character: '=', ';', …
)

type kafkaToken struct {
	kind kafkaTokenKind
	text string
}

func (t kafkaToken) is(c byte) bool { return t.kind == ktChar && t.text == string(c) }

// sval is the token's text as Java's StreamTokenizer.sval prints it in
// Kafka's messages: "null" for a character token.
func (t kafkaToken) sval() string {
	if t.kind == ktChar || t.kind == ktEOF {
		return "null"
	}
	return t.text
}

// kafkaTokenizer splits text as Kafka's JaasConfig sets up Java's
// StreamTokenizer; escapes inside quotes are skipped over, not decoded
// (only the structure matters here).
type kafkaTokenizer struct {
	s   string
	pos int
}

func isKafkaWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '$' || c == '.' || c >= 0x80
}

func (t *kafkaTokenizer) next() kafkaToken {
	for t.pos < len(t.s) {
		c := t.s[t.pos]
		switch {
		case c <= ' ':
			t.pos++
		case strings.HasPrefix(t.s[t.pos:], "//"):
			for t.pos < len(t.s) && t.s[t.pos] != '\n' {
				t.pos++
			}
		case strings.HasPrefix(t.s[t.pos:], "/*"):
			end := strings.Index(t.s[t.pos+2:], "*/")
			if end < 0 {
				t.pos = len(t.s)
			} else {
				t.pos += 2 + end + 2
			}
		case c == '"' || c == '\'':
			t.pos++
			start := t.pos
			for t.pos < len(t.s) && t.s[t.pos] != c && t.s[t.pos] != '\n' && t.s[t.pos] != '\r' {
				if t.s[t.pos] == '\\' && t.pos+1 < len(t.s) {
					t.pos++
				}
				t.pos++
			}
			text := t.s[start:t.pos]
			if t.pos < len(t.s) && t.s[t.pos] == c {
				t.pos++
			}
			return kafkaToken{kind: ktQuoted, text: text}
		case isKafkaWordByte(c):
			start := t.pos
			for t.pos < len(t.s) && isKafkaWordByte(t.s[t.pos]) {
				t.pos++
			}
			return kafkaToken{kind: ktWord, text: t.s[start:t.pos]}
		default:
			t.pos++
			return kafkaToken{kind: ktChar, text: string(c)}
		}
	}
	return kafkaToken{kind: ktEOF}
}
