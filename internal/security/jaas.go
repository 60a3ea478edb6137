package security

import (
	"fmt"
	"strings"
)

// JAASModule is one login module entry of a JAAS configuration, as Kafka's
// sasl.jaas.config holds it:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required
//	    username="admin" password="admin-secret"
//	    user_admin="admin-secret" user_alice="alice-secret";
//
// Options keep their order of appearance in Keys.
type JAASModule struct {
	// LoginModule is the login module class name.
	LoginModule string
	// Flag is the control flag, lower-cased: required, requisite,
	// sufficient or optional.
	Flag    string
	Options map[string]string
	Keys    []string
}

// Login module class names Kafka's mechanisms use.
const (
	PlainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
	ScramLoginModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
)

// Username and Password return the username and password options: the
// credentials a client (or a broker talking to another node) logs in
// with.
func (m JAASModule) Username() string { return m.Options["username"] }

// Password returns the password option.
func (m JAASModule) Password() string { return m.Options["password"] }

// PlainUsers returns the users a PlainLoginModule entry defines on a
// broker: every option user_<name>="<password>".
func (m JAASModule) PlainUsers() map[string]string {
	users := map[string]string{}
	for k, v := range m.Options {
		if name, ok := strings.CutPrefix(k, "user_"); ok {
			users[name] = v
		}
	}
	return users
}

// ParseJAAS parses JAAS configuration text (the value of sasl.jaas.config)
// with the syntax of Kafka's JaasConfig: one or more entries
//
//	<login module class> <flag> [<key>=<value> ...];
//
// where a value is a word or a quoted string ('...' or "...", with
// backslash escapes), and // and /* */ comments are skipped. Errors wrap
// ErrBadConfig and never include option values (they may be passwords).
func ParseJAAS(text string) ([]JAASModule, error) {
	t := &jaasTokenizer{s: text}
	var mods []JAASModule
	for {
		tok, err := t.next()
		if err != nil {
			return nil, err
		}
		if tok.kind == tokEOF {
			break
		}
		if tok.kind != tokWord {
			return nil, configErrorf("Invalid JAAS config: invalid login module %s", tok.describe())
		}
		m := JAASModule{LoginModule: tok.text, Options: map[string]string{}}
		flag, err := t.next()
		if err != nil {
			return nil, err
		}
		if flag.kind != tokWord {
			return nil, configErrorf("Invalid JAAS config: invalid control flag %s", flag.describe())
		}
		switch f := strings.ToLower(flag.text); f {
		case "required", "requisite", "sufficient", "optional":
			m.Flag = f
		default:
			return nil, configErrorf("Invalid JAAS config: invalid control flag %s", flag.text)
		}
		for {
			tok, err := t.next()
			if err != nil {
				return nil, err
			}
			if tok.kind == tokSemicolon {
				break
			}
			if tok.kind != tokWord {
				return nil, configErrorf("Invalid JAAS config: expected an option or ';' after %s, found %s", m.LoginModule, tok.describe())
			}
			key := tok.text
			eq, err := t.next()
			if err != nil {
				return nil, err
			}
			if eq.kind != tokEquals {
				return nil, configErrorf("Invalid JAAS config: Value not specified for key: %s", key)
			}
			val, err := t.next()
			if err != nil {
				return nil, err
			}
			if val.kind != tokWord && val.kind != tokQuoted {
				return nil, configErrorf("Invalid JAAS config: Value not specified for key: %s", key)
			}
			if _, dup := m.Options[key]; !dup {
				m.Keys = append(m.Keys, key)
			}
			m.Options[key] = val.text
		}
		mods = append(mods, m)
	}
	if len(mods) == 0 {
		return nil, configErrorf("Login module not specified in JAAS config")
	}
	return mods, nil
}

// ParseJAASModule parses text that must hold exactly one login module, as
// Kafka requires of sasl.jaas.config.
func ParseJAASModule(text string) (JAASModule, error) {
	mods, err := ParseJAAS(text)
	if err != nil {
		return JAASModule{}, err
	}
	if len(mods) != 1 {
		return JAASModule{}, configErrorf("JAAS config property contains %d login modules, should be 1 module", len(mods))
	}
	return mods[0], nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokQuoted
	tokEquals
	tokSemicolon
	tokOther
)

type jaasToken struct {
	kind tokKind
	text string
}

func (t jaasToken) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of text"
	case tokQuoted:
		return "a quoted string"
	case tokEquals:
		return "'='"
	case tokSemicolon:
		return "';'"
	}
	return fmt.Sprintf("%q", t.text)
}

// jaasTokenizer splits JAAS text as Java's StreamTokenizer does with
// Kafka's settings: words of letters, digits and -_$. (and a few more),
// quoted strings,
// comments skipped.
type jaasTokenizer struct {
	s   string
	pos int
}

func isJAASWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-_$.:@+*#%!?~^&|[]{}()<>", c) >= 0 || c >= 0x80
}

func (t *jaasTokenizer) next() (jaasToken, error) {
	for t.pos < len(t.s) {
		c := t.s[t.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			t.pos++
		case strings.HasPrefix(t.s[t.pos:], "//"):
			for t.pos < len(t.s) && t.s[t.pos] != '\n' {
				t.pos++
			}
		case strings.HasPrefix(t.s[t.pos:], "/*"):
			end := strings.Index(t.s[t.pos+2:], "*/")
			if end < 0 {
				return jaasToken{}, configErrorf("Invalid JAAS config: unterminated comment")
			}
			t.pos += 2 + end + 2
		case c == '=':
			t.pos++
			return jaasToken{kind: tokEquals, text: "="}, nil
		case c == ';':
			t.pos++
			return jaasToken{kind: tokSemicolon, text: ";"}, nil
		case c == '"' || c == '\'':
			return t.quoted(c)
		case isJAASWordByte(c):
			start := t.pos
			for t.pos < len(t.s) && isJAASWordByte(t.s[t.pos]) {
				t.pos++
			}
			return jaasToken{kind: tokWord, text: t.s[start:t.pos]}, nil
		default:
			t.pos++
			return jaasToken{kind: tokOther, text: string(c)}, nil
		}
	}
	return jaasToken{kind: tokEOF}, nil
}

// quoted reads a quoted string with StreamTokenizer's escapes: \n \t \r
// \b \f, octal \ooo, and \c for any other c.
func (t *jaasTokenizer) quoted(q byte) (jaasToken, error) {
	t.pos++ // opening quote
	var b strings.Builder
	for t.pos < len(t.s) {
		c := t.s[t.pos]
		switch {
		case c == q:
			t.pos++
			return jaasToken{kind: tokQuoted, text: b.String()}, nil
		case c == '\\' && t.pos+1 < len(t.s):
			t.pos++
			e := t.s[t.pos]
			t.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && t.pos < len(t.s) && t.s[t.pos] >= '0' && t.s[t.pos] <= '7' && v*8+int(t.s[t.pos]-'0') <= 0xff; k++ {
						v = v*8 + int(t.s[t.pos]-'0')
						t.pos++
					}
					b.WriteByte(byte(v))
				} else {
					b.WriteByte(e)
				}
			}
		case c == '\n' || c == '\r':
			return jaasToken{}, configErrorf("Invalid JAAS config: unterminated quoted string")
		default:
			b.WriteByte(c)
			t.pos++
		}
	}
	return jaasToken{}, configErrorf("Invalid JAAS config: unterminated quoted string")
}
