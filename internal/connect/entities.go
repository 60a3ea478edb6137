package connect

// The REST API's JSON bodies, with Kafka's field names
// (org.apache.kafka.connect.runtime.rest.entities).

// ServerInfo is GET /'s answer.
type ServerInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

// ConnectorType is "source", "sink" or "unknown".
type ConnectorType string

// ConnectorInfo describes a connector: GET /connectors/{name} and the
// answer to creating or updating one.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []TaskID          `json:"tasks"`
	Type   ConnectorType     `json:"type"`
}

// StateInfo is the state of a connector or task instance.
type StateInfo struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// TaskState is one task's entry in ConnectorStateInfo, and GET
// /connectors/{name}/tasks/{id}/status.
type TaskState struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// ConnectorStateInfo is GET /connectors/{name}/status.
type ConnectorStateInfo struct {
	Name      string        `json:"name"`
	Connector StateInfo     `json:"connector"`
	Tasks     []TaskState   `json:"tasks"`
	Type      ConnectorType `json:"type"`
}

// TaskInfo is one entry of GET /connectors/{name}/tasks.
type TaskInfo struct {
	ID     TaskID            `json:"id"`
	Config map[string]string `json:"config"`
}

// ConnectorOffset is one source partition (or Kafka partition, for a
// sink) and its offset (KIP-875).
type ConnectorOffset struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// ConnectorOffsets is GET /connectors/{name}/offsets and the body of
// PATCH.
type ConnectorOffsets struct {
	Offsets []ConnectorOffset `json:"offsets"`
}

// Message is the answer to altering or resetting offsets.
type Message struct {
	Message string `json:"message"`
}

// ErrorMessage is every error's body.
type ErrorMessage struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// PluginInfo is one entry of GET /connector-plugins.
type PluginInfo struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Version string `json:"version,omitempty"`
}

// ActiveTopicsInfo is one connector's entry of GET
// /connectors/{name}/topics.
type ActiveTopicsInfo struct {
	Topics []string `json:"topics"`
}

// CreateConnectorRequest is POST /connectors' body (KIP-980 added
// initial_state).
type CreateConnectorRequest struct {
	Name         string         `json:"name"`
	Config       map[string]any `json:"config"`
	InitialState *string        `json:"initial_state"`
}
