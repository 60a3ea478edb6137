package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gregor-streaming/gregor/connect"
)

// Connection configuration keys, shared by the source and the sink
// (Confluent's names and defaults).
const (
	ConnectionURLConfig       = "connection.url"
	ConnectionUserConfig      = "connection.user"
	ConnectionPasswordConfig  = "connection.password"
	ConnectionAttemptsConfig  = "connection.attempts"
	ConnectionBackoffConfig   = "connection.backoff.ms"
	DBTimezoneConfig          = "db.timezone"
	QuoteSQLIdentifiersConfig = "quote.sql.identifiers"
)

// defineConnection adds the connection keys to d.
func defineConnection(d *connect.ConfigDef) *connect.ConfigDef {
	const group = "Database"
	return d.
		Define(connect.ConfigKey{Name: ConnectionURLConfig, Type: connect.ConfigString, Default: connect.NoDefaultValue,
			Validator:  connect.ValidatorFunc{Func: validateURL, Doc: "jdbc:postgresql://host:port/db or postgres://…"},
			Importance: connect.ImportanceHigh, Group: group, OrderInGroup: 1, Width: connect.WidthLong, DisplayName: "JDBC URL",
			Documentation: "JDBC connection URL (jdbc:postgresql://host:port/database?user=…&password=…) or a libpq URL (postgres://user:password@host:port/database?sslmode=…)."}).
		Define(connect.ConfigKey{Name: ConnectionUserConfig, Type: connect.ConfigString, Default: nil,
			Importance: connect.ImportanceHigh, Group: group, OrderInGroup: 2, Width: connect.WidthLong, DisplayName: "JDBC User",
			Documentation: "JDBC connection user; overrides the URL's."}).
		Define(connect.ConfigKey{Name: ConnectionPasswordConfig, Type: connect.ConfigPassword, Default: nil,
			Importance: connect.ImportanceHigh, Group: group, OrderInGroup: 3, Width: connect.WidthMedium, DisplayName: "JDBC Password",
			Documentation: "JDBC connection password; overrides the URL's."}).
		Define(connect.ConfigKey{Name: ConnectionAttemptsConfig, Type: connect.ConfigInt, Default: 3, Validator: connect.AtLeast(1),
			Importance: connect.ImportanceLow, Group: group, OrderInGroup: 4, Width: connect.WidthShort, DisplayName: "JDBC connection attempts",
			Documentation: "Maximum number of attempts to retrieve a valid JDBC connection. Must be a positive integer."}).
		Define(connect.ConfigKey{Name: ConnectionBackoffConfig, Type: connect.ConfigLong, Default: int64(10000), Validator: connect.AtLeast(0),
			Importance: connect.ImportanceLow, Group: group, OrderInGroup: 5, Width: connect.WidthShort, DisplayName: "JDBC connection backoff in milliseconds",
			Documentation: "Backoff time in milliseconds between connection attempts."}).
		Define(connect.ConfigKey{Name: DBTimezoneConfig, Type: connect.ConfigString, Default: "UTC",
			Validator:  connect.ValidatorFunc{Func: validateTimezone, Doc: "Any valid time zone (IANA name)"},
			Importance: connect.ImportanceMedium, Group: group, OrderInGroup: 6, Width: connect.WidthMedium, DisplayName: "DB time zone",
			Documentation: "Name of the time zone in which timestamp columns without a time zone are interpreted (and written, by the sink)."}).
		Define(connect.ConfigKey{Name: QuoteSQLIdentifiersConfig, Type: connect.ConfigString, Default: "always",
			Validator:  connect.CaseInsensitiveIn("always", "never"),
			Importance: connect.ImportanceMedium, Group: group, OrderInGroup: 7, Width: connect.WidthShort, DisplayName: "Quote Identifiers",
			Documentation: "When to quote table names, column names, and other identifiers in SQL statements: always or never (never leaves them to PostgreSQL's case folding)."})
}

func validateURL(name string, value any) error {
	s, _ := value.(string)
	if _, err := parseURL(s); err != nil {
		return connect.ConfigError(name, value, strings.TrimPrefix(err.Error(), ErrURL.Error()+": "))
	}
	return nil
}

func validateTimezone(name string, value any) error {
	s, _ := value.(string)
	if _, err := time.LoadLocation(s); err != nil || s == "" {
		return connect.ConfigError(name, value, "Invalid time zone identifier")
	}
	return nil
}

// jdbcParams maps pgJDBC's URL parameters to libpq's; others are dropped.
var jdbcParams = map[string]string{
	"user":             "user",
	"password":         "password",
	"sslmode":          "sslmode",
	"sslcert":          "sslcert",
	"sslkey":           "sslkey",
	"sslrootcert":      "sslrootcert",
	"currentSchema":    "search_path",
	"ApplicationName":  "application_name",
	"applicationName":  "application_name",
	"connectTimeout":   "connect_timeout",
	"options":          "options",
	"targetServerType": "target_session_attrs",
}

// parseURL turns connection.url into a libpq URL pgx parses:
// jdbc:postgresql://host:port/db?params (pgJDBC's syntax, parameters
// translated) or postgres:// / postgresql:// as they are.
func parseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return "", fmt.Errorf("%w: empty; use jdbc:postgresql://host:port/database", ErrURL)
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return "", fmt.Errorf("%w: %v", ErrURL, err)
		}
		return raw, nil
	case strings.HasPrefix(raw, "jdbc:postgresql:"):
	case strings.HasPrefix(raw, "jdbc:"):
		sub := strings.TrimPrefix(raw, "jdbc:")
		if i := strings.IndexByte(sub, ':'); i > 0 {
			sub = sub[:i]
		}
		return "", fmt.Errorf("%w: %s is a %s URL; Gregor's JDBC connectors speak only PostgreSQL (jdbc:postgresql://host:port/database)", ErrURL, redactURL(raw), sub)
	default:
		return "", fmt.Errorf("%w: %s; use jdbc:postgresql://host:port/database or postgres://host:port/database", ErrURL, redactURL(raw))
	}
	rest := strings.TrimPrefix(raw, "jdbc:postgresql:")
	if !strings.HasPrefix(rest, "//") {
		// jdbc:postgresql:database is localhost:5432.
		rest = "//localhost/" + rest
	}
	u, err := url.Parse("postgres:" + rest)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrURL, err)
	}
	q := url.Values{}
	for k, vs := range u.Query() {
		switch {
		case k == "ssl" && len(vs) > 0 && vs[0] == "true":
			if !u.Query().Has("sslmode") {
				q.Set("sslmode", "require")
			}
		case jdbcParams[k] != "":
			q[jdbcParams[k]] = vs
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// redactURL hides a password in a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(strings.TrimPrefix(raw, "jdbc:"))
	if err != nil {
		return "the URL"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	s := u.String()
	if strings.HasPrefix(raw, "jdbc:") {
		s = "jdbc:" + s
	}
	return s
}

// connConfig is how to reach the database.
type connConfig struct {
	url      string // libpq URL
	display  string // connection.url without password
	user     string
	password string
	attempts int
	backoff  time.Duration
	timezone string
	quote    bool
}

func newConnConfig(pc *connect.ParsedConfig) (connConfig, error) {
	u, err := parseURL(pc.GetString(ConnectionURLConfig))
	if err != nil {
		return connConfig{}, err
	}
	return connConfig{
		url:      u,
		display:  redactURL(pc.GetString(ConnectionURLConfig)),
		user:     pc.GetString(ConnectionUserConfig),
		password: pc.GetPassword(ConnectionPasswordConfig).Value(),
		attempts: int(pc.GetInt(ConnectionAttemptsConfig)),
		backoff:  time.Duration(pc.GetLong(ConnectionBackoffConfig)) * time.Millisecond,
		timezone: pc.GetString(DBTimezoneConfig),
		quote:    strings.EqualFold(pc.GetString(QuoteSQLIdentifiersConfig), "always"),
	}, nil
}

// connect opens a connection, trying connection.attempts times
// connection.backoff.ms apart, with the session's time zone set to
// db.timezone. Errors wrap ErrConnect (or ErrPermission) and say what to
// check.
func (c connConfig) connect(ctx context.Context, log *slog.Logger) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(c.url)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrURL, c.display, err)
	}
	if c.user != "" {
		cfg.User = c.user
	}
	if c.password != "" {
		cfg.Password = c.password
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	cfg.RuntimeParams["TimeZone"] = c.timezone
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "gregor-connect"
	}
	// Describe every statement afresh: tables change under the
	// connectors (auto.evolve, users' ALTER TABLE), and a cached plan
	// would fail with "cached plan must not change result type".
	cfg.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	var last error
	for attempt := 1; attempt <= c.attempts; attempt++ {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		last = explain(err, cfg.User, c.display)
		if !retriableConnect(err) || attempt == c.attempts || ctx.Err() != nil {
			break
		}
		log.Warn("Unable to connect to database; will retry", "attempt", attempt, "of", c.attempts,
			"backoff", c.backoff, "err", last)
		select {
		case <-ctx.Done():
			return nil, errors.Join(last, ctx.Err())
		case <-time.After(c.backoff):
		}
	}
	return nil, last
}

// retriableConnect reports whether another connection attempt may
// succeed: not for a refused login or a missing database.
func retriableConnect(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000", "3D000", "42501":
			return false
		}
	}
	return true
}

// explain wraps err from connecting as the user to display (the URL)
// with a message that says what to check.
func explain(err error, user, display string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return fmt.Errorf("%w at %s: PostgreSQL refused the login of user %q (%s); check connection.user and connection.password, and pg_hba.conf: %w",
				ErrConnect, display, user, pe.Message, err)
		case "3D000":
			return fmt.Errorf("%w at %s: %s; check the database name in connection.url: %w", ErrConnect, display, pe.Message, err)
		case "42501":
			return fmt.Errorf("%w: user %q may not connect to %s (%s); GRANT CONNECT ON DATABASE … TO %s: %w",
				ErrPermission, user, display, pe.Message, user, err)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || strings.Contains(err.Error(), "connect: connection refused") || strings.Contains(err.Error(), "dial") {
		return fmt.Errorf("%w at %s: is the server running and accepting TCP connections there? check host and port in connection.url: %w",
			ErrConnect, display, err)
	}
	return fmt.Errorf("%w at %s: %w", ErrConnect, display, err)
}

// explainSQL wraps an error from running SQL on table with what to do
// about it: permission denied, missing table.
func explainSQL(err error, user, table, action string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "42501":
			return fmt.Errorf("%w: user %q may not %s table %s (%s); GRANT the privilege to the user, e.g. GRANT %s ON %s TO %s: %w",
				ErrPermission, user, strings.ToLower(action), table, pe.Message, action, table, user, err)
		case "42P01":
			return fmt.Errorf("%w: %s (%s): %w", ErrTableMissing, table, pe.Message, err)
		}
	}
	return fmt.Errorf("%s %s: %w", strings.ToLower(action), table, err)
}

// isRetriable reports whether a failed write may succeed if tried again:
// the connection broke, or PostgreSQL asks for a retry (serialization
// failure, deadlock, too many connections, shutdown, lock timeout).
func isRetriable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03", pe.Code == "53300":
			return true
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"):
			return true
		}
		return false
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, ErrConnect) || strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "EOF")
}

// tableID is a table's schema and name.
type tableID struct {
	schema string // "" for the search path's
	name   string
}

// parseTableID splits "schema.table" (or "db.schema.table", the database
// ignored; or "table"), honouring double quotes.
func parseTableID(s string) tableID {
	parts := splitIdent(s)
	switch len(parts) {
	case 0:
		return tableID{}
	case 1:
		return tableID{name: parts[0]}
	}
	return tableID{schema: parts[len(parts)-2], name: parts[len(parts)-1]}
}

// splitIdent splits a dotted name into its parts, unquoting "…" parts.
func splitIdent(s string) []string {
	var parts []string
	var b strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"' && quoted && i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case ch == '"':
			quoted = !quoted
		case ch == '.' && !quoted:
			parts = append(parts, b.String())
			b.Reset()
		default:
			b.WriteByte(ch)
		}
	}
	return append(parts, b.String())
}

// String returns schema.name (name alone without a schema), unquoted.
func (t tableID) String() string {
	if t.schema == "" {
		return t.name
	}
	return t.schema + "." + t.name
}

// quoteIdent quotes an identifier for SQL, or (never mode) leaves it.
func quoteIdent(s string, quote bool) string {
	if !quote {
		return s
	}
	return pgx.Identifier{s}.Sanitize()
}

// sql returns the table's name for SQL.
func (t tableID) sql(quote bool) string {
	if t.schema == "" {
		return quoteIdent(t.name, quote)
	}
	return quoteIdent(t.schema, quote) + "." + quoteIdent(t.name, quote)
}

// regclassLiteral is the table as a string for ::regclass, which parses
// (and case-folds) like SQL: quoted when quote is set.
func (t tableID) regclassLiteral(quote bool) string { return t.sql(quote) }
