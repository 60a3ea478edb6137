package connect

import (
	"fmt"
	"strings"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// exactlyOnceSourceFor reads a distributed worker's
// exactly.once.source.support: "disabled" (the default) and "preparing"
// run source tasks at least once, "enabled" exactly once. A leader fences
// zombies on request (PUT /connectors/{name}/fence, eos_fencing.go) in
// every mode, so a "preparing" leader serves the workers already
// "enabled" during a rolling upgrade, as Kafka's does.
//
// Reference: KIP-618, "Rolling upgrade".
func exactlyOnceSourceFor(cfg *DistributedConfig) (*exactlyOnceSource, error) {
	switch v := strings.ToLower(trimmed(cfg.Props[ExactlyOnceSourceSupportConfig])); v {
	case "", "disabled", "preparing":
		return nil, nil
	case "enabled":
		return &exactlyOnceSource{GroupID: cfg.GroupID, OffsetsTopic: cfg.OffsetTopic}, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(ExactlyOnceSourceSupportConfig, cfg.Props[ExactlyOnceSourceSupportConfig],
		"String must be one of (case insensitive): DISABLED, ENABLED, PREPARING"))
}
