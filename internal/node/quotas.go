package node

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/quota"
)

// quotaWindow is quota.window.num and quota.window.size.seconds (read
// only, as Kafka).
func quotaWindow(cfg *config.Broker) quota.Window {
	return quota.Window{Samples: int(cfg.QuotaWindowNum), Size: time.Duration(cfg.QuotaWindowSizeSeconds) * time.Second}
}

// controllerQuotaWindow is controller.quota.window.num and
// controller.quota.window.size.seconds (controller_mutation_rate).
func controllerQuotaWindow(cfg *config.Broker) quota.Window {
	return quota.Window{Samples: int(cfg.ControllerQuotaWindowNum), Size: time.Duration(cfg.ControllerQuotaWindowSizeSeconds) * time.Second}
}

// connectionLimits returns the broker's connection limits as of the
// latest metadata image: max.connections, max.connections.per.ip and its
// overrides, max.connection.creation.rate and their listener-prefixed
// forms, static or dynamic (per-broker over cluster default over
// static).
func (n *Node) connectionLimits() quota.ConnectionLimits {
	b := n.adapter.observe(n.controller.Image())
	lim := quota.ConnectionLimits{
		MaxConnections:            unlimitedInt(b.MaxConnections),
		MaxConnectionsPerIP:       unlimitedInt(b.MaxConnectionsPerIP),
		OnlyOverriddenIPs:         b.MaxConnectionsPerIP == 0,
		MaxConnectionCreationRate: float64(unlimitedInt(b.MaxConnectionCreationRate)),
		ProtectedListener:         b.InterBrokerListenerName,
	}
	for host, v := range b.MaxConnectionsPerIPOverrides {
		if lim.PerIPOverrides == nil {
			lim.PerIPOverrides = map[string]int{}
		}
		lim.PerIPOverrides[host] = int(v)
	}
	props := b.Raw()
	perBroker, clusterDefault := b.Dynamic()
	for k, v := range clusterDefault {
		props[k] = v
	}
	for k, v := range perBroker {
		props[k] = v
	}
	for _, l := range b.Listeners {
		prefix := "listener.name." + strings.ToLower(l.Name) + "."
		var ll quota.ListenerLimits
		if v, err := strconv.Atoi(strings.TrimSpace(props[prefix+"max.connections"])); err == nil {
			ll.MaxConnections = unlimitedInt(int32(v))
		}
		if v, err := strconv.Atoi(strings.TrimSpace(props[prefix+"max.connection.creation.rate"])); err == nil {
			ll.MaxConnectionCreationRate = float64(v)
		}
		if ll != (quota.ListenerLimits{}) {
			if lim.Listeners == nil {
				lim.Listeners = map[string]quota.ListenerLimits{}
			}
			lim.Listeners[l.Name] = ll
		}
	}
	return lim
}

// unlimitedInt maps Kafka's Int.MaxValue "no limit" to 0.
func unlimitedInt(v int32) int {
	if v >= math.MaxInt32 {
		return 0
	}
	return int(v)
}
