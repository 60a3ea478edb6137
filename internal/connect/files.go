package connect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gregor-streaming/gregor/internal/config"
)

// ReadWorkerFile reads a worker properties file.
func ReadWorkerFile(path string) (map[string]string, error) {
	props, err := config.ReadPropertiesFile(path)
	if err != nil {
		return nil, fmt.Errorf("read worker config %s: %w", path, err)
	}
	return props, nil
}

// ReadConnectorFile reads a connector's configuration as
// connect-standalone takes it: a JSON file in POST /connectors' format
// ({"name": …, "config": {…}, "initial_state": …}), or a .properties file.
func ReadConnectorFile(path string) (ConnectorSpec, error) {
	if !strings.HasSuffix(strings.ToLower(path), ".json") {
		props, err := config.ReadPropertiesFile(path)
		if err != nil {
			return ConnectorSpec{}, fmt.Errorf("read connector config %s: %w", path, err)
		}
		return ConnectorSpec{Config: props}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ConnectorSpec{}, fmt.Errorf("read connector config %s: %w", path, err)
	}
	var req struct {
		Name         string         `json:"name"`
		Config       map[string]any `json:"config"`
		InitialState string         `json:"initial_state"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return ConnectorSpec{}, fmt.Errorf("parse connector config %s: %w", path, err)
	}
	spec := ConnectorSpec{Name: req.Name, Config: map[string]string{}}
	for k, v := range req.Config {
		switch x := v.(type) {
		case string:
			spec.Config[k] = x
		case json.Number:
			spec.Config[k] = x.String()
		case bool:
			spec.Config[k] = strconv.FormatBool(x)
		default:
			return ConnectorSpec{}, fmt.Errorf("connector config %s: value of %q must be a string", path, k)
		}
	}
	switch strings.ToUpper(req.InitialState) {
	case "", "RUNNING":
	case "PAUSED":
		spec.InitialState = TargetPaused
	case "STOPPED":
		spec.InitialState = TargetStopped
	default:
		return ConnectorSpec{}, fmt.Errorf("connector config %s: invalid initial_state %q (RUNNING, PAUSED or STOPPED)", path, req.InitialState)
	}
	return spec, nil
}
