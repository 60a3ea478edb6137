package security

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// SSLPrincipalMapper turns a certificate's subject distinguished name into
// a principal name with Kafka's ssl.principal.mapping.rules: a comma (or
// newline) separated list of rules, tried in order, the first that applies
// wins:
//
//	DEFAULT                          the full DN, as written by RFC 2253
//	RULE:pattern/replacement/        if the regexp matches the whole DN,
//	RULE:pattern/replacement/L       the DN with the match replaced
//	RULE:pattern/replacement/U       (L: lower-cased, U: upper-cased)
//
// In a pattern or replacement, \/ is a slash; $1, $2, ... in the
// replacement refer to the pattern's groups. Example:
//
//	RULE:^CN=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT
//	"CN=Alice,OU=Eng,O=Example,C=US" → "alice"
//
// Patterns are Go regexps (RE2), which accept the Java patterns Kafka's
// documentation uses but not back-references or look-arounds.
// An SSLPrincipalMapper is immutable and safe for concurrent use.
type SSLPrincipalMapper struct {
	rules []mappingRule
	text  string
}

type mappingRule struct {
	isDefault   bool
	pattern     *regexp.Regexp // anchored: ^(?:pattern)$
	replacement string
	lower       bool
	upper       bool
}

// ruleSplitter and ruleParser are Kafka's SslPrincipalMapper patterns.
const rulePattern = `(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?).*?|(.*?)`

var (
	ruleSplitter = regexp.MustCompile(`\s*(` + rulePattern + `)\s*(,\s*|$)`)
	ruleParser   = regexp.MustCompile(`^(?:` + rulePattern + `)`)
)

// ParseSSLPrincipalMappingRules parses ssl.principal.mapping.rules; ""
// means DEFAULT. Errors wrap ErrBadConfig.
func ParseSSLPrincipalMappingRules(text string) (*SSLPrincipalMapper, error) {
	m := &SSLPrincipalMapper{text: text}
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		trimmed = "DEFAULT"
	}
	// The splitter is applied repeatedly from where the last match
	// ended, as Java's Matcher.find does.
	var rules []string
	for pos := 0; pos <= len(trimmed); {
		loc := ruleSplitter.FindStringSubmatchIndex(trimmed[pos:])
		if loc == nil {
			break
		}
		rules = append(rules, trimmed[pos+loc[2]:pos+loc[3]])
		if loc[1] == 0 {
			pos++ // an empty match: move on, as find() does
			continue
		}
		pos += loc[1]
	}
	for _, r := range rules {
		sm := ruleParser.FindStringSubmatchIndex(r)
		if sm == nil {
			return nil, configErrorf("Invalid rule: %s", r)
		}
		if sm[1] != len(r) {
			return nil, configErrorf("Invalid rule: `%s`, unmatched substring: `%s`", r, r[sm[1]:])
		}
		group := func(i int) (string, bool) {
			if sm[2*i] < 0 {
				return "", false
			}
			return r[sm[2*i]:sm[2*i+1]], true
		}
		if _, ok := group(1); ok {
			m.rules = append(m.rules, mappingRule{isDefault: true})
			continue
		}
		pat, ok := group(2)
		if !ok {
			continue // an empty rule is ignored, as Kafka does
		}
		repl, _ := group(3)
		flag, _ := group(4)
		re, err := regexp.Compile(`^(?:` + pat + `)$`)
		if err != nil {
			return nil, configErrorf("Invalid rule: %s: %v", r, err)
		}
		m.rules = append(m.rules, mappingRule{pattern: re, replacement: repl, lower: flag == "L", upper: flag == "U"})
	}
	return m, nil
}

// Name returns the principal name for a distinguished name, or an error
// wrapping ErrNoMatchingRule.
func (m *SSLPrincipalMapper) Name(dn string) (string, error) {
	for _, r := range m.rules {
		if name, ok := r.apply(dn); ok {
			return name, nil
		}
	}
	return "", fmt.Errorf("%w: no rules apply to %s, rules %s", ErrNoMatchingRule, dn, m.text)
}

func (r mappingRule) apply(dn string) (string, bool) {
	if r.isDefault {
		return dn, true
	}
	sm := r.pattern.FindStringSubmatch(dn)
	if sm == nil {
		return "", false
	}
	out := expandJavaReplacement(r.replacement, sm)
	switch {
	case r.lower:
		out = strings.ToLower(out)
	case r.upper:
		out = strings.ToUpper(out)
	}
	return out, true
}

// expandJavaReplacement expands a java.util.regex replacement: \c is the
// character c, $n the n-th group (taking as many digits as name a group;
// a reference to a group that does not exist stays literal, as Kafka's
// escapeLiteralBackReferences arranges).
func expandJavaReplacement(repl string, groups []string) string {
	var b strings.Builder
	n := len(groups) - 1
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl):
			i++
			b.WriteByte(repl[i])
		case c == '$' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			j := i + 1
			ref := int(repl[j] - '0')
			if ref > n {
				b.WriteByte('$') // not a group: literal
				continue
			}
			j++
			for j < len(repl) && repl[j] >= '0' && repl[j] <= '9' {
				next := ref*10 + int(repl[j]-'0')
				if next > n {
					break
				}
				ref = next
				j++
			}
			if ref <= n {
				b.WriteString(groups[ref])
			}
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// SubjectDN returns a certificate's subject as Java's
// X500Principal.getName() writes it (RFC 2253): the relative names in
// reverse order of the encoding, attribute types CN, C, L, ST, O, OU,
// STREET, DC and UID by keyword, others as a dotted OID with the value's
// DER encoding in hex.
func SubjectDN(cert *x509.Certificate) string {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil {
		return cert.Subject.String()
	}
	return rfc2253(seq)
}

var dnKeywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

func rfc2253(seq pkix.RDNSequence) string {
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		for j, atv := range seq[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			oid := atv.Type.String()
			kw, ok := dnKeywords[oid]
			s, isString := atv.Value.(string)
			if !ok || !isString {
				der, err := asn1.Marshal(atv.Value)
				b.WriteString(oid)
				b.WriteString("=#")
				if err == nil {
					b.WriteString(strings.ToUpper(hex.EncodeToString(der)))
				}
				continue
			}
			b.WriteString(kw)
			b.WriteByte('=')
			b.WriteString(escapeDNValue(s))
		}
	}
	return b.String()
}

// escapeDNValue escapes an attribute value as RFC 2253 section 2.4 does.
func escapeDNValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		special := strings.IndexByte(`,+"\<>;`, c) >= 0 ||
			(i == 0 && (c == ' ' || c == '#')) ||
			(i == len(s)-1 && c == ' ')
		if special {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
