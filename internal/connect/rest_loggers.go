package connect

// Log levels at runtime: /admin/loggers (KIP-495, KIP-976's scope).
//
//	GET /admin/loggers                    {"root":{"level":"INFO","last_modified":null}, "<name>":{…}, …}
//	GET /admin/loggers/{name}             {"level":"DEBUG","last_modified":1700000000000}; 404 "Logger <name> not found."
//	PUT /admin/loggers/{name}[?scope=worker|cluster]  {"level":"DEBUG"}
//	                                      worker (default): 200 + the names of the loggers set;
//	                                      cluster: 204; distributed: written to the config topic as
//	                                      logger-cluster-<name> {"level":"DEBUG"} and applied by every
//	                                      worker that reads it (KIP-976); standalone: set here
//
// Gregor's loggers are named as Kafka's log4j loggers are, by class, and
// form the same hierarchy: a logger without a level of its own takes the
// level of its nearest ancestor by dotted name, up to "root". Setting a
// level on a name sets it on that logger and on every known logger whose
// name starts with it (Kafka's Loggers.setLevel); setting "root" sets
// every known logger. The loggers are:
//
//	root                                        every record of the worker
//	<a connector class>                         the worker's records about connectors of that
//	  e.g. org.apache.kafka.connect.file.       class (creating, starting, stopping them)
//	  FileStreamSourceConnector
//	<the task class of a connector>             the worker's records about its tasks (polling,
//	  e.g. org.apache.kafka.connect.file.       sending, committing, topic creation)
//	  FileStreamSourceTask
//
// A logger becomes known when a connector of its class starts on the
// worker, or when a level is set on it.
// A record belongs to the logger named by its "logger" attribute
// (LoggerKey), root if it has none. Levels map to slog's: TRACE -8, DEBUG
// -4, INFO 0, WARN 4, ERROR 8, FATAL 12, OFF above all; root starts at
// the level of the handler the worker was given. Records that connector
// code logs through slog.Default are not the worker's and are not
// leveled here.
//
// admin.listeners (Kafka's RestServerConfig) says where /admin is served:
// unset, on the REST listeners; empty, nowhere (404); else on those
// listeners only (https ones take admin.listeners.https.ssl.*, or ssl.*:
// rest_tls.go), and the REST listeners answer /admin with 404.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// AdminListenersConfig is where the /admin endpoints are served.
const AdminListenersConfig = "admin.listeners"

// LoggerKey is the attribute that names the logger a record belongs to.
const LoggerKey = "logger"

// rootLogger is the root logger's name (Kafka's Loggers.ROOT_LOGGER_NAME).
const rootLogger = "root"

func init() {
	workerConfigDef.Define(sdk.ConfigKey{Name: AdminListenersConfig, Type: sdk.ConfigList, Importance: sdk.ImportanceLow,
		Documentation: "List of comma-separated URIs the Admin REST API will listen on. The supported protocols are HTTP and HTTPS. An empty or blank string will disable this feature. The default behavior is to use the regular listener (specified by the 'listeners' property)."})
}

// parseAdminListeners parses admin.listeners: nil when unset, empty when
// set to nothing.
func parseAdminListeners(props map[string]string) ([]*url.URL, error) {
	v, ok := props[AdminListenersConfig]
	if !ok {
		return nil, nil
	}
	out := []*url.URL{}
	for _, l := range strings.Split(v, ",") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		u, err := parseListener(l)
		if err != nil {
			return nil, sdk.ConfigError(AdminListenersConfig, v, err.Error())
		}
		out = append(out, u)
	}
	return out, nil
}

// Kafka's log4j levels and the slog levels they map to.
var kafkaLevels = []struct {
	name  string
	level slog.Level
}{
	{"ALL", math.MinInt32},
	{"TRACE", slog.LevelDebug - 4},
	{"DEBUG", slog.LevelDebug},
	{"INFO", slog.LevelInfo},
	{"WARN", slog.LevelWarn},
	{"ERROR", slog.LevelError},
	{"FATAL", slog.LevelError + 4},
	{"OFF", math.MaxInt32},
}

// parseKafkaLevel returns the slog level of a Kafka level name (any
// case); ok is false for an unknown name.
func parseKafkaLevel(s string) (slog.Level, string, bool) {
	for _, l := range kafkaLevels {
		if strings.EqualFold(s, l.name) {
			return l.level, l.name, true
		}
	}
	return 0, "", false
}

// kafkaLevelName names a slog level as Kafka's level at or below it.
func kafkaLevelName(l slog.Level) string {
	name := "ALL"
	for _, k := range kafkaLevels {
		if l >= k.level {
			name = k.name
		}
	}
	return name
}

// LoggerLevel is a logger's level in the REST API (Kafka's LoggerLevel).
// LastModified is when the level was last set through the API, in Unix
// milliseconds, or nil.
type LoggerLevel struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

// loggerState is one logger's own level.
type loggerState struct {
	set          bool // has a level of its own
	level        slog.Level
	lastModified *int64
}

// Loggers holds the worker's log levels by logger name and levels the
// records of the handler it wraps (Handler). Safe for concurrent use;
// logging reads a snapshot without locking.
type Loggers struct {
	inner slog.Handler
	now   func() time.Time
	// levels is a copy-on-write snapshot of mu.loggers.
	levels atomic.Pointer[map[string]loggerState]

	mu struct {
		sync.Mutex
		loggers map[string]loggerState // known loggers; root always set
	}
}

// NewLoggers returns the levels for records handled by inner; root's
// level is the lowest Kafka level inner is enabled for (OFF if none).
func NewLoggers(inner slog.Handler) *Loggers {
	ls := &Loggers{inner: inner, now: time.Now}
	root := slog.Level(math.MaxInt32)
	for _, l := range kafkaLevels[1:7] {
		if inner.Enabled(context.Background(), l.level) {
			root = l.level
			break
		}
	}
	ls.mu.loggers = map[string]loggerState{rootLogger: {set: true, level: root}}
	ls.publishLocked()
	return ls
}

func (ls *Loggers) publishLocked() {
	m := maps.Clone(ls.mu.loggers)
	ls.levels.Store(&m)
}

// effective returns the level of name: its own, else its nearest
// ancestor's by dotted name, else root's.
func effective(m map[string]loggerState, name string) loggerState {
	for n := name; n != ""; {
		if s, ok := m[n]; ok && s.set {
			return s
		}
		i := strings.LastIndexByte(n, '.')
		if i < 0 {
			break
		}
		n = n[:i]
	}
	return m[rootLogger]
}

// register makes name a known logger (log4j's logger instantiation).
func (ls *Loggers) register(name string) {
	if _, ok := (*ls.levels.Load())[name]; ok {
		return
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if _, ok := ls.mu.loggers[name]; !ok {
		ls.mu.loggers[name] = loggerState{}
		ls.publishLocked()
	}
}

// Level returns a known logger's level (its own or inherited) and when it
// was set; ok is false for an unknown logger.
func (ls *Loggers) Level(name string) (LoggerLevel, bool) {
	m := *ls.levels.Load()
	s, ok := m[name]
	if !ok {
		return LoggerLevel{}, false
	}
	if !s.set {
		s = effective(m, name)
		s.lastModified = m[name].lastModified
	}
	return LoggerLevel{Level: kafkaLevelName(s.level), LastModified: s.lastModified}, true
}

// All returns the loggers that have a level of their own, root included
// (Kafka's Loggers.allLevels).
func (ls *Loggers) All() map[string]LoggerLevel {
	m := *ls.levels.Load()
	out := map[string]LoggerLevel{}
	for name, s := range m {
		if s.set {
			out[name] = LoggerLevel{Level: kafkaLevelName(s.level), LastModified: s.lastModified}
		}
	}
	return out
}

// SetLevel sets level (a Kafka level name) on the logger namespace and on
// every known logger whose name starts with it, or on every logger for
// "root", and returns their names, sorted (Kafka's Loggers.setLevel). An
// unknown namespace becomes a known logger. Loggers already at level keep
// their last-modified time.
func (ls *Loggers) SetLevel(namespace, level string) ([]string, error) {
	lv, _, ok := parseKafkaLevel(level)
	if !ok {
		return nil, fmt.Errorf("invalid log level '%s'", level)
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if _, ok := ls.mu.loggers[namespace]; !ok {
		ls.mu.loggers[namespace] = loggerState{}
	}
	var names []string
	for name := range ls.mu.loggers {
		if namespace == rootLogger || strings.HasPrefix(name, namespace) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	now := ls.now().UnixMilli()
	before := maps.Clone(ls.mu.loggers)
	for _, name := range names {
		if effective(before, name).level == lv {
			continue // Kafka: "Skipping update … since its level is already …"
		}
		ls.mu.loggers[name] = loggerState{set: true, level: lv, lastModified: &now}
	}
	ls.publishLocked()
	return names, nil
}

// Handler returns a handler that passes to the wrapped handler the
// records at or above their logger's level, whatever the wrapped
// handler's own level.
func (ls *Loggers) Handler() slog.Handler {
	return &levelHandler{loggers: ls, inner: ls.inner, name: rootLogger}
}

// levelHandler levels records by the logger their LoggerKey attribute
// names.
type levelHandler struct {
	loggers *Loggers
	inner   slog.Handler
	name    string
}

func (h *levelHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= effective(*h.loggers.levels.Load(), h.name).level
}

func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.name == rootLogger {
		// A record may name its logger itself.
		name := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == LoggerKey {
				name = a.Value.String()
				return false
			}
			return true
		})
		if name != "" && r.Level < effective(*h.loggers.levels.Load(), name).level {
			return nil
		}
	}
	return h.inner.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	name := h.name
	for _, a := range as {
		if a.Key == LoggerKey {
			name = a.Value.String()
			h.loggers.register(name)
		}
	}
	return &levelHandler{loggers: h.loggers, inner: h.inner.WithAttrs(as), name: name}
}

func (h *levelHandler) WithGroup(g string) slog.Handler {
	return &levelHandler{loggers: h.loggers, inner: h.inner.WithGroup(g), name: h.name}
}

// taskLoggerName is the logger of a connector's tasks: its task class.
func taskLoggerName(p sdk.Plugin) string {
	if p.TaskClass != "" {
		return p.TaskClass
	}
	return p.Class + "Task"
}

// routeAdmin serves /admin/loggers.
func (rh *restHandler) routeAdmin(h RESTHerder, r *http.Request, segs []string) (response, error) {
	if rh.loggers == nil || len(segs) == 0 || segs[0] != "loggers" {
		return response{}, errNoRoute
	}
	ls := rh.loggers
	switch len(segs) {
	case 1:
		return methods(r, map[string]func() (response, error){
			http.MethodGet: func() (response, error) { return ok(ls.All()), nil },
		})
	case 2:
		name := segs[1]
		return methods(r, map[string]func() (response, error){
			http.MethodGet: func() (response, error) {
				l, found := ls.Level(name)
				if !found {
					return response{}, notFoundf("Logger %s not found.", name)
				}
				return ok(l), nil
			},
			http.MethodPut: func() (response, error) {
				var body map[string]any
				if err := decodeBody(r, &body); err != nil {
					return response{}, err
				}
				level, _ := body["level"].(string)
				if body["level"] == nil {
					return response{}, badRequestf("Desired 'level' parameter was not specified in request.")
				}
				if _, _, ok := parseKafkaLevel(level); !ok {
					return response{}, notFoundf("invalid log level '%s'.", level)
				}
				scope := "worker"
				if q := r.URL.Query(); q.Has("scope") {
					scope = q.Get("scope")
				}
				switch strings.ToLower(scope) {
				case "cluster":
					if d, distributed := h.(*DistributedHerder); distributed {
						if err := d.SetClusterLoggerLevel(name, level); err != nil {
							return response{}, err
						}
						rh.log.Info("Wrote level of loggers to the config topic", "namespace", name, "level", strings.ToUpper(level))
						return response{status: http.StatusNoContent}, nil
					}
					// Standalone: this worker is the whole cluster.
					if _, err := ls.SetLevel(name, level); err != nil {
						return response{}, err
					}
					return response{status: http.StatusNoContent}, nil
				case "worker":
				default:
					rh.log.Warn("Received invalid scope '" + scope + "' in request to adjust logging level; will default to worker")
				}
				names, err := ls.SetLevel(name, level)
				if err != nil {
					return response{}, err
				}
				rh.log.Info("Set level of loggers", "namespace", name, "level", strings.ToUpper(level), "loggers", len(names))
				return ok(names), nil
			},
		})
	}
	return response{}, errNoRoute
}

// adminServer serves /admin alone on admin.listeners.
type adminServer struct {
	listeners []net.Listener
	srv       *http.Server
	handler   *restHandler
	wg        sync.WaitGroup // Serve goroutines
}

// newAdminServer binds admin.listeners; nil when they are unset or
// empty (/admin is then served with the rest of the API, or nowhere).
func newAdminServer(cfg *Config, main *restHandler) (*adminServer, error) {
	if len(cfg.AdminListeners) == 0 {
		return nil, nil
	}
	a := &adminServer{handler: &restHandler{log: main.log, client: main.client, loggers: main.loggers, serveAdmin: true, adminOnly: true}}
	for _, u := range cfg.AdminListeners {
		l, err := restListen(u, cfg.Props, AdminListenersHTTPSPrefix)
		if err != nil {
			for _, l := range a.listeners {
				l.Close()
			}
			return nil, fmt.Errorf("admin listener: %w", err)
		}
		a.listeners = append(a.listeners, l)
	}
	a.srv = &http.Server{Handler: a.handler, ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(main.log.Handler(), slog.LevelDebug)}
	return a, nil
}

func (a *adminServer) start(h RESTHerder, log *slog.Logger) {
	if a == nil {
		return
	}
	a.handler.herder.Store(&herderRef{h})
	for _, l := range a.listeners {
		a.wg.Go(func() {
			if err := a.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("Admin REST server stopped", "addr", l.Addr().String(), "err", err)
			}
		})
	}
}

func (a *adminServer) shutdown(ctx context.Context) error {
	if a == nil {
		return nil
	}
	err := a.srv.Shutdown(ctx)
	for _, l := range a.listeners {
		l.Close()
	}
	a.wg.Wait()
	return err
}

// AdminAddrs returns the bound admin.listeners addresses (none when
// /admin is served on the REST listeners or disabled).
func (s *RESTServer) AdminAddrs() []net.Addr {
	if s.admin == nil {
		return nil
	}
	out := make([]net.Addr, len(s.admin.listeners))
	for i, l := range s.admin.listeners {
		out[i] = l.Addr()
	}
	return out
}
