package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// The REST API: Kafka Connect's paths, bodies, status codes and error
// bodies ({"error_code":404,"message":"Connector x not found"}):
//
//	GET    /                                         version, commit, kafka_cluster_id
//	GET    /connectors[?expand=status|info]          names, or name → {status, info}
//	POST   /connectors                               create: 201 + ConnectorInfo; 409 if it exists
//	GET    /connectors/{name}                        ConnectorInfo
//	DELETE /connectors/{name}                        204
//	GET    /connectors/{name}/config                 the configuration
//	PUT    /connectors/{name}/config                 create (201) or update (200): ConnectorInfo
//	GET    /connectors/{name}/status                 ConnectorStateInfo
//	POST   /connectors/{name}/restart[?includeTasks=&onlyFailed=]  204, or 202 + status (KIP-745)
//	PUT    /connectors/{name}/pause | resume         202
//	PUT    /connectors/{name}/stop                   204 (KIP-875)
//	GET    /connectors/{name}/tasks                  [TaskInfo]
//	GET    /connectors/{name}/tasks/{id}/status      TaskState
//	POST   /connectors/{name}/tasks/{id}/restart     204
//	GET    /connectors/{name}/topics                 {name: {topics}} (KIP-558)
//	PUT    /connectors/{name}/topics/reset           202
//	GET    /connectors/{name}/offsets                ConnectorOffsets (KIP-875)
//	PATCH  /connectors/{name}/offsets                200 + message; the connector must be STOPPED
//	DELETE /connectors/{name}/offsets                200 + message; the connector must be STOPPED
//	GET    /connector-plugins[?connectorsOnly=false] [PluginInfo]
//	GET    /connector-plugins/{plugin}/config        [ConfigKeyInfo]
//	PUT    /connector-plugins/{plugin}/config/validate  ConfigInfos
//	GET    /admin/loggers[/{name}], PUT /admin/loggers/{name}  log levels (KIP-495, rest_loggers.go)
//
// Unknown paths answer 404 "HTTP 404 Not Found", known paths with another
// method 405 "HTTP 405 Method Not Allowed", as Jersey does; a body that is
// not valid JSON answers 500 with the parser's message, as Kafka's
// exception mapper does.

// In distributed mode a request that only the leader may serve (writes
// of configurations, target states, restarts, offsets) is forwarded to
// the leader's advertised URL, and a request for a task to the worker
// running it, as Kafka's completeOrForwardRequest does: the first worker
// forwards with ?forward=true, the next one may forward once more with
// ?forward=false, and a worker that would forward a request that has
// forward=false answers 409 "Cannot complete request because of a
// conflicting operation (e.g. worker rebalance)". During a rebalance
// such requests answer 409 "Request cannot be completed because a
// rebalance is expected".
//
//	POST   /connectors/{name}/tasks                  internal: a worker sends task configurations to the leader

// RESTHerder is what the REST API serves: the standalone Herder and the
// DistributedHerder.
type RESTHerder interface {
	ClusterID() string
	Connectors() []string
	ConnectorInfo(name string) (*ConnectorInfo, error)
	ConnectorConfig(name string) (map[string]string, error)
	TaskConfigs(name string) ([]TaskInfo, error)
	PutConnectorConfig(name string, config map[string]string, initial TargetState, allowReplace bool) (bool, *ConnectorInfo, error)
	PutTaskConfigs(name string, configs []map[string]string, sig InternalRequestSignature) error
	DeleteConnector(name string) error
	ConnectorStatus(name string) (*ConnectorStateInfo, error)
	TaskStatus(id TaskID) (*TaskState, error)
	PauseConnector(name string) error
	ResumeConnector(name string) error
	StopConnector(name string) error
	RestartConnector(name string) error
	RestartTask(id TaskID) error
	RestartConnectorAndTasks(name string, onlyFailed, includeTasks bool) (*ConnectorStateInfo, error)
	ActiveTopics(name string) ([]string, error)
	ResetActiveTopics(name string) error
	ConnectorOffsets(ctx context.Context, name string) (*ConnectorOffsets, error)
	AlterConnectorOffsets(ctx context.Context, name string, offsets []ConnectorOffset) (*Message, error)
	ResetConnectorOffsets(ctx context.Context, name string) (*Message, error)
	ValidateConnectorConfig(config map[string]string, nullKeys []string) (*ConfigInfos, error)
}

// Headers of a signed internal request (Kafka's InternalRequestSignature,
// KIP-507): the body's HMAC under the session key, base64, and the
// algorithm.
const (
	signatureHeader          = "X-Connect-Authorization"
	signatureAlgorithmHeader = "X-Connect-Request-Signature-Algorithm"
)

// InternalRequestSignature is an internal request's body and signature
// (Algorithm "" when the request was not signed).
type InternalRequestSignature struct {
	Body      []byte
	Algorithm string
	Signature string // base64
}

var (
	_ RESTHerder = (*Herder)(nil)
	_ RESTHerder = (*DistributedHerder)(nil)
)

// RESTServer serves the REST API on the worker's listeners.
type RESTServer struct {
	log        *slog.Logger
	listeners  []net.Listener
	advertised *url.URL
	srv        *http.Server
	handler    *restHandler
	wg         sync.WaitGroup // Serve goroutines
	// loggers levels the worker's logs; admin serves /admin on
	// admin.listeners, or is nil (rest_loggers.go).
	loggers *Loggers
	admin   *adminServer
}

// NewRESTServer binds the worker's listeners (Kafka's
// RestServer.initializeServer) so that the advertised URL, and so the
// worker id, is known before the herder exists. Requests answer 503 until
// Start.
//
// HTTPS listeners and the client for other workers are set up as
// rest_tls.go says; the returned server's Logger is log leveled by
// /admin/loggers, which admin.listeners may move (rest_loggers.go).
func NewRESTServer(cfg *Config, log *slog.Logger) (*RESTServer, error) {
	client, err := newRESTClient(cfg)
	if err != nil {
		return nil, err
	}
	loggers := NewLoggers(log.Handler())
	log = slog.New(loggers.Handler())
	s := &RESTServer{log: log, loggers: loggers,
		handler: &restHandler{log: log, client: client, loggers: loggers, serveAdmin: cfg.AdminListeners == nil}}
	for _, u := range cfg.Listeners {
		l, err := restListen(u, cfg.Props, ListenersHTTPSPrefix)
		if err != nil {
			s.closeListeners()
			return nil, err
		}
		s.listeners = append(s.listeners, l)
	}
	i := advertisedListener(cfg)
	s.advertised = advertisedURL(cfg, cfg.Listeners[i].Scheme, s.listeners[i].Addr().(*net.TCPAddr))
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)} // TLS handshake failures, as Jetty's
	if s.admin, err = newAdminServer(cfg, s.handler); err != nil {
		s.closeListeners()
		return nil, err
	}
	return s, nil
}

func (s *RESTServer) closeListeners() {
	for _, l := range s.listeners {
		l.Close()
	}
}

// advertisedURL is the URL the worker gives out (Kafka's
// RestServer.advertisedUrl): rest.advertised.* if set, else the first
// listener's host (or this machine's name) and bound port.
func advertisedURL(cfg *Config, scheme string, bound *net.TCPAddr) *url.URL {
	host := cfg.AdvertisedHost
	if host == "" {
		h, _, _ := net.SplitHostPort(cfg.Listeners[0].Host)
		host = h
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if name, err := osHostname(); err == nil && name != "" {
			host = name
		} else {
			host = "localhost"
		}
	}
	port := cfg.AdvertisedPort
	if port == 0 {
		port = bound.Port
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/"}
}

// AdvertisedURL returns the worker's REST URL.
func (s *RESTServer) AdvertisedURL() *url.URL { return s.advertised }

// WorkerID returns host:port of the advertised URL, the worker's id.
func (s *RESTServer) WorkerID() string { return s.advertised.Host }

// Addrs returns the bound listener addresses.
func (s *RESTServer) Addrs() []net.Addr {
	out := make([]net.Addr, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.Addr()
	}
	return out
}

// Start serves requests for h on every listener.
func (s *RESTServer) Start(h RESTHerder) {
	s.handler.herder.Store(&herderRef{h})
	for _, l := range s.listeners {
		s.wg.Go(func() {
			if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("REST server stopped", "addr", l.Addr().String(), "err", err)
			}
		})
	}
	s.admin.start(h, s.log)
	s.log.Info("REST server listening", "url", s.advertised.String())
}

// Shutdown stops serving, waiting for requests in progress until ctx is
// done, and waits for the serving goroutines.
func (s *RESTServer) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	s.closeListeners()
	s.wg.Wait()
	if aerr := s.admin.shutdown(ctx); err == nil {
		err = aerr
	}
	return err
}

// Logger returns the worker's logger, leveled by /admin/loggers: the
// worker's components log through it.
func (s *RESTServer) Logger() *slog.Logger { return s.log }

// Loggers returns the worker's log levels.
func (s *RESTServer) Loggers() *Loggers { return s.loggers }

// NewHandler returns the REST API for h, for tests and embedding.
func NewHandler(h RESTHerder, log *slog.Logger) http.Handler {
	rh := &restHandler{log: log, client: &http.Client{Timeout: 90 * time.Second}}
	rh.herder.Store(&herderRef{h})
	return rh
}

type herderRef struct{ h RESTHerder }

type restHandler struct {
	log    *slog.Logger
	herder atomic.Pointer[herderRef]
	// client forwards requests to other workers.
	client *http.Client
	// loggers serves /admin/loggers where serveAdmin is set; adminOnly
	// serves nothing else (admin.listeners, rest_loggers.go).
	loggers    *Loggers
	serveAdmin bool
	adminOnly  bool
}

var errMethod = errors.New("method not allowed")

type response struct {
	status int
	body   any // nil for none
	header map[string]string
}

func ok(body any) response { return response{status: http.StatusOK, body: body} }

func (rh *restHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ref := rh.herder.Load()
	if ref == nil {
		writeError(w, http.StatusServiceUnavailable, "Request cannot be completed because Kafka Connect is still starting")
		return
	}
	h := ref.h
	segs, err := pathSegments(r.URL)
	if err != nil {
		writeError(w, http.StatusNotFound, "HTTP 404 Not Found")
		return
	}
	// Keep the body, should the request be forwarded.
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := rh.route(h, r, segs)
	var fwd *forwardError
	if errors.As(err, &fwd) {
		rh.forward(w, r, body, fwd)
		return
	}
	if err != nil {
		switch {
		case errors.Is(err, errMethod):
			writeError(w, http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed")
		case errors.Is(err, errNoRoute):
			writeError(w, http.StatusNotFound, "HTTP 404 Not Found")
		default:
			code := httpStatus(err)
			if code == http.StatusInternalServerError {
				rh.log.Error("Uncaught exception in REST call", "path", r.URL.Path, "err", err)
			}
			writeError(w, code, err.Error())
		}
		return
	}
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	writeJSON(w, resp.status, resp.body)
}

var errNoRoute = errors.New("no route")

// forward sends the request to another worker and copies its answer
// (Kafka's RestServer.httpRequest from completeOrForwardRequest).
func (rh *restHandler) forward(w http.ResponseWriter, r *http.Request, body []byte, fwd *forwardError) {
	q := r.URL.Query()
	switch q.Get("forward") {
	case "false":
		writeError(w, http.StatusConflict, msgConflictingOp)
		return
	case "":
		q.Set("forward", "true") // the next worker may forward once more
	default:
		q.Set("forward", "false")
	}
	target, err := url.Parse(fwd.url)
	if err != nil || fwd.url == "" {
		writeError(w, http.StatusConflict, msgConflictingOp)
		return
	}
	target = target.JoinPath(r.URL.EscapedPath())
	target.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for _, k := range []string{signatureHeader, signatureAlgorithmHeader} {
		if v := r.Header.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	rh.log.Debug("Forwarding request", "method", r.Method, "url", target.String())
	resp, err := rh.client.Do(req)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "IO Error trying to forward REST request: "+err.Error())
		return
	}
	defer resp.Body.Close()
	for _, k := range []string{"Content-Type", "Location"} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func pathSegments(u *url.URL) ([]string, error) {
	p := strings.Trim(u.EscapedPath(), "/")
	if p == "" {
		return nil, nil
	}
	raw := strings.Split(p, "/")
	out := make([]string, len(raw))
	for i, s := range raw {
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		enc.Encode(ErrorMessage{ErrorCode: status, Message: err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorMessage{ErrorCode: status, Message: msg})
}

// methods dispatches on r.Method; HEAD is GET without a body, as in
// Jersey.
func methods(r *http.Request, handlers map[string]func() (response, error)) (response, error) {
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if f, ok := handlers[method]; ok {
		return f()
	}
	return response{}, errMethod
}

func (rh *restHandler) route(h RESTHerder, r *http.Request, segs []string) (response, error) {
	if len(segs) > 0 && segs[0] == "admin" && rh.serveAdmin {
		return rh.routeAdmin(h, r, segs[1:]) // rest_loggers.go
	}
	if rh.adminOnly {
		return response{}, errNoRoute
	}
	switch {
	case len(segs) == 0:
		return methods(r, map[string]func() (response, error){
			http.MethodGet: func() (response, error) {
				return ok(ServerInfo{Version: sdk.Version, Commit: commitID(), KafkaClusterID: h.ClusterID()}), nil
			},
		})
	case segs[0] == "connectors":
		return rh.routeConnectors(h, r, segs[1:])
	case segs[0] == "connector-plugins":
		return rh.routePlugins(h, r, segs[1:])
	}
	return response{}, errNoRoute
}

func (rh *restHandler) routeConnectors(h RESTHerder, r *http.Request, segs []string) (response, error) {
	if len(segs) == 0 {
		return methods(r, map[string]func() (response, error){
			http.MethodGet:  func() (response, error) { return listConnectors(h, r) },
			http.MethodPost: func() (response, error) { return createConnector(h, r) },
		})
	}
	name := segs[0]
	rest := segs[1:]
	switch {
	case len(rest) == 0:
		return methods(r, map[string]func() (response, error){
			http.MethodGet: func() (response, error) {
				info, err := h.ConnectorInfo(name)
				return ok(info), err
			},
			http.MethodDelete: func() (response, error) {
				return response{status: http.StatusNoContent}, h.DeleteConnector(name)
			},
		})
	case len(rest) == 1:
		switch rest[0] {
		case "config":
			return methods(r, map[string]func() (response, error){
				http.MethodGet: func() (response, error) {
					c, err := h.ConnectorConfig(name)
					return ok(c), err
				},
				http.MethodPut: func() (response, error) { return putConnectorConfig(h, r, name) },
			})
		case "status":
			return methods(r, map[string]func() (response, error){
				http.MethodGet: func() (response, error) {
					st, err := h.ConnectorStatus(name)
					return ok(st), err
				},
			})
		case "restart":
			return methods(r, map[string]func() (response, error){
				http.MethodPost: func() (response, error) {
					q := r.URL.Query()
					includeTasks := strings.EqualFold(q.Get("includeTasks"), "true")
					onlyFailed := strings.EqualFold(q.Get("onlyFailed"), "true")
					if !includeTasks && !onlyFailed {
						return response{status: http.StatusNoContent}, h.RestartConnector(name)
					}
					st, err := h.RestartConnectorAndTasks(name, onlyFailed, includeTasks)
					return response{status: http.StatusAccepted, body: st}, err
				},
			})
		case "pause", "resume", "stop":
			return methods(r, map[string]func() (response, error){
				http.MethodPut: func() (response, error) {
					switch rest[0] {
					case "pause":
						return response{status: http.StatusAccepted}, h.PauseConnector(name)
					case "resume":
						return response{status: http.StatusAccepted}, h.ResumeConnector(name)
					}
					return response{status: http.StatusNoContent}, h.StopConnector(name)
				},
			})
		case "tasks":
			return methods(r, map[string]func() (response, error){
				http.MethodGet: func() (response, error) {
					t, err := h.TaskConfigs(name)
					return ok(t), err
				},
				http.MethodPost: func() (response, error) {
					raw, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
					if err != nil {
						return response{}, err
					}
					r.Body = io.NopCloser(bytes.NewReader(raw))
					var configs []map[string]string
					if err := decodeBody(r, &configs); err != nil {
						return response{}, err
					}
					sig := InternalRequestSignature{Body: raw, Algorithm: r.Header.Get(signatureAlgorithmHeader), Signature: r.Header.Get(signatureHeader)}
					return response{status: http.StatusNoContent}, h.PutTaskConfigs(name, configs, sig)
				},
			})
		case "fence": // KIP-618's internal endpoint (eos_fencing.go)
			return methods(r, map[string]func() (response, error){
				http.MethodPut: func() (response, error) { return fenceZombies(h, r, name) },
			})
		case "tasks-config":
			return methods(r, map[string]func() (response, error){
				http.MethodGet: func() (response, error) {
					rh.log.Warn("The 'GET /connectors/{connector}/tasks-config' endpoint is deprecated and will be removed in the next major release. Please use the 'GET /connectors/{connector}/tasks' endpoint instead.")
					t, err := h.TaskConfigs(name)
					if err != nil {
						return response{}, err
					}
					out := map[string]map[string]string{}
					for _, ti := range t {
						out[ti.ID.String()] = ti.Config
					}
					return ok(out), nil
				},
			})
		case "topics":
			return methods(r, map[string]func() (response, error){
				http.MethodGet: func() (response, error) {
					topics, err := h.ActiveTopics(name)
					if err != nil {
						return response{}, err
					}
					return ok(map[string]ActiveTopicsInfo{name: {Topics: topics}}), nil
				},
			})
		case "offsets":
			return methods(r, map[string]func() (response, error){
				http.MethodGet: func() (response, error) {
					o, err := h.ConnectorOffsets(r.Context(), name)
					return ok(o), err
				},
				http.MethodPatch: func() (response, error) {
					var body ConnectorOffsets
					if err := decodeBody(r, &body); err != nil {
						return response{}, err
					}
					m, err := h.AlterConnectorOffsets(r.Context(), name, body.Offsets)
					return ok(m), err
				},
				http.MethodDelete: func() (response, error) {
					m, err := h.ResetConnectorOffsets(r.Context(), name)
					return ok(m), err
				},
			})
		}
	case len(rest) == 2 && rest[0] == "topics" && rest[1] == "reset":
		return methods(r, map[string]func() (response, error){
			http.MethodPut: func() (response, error) {
				return response{status: http.StatusAccepted}, h.ResetActiveTopics(name)
			},
		})
	case len(rest) == 3 && rest[0] == "tasks":
		n, err := strconv.Atoi(rest[1])
		if err != nil {
			return response{}, errNoRoute
		}
		id := TaskID{Connector: name, Task: n}
		switch rest[2] {
		case "status":
			return methods(r, map[string]func() (response, error){
				http.MethodGet: func() (response, error) {
					st, err := h.TaskStatus(id)
					return ok(st), err
				},
			})
		case "restart":
			return methods(r, map[string]func() (response, error){
				http.MethodPost: func() (response, error) {
					return response{status: http.StatusNoContent}, h.RestartTask(id)
				},
			})
		}
	}
	return response{}, errNoRoute
}

func listConnectors(h RESTHerder, r *http.Request) (response, error) {
	expand, ok := r.URL.Query()["expand"]
	names := h.Connectors()
	if !ok {
		return response{status: http.StatusOK, body: names}, nil
	}
	out := map[string]map[string]any{}
	for _, name := range names {
		ex := map[string]any{}
		for _, e := range expand {
			switch e {
			case "status":
				st, err := h.ConnectorStatus(name)
				if err != nil {
					continue
				}
				ex["status"] = st
			case "info":
				info, err := h.ConnectorInfo(name)
				if err != nil {
					continue
				}
				ex["info"] = info
			}
		}
		out[name] = ex
	}
	return response{status: http.StatusOK, body: out}, nil
}

// decodeBody decodes a JSON body, keeping numbers exact. A body that does
// not parse is a 500, as in Kafka.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("No content to map due to end-of-input")
		}
		return err
	}
	return nil
}

// configFromJSON turns a decoded JSON object into a configuration map as
// Jackson coerces scalars to strings; keys given as null are returned
// apart, for validation to report.
func configFromJSON(m map[string]any) (map[string]string, []string, error) {
	out := make(map[string]string, len(m))
	var nulls []string
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = strconv.FormatBool(x)
		case nil:
			nulls = append(nulls, k)
		default:
			return nil, nil, fmt.Errorf("Cannot deserialize value of type `java.lang.String` from %s value for key %q", jsonKindOf(v), k)
		}
	}
	sort.Strings(nulls)
	return out, nulls, nil
}

func jsonKindOf(v any) string {
	switch v.(type) {
	case []any:
		return "Array"
	case map[string]any:
		return "Object"
	}
	return fmt.Sprintf("%T", v)
}

func createConnector(h RESTHerder, r *http.Request) (response, error) {
	var req CreateConnectorRequest
	if err := decodeBody(r, &req); err != nil {
		return response{}, err
	}
	if req.Config == nil {
		return response{}, badRequestf("Connector configuration must be provided")
	}
	config, nulls, err := configFromJSON(req.Config)
	if err != nil {
		return response{}, err
	}
	name := strings.TrimSpace(req.Name)
	if err := checkAndPutName(name, config); err != nil {
		return response{}, err
	}
	var initial TargetState
	if req.InitialState != nil {
		switch strings.ToUpper(*req.InitialState) {
		case "RUNNING":
			initial = TargetStarted
		case "PAUSED":
			initial = TargetPaused
		case "STOPPED":
			initial = TargetStopped
		default:
			return response{}, fmt.Errorf("Cannot deserialize value of type `org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest$InitialState` from String %q: not one of the values accepted for Enum class: [RUNNING, PAUSED, STOPPED]", *req.InitialState)
		}
	}
	if len(nulls) > 0 {
		infos, err := validateConnectorConfig(config, nulls)
		if err != nil {
			return response{}, err
		}
		return response{}, configErrors(infos)
	}
	_, info, err := h.PutConnectorConfig(name, config, initial, false)
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusCreated, body: info, header: map[string]string{"Location": "/connectors/" + url.PathEscape(name)}}, nil
}

// checkAndPutName checks the name in the configuration against the one in
// the request, or puts it there (Kafka's checkAndPutConnectorConfigName).
func checkAndPutName(name string, config map[string]string) error {
	if included, ok := config[nameConfig]; ok {
		if included != name {
			return badRequestf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", included, name)
		}
		return nil
	}
	config[nameConfig] = name
	return nil
}

func putConnectorConfig(h RESTHerder, r *http.Request, name string) (response, error) {
	var body map[string]any
	if err := decodeBody(r, &body); err != nil {
		return response{}, err
	}
	config, nulls, err := configFromJSON(body)
	if err != nil {
		return response{}, err
	}
	if err := checkAndPutName(name, config); err != nil {
		return response{}, err
	}
	if len(nulls) > 0 {
		infos, err := validateConnectorConfig(config, nulls)
		if err != nil {
			return response{}, err
		}
		return response{}, configErrors(infos)
	}
	created, info, err := h.PutConnectorConfig(name, config, "", true)
	if err != nil {
		return response{}, err
	}
	if created {
		return response{status: http.StatusCreated, body: info, header: map[string]string{"Location": "/connectors/" + url.PathEscape(name)}}, nil
	}
	return ok(info), nil
}

func (rh *restHandler) routePlugins(h RESTHerder, r *http.Request, segs []string) (response, error) {
	switch {
	case len(segs) == 0:
		return methods(r, map[string]func() (response, error){
			http.MethodGet: func() (response, error) {
				connectorsOnly := !strings.EqualFold(r.URL.Query().Get("connectorsOnly"), "false")
				out := []PluginInfo{}
				for _, t := range []sdk.PluginType{sdk.PluginSink, sdk.PluginSource, sdk.PluginTransformation, sdk.PluginPredicate, sdk.PluginConverter, sdk.PluginHeaderConverter} {
					if connectorsOnly && t != sdk.PluginSink && t != sdk.PluginSource {
						continue
					}
					for _, p := range sdk.Plugins() {
						if p.Type == t {
							out = append(out, PluginInfo{Class: p.Class, Type: string(p.Type), Version: p.Version})
						}
					}
				}
				return ok(out), nil
			},
		})
	case len(segs) == 2 && segs[1] == "config":
		return methods(r, map[string]func() (response, error){
			http.MethodGet: func() (response, error) {
				keys, err := pluginConfig(segs[0])
				return ok(keys), err
			},
		})
	case len(segs) == 3 && segs[1] == "config" && segs[2] == "validate":
		return methods(r, map[string]func() (response, error){
			http.MethodPut: func() (response, error) {
				var body map[string]any
				if err := decodeBody(r, &body); err != nil {
					return response{}, err
				}
				config, nulls, err := configFromJSON(body)
				if err != nil {
					return response{}, err
				}
				plugin := segs[0]
				if included, ok := config[connectorClassConfig]; ok && !strings.HasSuffix(normalizedPluginName(included), normalizedPluginName(plugin)) {
					return response{}, badRequestf("Included connector type %s does not match request type %s", included, plugin)
				}
				infos, err := h.ValidateConnectorConfig(config, nulls)
				return ok(infos), err
			},
		})
	}
	return response{}, errNoRoute
}

// normalizedPluginName drops a trailing "Connector", so that an alias and
// a class name compare (Kafka's ConnectorPluginsResource).
func normalizedPluginName(name string) string {
	if strings.HasSuffix(name, "Connector") && len(name) > len("Connector") {
		return strings.TrimSuffix(name, "Connector")
	}
	return name
}

var commitOnce = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				if len(s.Value) > 16 {
					return s.Value[:16]
				}
				return s.Value
			}
		}
	}
	return "unknown"
})

func commitID() string { return commitOnce() }
