package config

import (
	"slices"
	"strconv"
	"strings"
)

// resolveNodeID applies Kafka's node.id/broker.id synonym rule.
func (b *Broker) resolveNodeID(v values, explicit func(string) bool) error {
	node, broker := v.i32("node.id"), v.i32("broker.id")
	switch {
	case explicit("node.id") && explicit("broker.id") && node != broker:
		return conflict("node.id", "You must set `node.id` to the same value as `broker.id`.")
	case !explicit("node.id") && explicit("broker.id"):
		node = broker
	}
	if node < 0 {
		return conflict("node.id", "Missing configuration `node.id` which is required when `process.roles` is defined (i.e. when running in KRaft mode).")
	}
	b.NodeID = node
	return nil
}

// resolveQuorum parses and checks the controller quorum configs.
func (b *Broker) resolveQuorum(v values, explicit func(string) bool) error {
	roles := b.ProcessRoles
	if len(roles) == 0 {
		return conflict("process.roles", "Invalid value for configuration process.roles: at least one of 'broker' and 'controller' is required")
	}
	if len(roles) != len(dedupe(roles)) {
		return conflict("process.roles", "Duplicate role names found in `process.roles`: %s", strings.Join(roles, ","))
	}
	voters, err := parseVoters(v.list("controller.quorum.voters"))
	if err != nil {
		return err
	}
	bootstrap, err := parseBootstrap(v.list("controller.quorum.bootstrap.servers"))
	if err != nil {
		return err
	}
	b.ControllerQuorumVoters, b.ControllerQuorumBootstrapServers = voters, bootstrap
	quorum := len(voters) > 0 || len(bootstrap) > 0
	both := b.HasRole("broker") && b.HasRole("controller")
	if !quorum && !both {
		return conflict("controller.quorum.voters", "If using process.roles, either controller.quorum.bootstrap.servers must contain the set of bootstrap controllers or controller.quorum.voters must contain a parseable set of controllers.")
	}
	if quorum && !explicit("node.id") && !explicit("broker.id") {
		return conflict("node.id", "Missing configuration `node.id` which is required when `process.roles` is defined (i.e. when running in KRaft mode).")
	}
	if b.HasRole("controller") && len(voters) > 0 {
		found := false
		for _, vt := range voters {
			found = found || vt.ID == b.NodeID
		}
		if !found {
			return conflict("controller.quorum.voters", "If process.roles contains the 'controller' role, the node id %d must be included in the set of voters controller.quorum.voters=%s", b.NodeID, strings.Join(v.list("controller.quorum.voters"), ","))
		}
	}
	return nil
}

// resolveListeners parses listeners, advertised.listeners and the
// protocol map, and checks Kafka's listener rules per role.
func (b *Broker) resolveListeners(v values, explicit func(string) bool) error {
	var names []string
	for _, n := range strings.Split(v.str("controller.listener.names"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, strings.ToUpper(n))
		}
	}
	b.ControllerListenerNames = names
	isController := func(name string) bool { return slices.Contains(names, name) }

	protocols, err := parseProtocolMap(v.str("listener.security.protocol.map"))
	if err != nil {
		return err
	}
	if !explicit("listener.security.protocol.map") {
		// KRaft: map controller listeners to PLAINTEXT unless SSL or
		// SASL is in use anywhere (KafkaConfig.effectiveListenerSecurityProtocolMap).
		sslOrSasl := func(n string) bool { return n == "SSL" || n == "SASL_SSL" || n == "SASL_PLAINTEXT" }
		inUse := slices.ContainsFunc(names, sslOrSasl)
		for _, l := range v.list("listeners") {
			if m := listenerURI.FindStringSubmatch(l); m != nil && sslOrSasl(strings.ToUpper(m[1])) {
				inUse = true
			}
		}
		if !inUse {
			for _, n := range names {
				if _, ok := protocols[n]; !ok {
					protocols[n] = "PLAINTEXT"
				}
			}
		}
	}
	b.ListenerSecurityProtocolMap = protocols

	rawListeners := v.list("listeners")
	listeners, err := parseEndpoints("listeners", rawListeners, protocols)
	if err != nil {
		return err
	}
	if err := checkDistinct("listeners", listeners, strings.Join(rawListeners, ","), true); err != nil {
		return err
	}
	b.Listeners = listeners

	var brokerNames, controllerNames []string
	for _, l := range listeners {
		if isController(l.Name) {
			controllerNames = append(controllerNames, l.Name)
		} else {
			brokerNames = append(brokerNames, l.Name)
		}
	}
	switch {
	case b.HasRole("broker") && !b.HasRole("controller"):
		if len(names) == 0 {
			return conflict("controller.listener.names", "controller.listener.names must contain at least one value when running KRaft with just the broker role")
		}
		if len(controllerNames) > 0 {
			return conflict("controller.listener.names", "controller.listener.names must not contain a value appearing in the 'listeners' configuration when running KRaft with just the broker role")
		}
	case b.HasRole("controller") && !b.HasRole("broker"):
		if len(controllerNames) == 0 {
			return conflict("controller.listener.names", "controller.listener.names must contain at least one value appearing in the 'listeners' configuration when running the KRaft controller role")
		}
		if len(brokerNames) > 0 {
			return conflict("listeners", "The listeners config must only contain KRaft controller listeners from controller.listener.names when process.roles=controller")
		}
	default: // broker and controller
		if len(names) > 0 && len(controllerNames) == 0 {
			return conflict("controller.listener.names", "controller.listener.names must contain at least one value appearing in the 'listeners' configuration when running the KRaft controller role")
		}
		if len(names) == 0 && !b.SingleNode() {
			return conflict("controller.listener.names", "controller.listener.names must contain at least one value appearing in the 'listeners' configuration when running the KRaft controller role")
		}
	}

	// Inter-broker listener.
	if explicit("inter.broker.listener.name") && explicit("security.inter.broker.protocol") {
		return conflict("inter.broker.listener.name", "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.")
	}
	ib := strings.ToUpper(javaTrim(v.str("inter.broker.listener.name")))
	if ib == "" {
		ib = v.str("security.inter.broker.protocol")
	}
	b.InterBrokerListenerName = ib
	if isController(ib) {
		return conflict("controller.listener.names", "controller.listener.names must not contain the value set for inter.broker.listener.name")
	}

	// Advertised listeners.
	var advertised []Listener
	if raw := v.list("advertised.listeners"); raw != nil {
		advertised, err = parseEndpoints("advertised.listeners", raw, protocols)
		if err != nil {
			return err
		}
		if err := checkDistinct("advertised.listeners", advertised, strings.Join(raw, ","), false); err != nil {
			return err
		}
		for _, a := range advertised {
			if a.Host == "0.0.0.0" {
				return conflict("advertised.listeners", "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.")
			}
			if _, ok := b.Listener(a.Name); !ok {
				return conflict("advertised.listeners", "advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. Found %s. The valid options based on the current configuration are %s", joinNames(advertised), joinNames(listeners))
			}
		}
	} else {
		advertised = slices.Clone(listeners)
	}
	for i := range advertised {
		if isWildcardHost(advertised[i].Host) {
			advertised[i].Host = hostname()
		}
	}
	for _, a := range advertised {
		if !isController(a.Name) {
			b.AdvertisedListeners = append(b.AdvertisedListeners, a)
		}
	}
	for _, n := range names {
		for _, a := range advertised {
			if a.Name == n {
				b.AdvertisedControllerListeners = append(b.AdvertisedControllerListeners, a)
				break
			}
		}
	}
	if b.HasRole("broker") {
		if len(b.AdvertisedListeners) == 0 {
			return conflict("advertised.listeners", "There must be at least one broker advertised listener. Perhaps all listeners appear in controller.listener.names?")
		}
		if !slices.ContainsFunc(b.AdvertisedListeners, func(l Listener) bool { return l.Name == ib }) {
			return conflict("inter.broker.listener.name", "inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are %s", joinNames(b.AdvertisedListeners))
		}
	}

	// max.connections.per.ip.overrides: host:limit pairs.
	b.MaxConnectionsPerIPOverrides = map[string]int32{}
	if raw := javaTrim(v.str("max.connections.per.ip.overrides")); raw != "" {
		for _, e := range strings.Split(raw, ",") {
			i := strings.LastIndex(e, ":")
			if i <= 0 {
				return invalidValue("max.connections.per.ip.overrides", raw, "Map entry '"+e+"' is not of the form key:value")
			}
			n, err := strconv.ParseInt(strings.TrimSpace(e[i+1:]), 10, 32)
			if err != nil || n < 0 {
				return invalidValue("max.connections.per.ip.overrides", raw, "Invalid connection limit in entry '"+e+"'")
			}
			b.MaxConnectionsPerIPOverrides[strings.TrimSpace(e[:i])] = int32(n)
		}
	}
	if b.MaxConnectionsPerIP == 0 && len(b.MaxConnectionsPerIPOverrides) == 0 {
		return invalidValue("max.connections.per.ip", "0", "There should be at least one override specified if max.connections.per.ip is set to 0")
	}
	return nil
}

// resolveLogDirs applies "log.dirs, else log.dir".
func (b *Broker) resolveLogDirs(v values) error {
	raw := v.get("log.dirs")
	if raw == nil {
		raw = v.get("log.dir")
	}
	var dirs []string
	for _, d := range strings.Split(raw.(string), ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return conflict("log.dirs", "At least one log directory must be defined via log.dirs or log.dir.")
	}
	if len(dedupe(dirs)) != len(dirs) {
		return conflict("log.dirs", "Invalid value %s for configuration log.dirs: the same directory appears more than once", strings.Join(dirs, ","))
	}
	b.LogDirs = dirs
	b.MetadataLogDir = v.str("metadata.log.dir")
	if b.MetadataLogDir == "" {
		b.MetadataLogDir = dirs[0]
	}
	return nil
}

// checkRules is KafkaConfig.validateValues for the configs Gregor has.
func (b *Broker) checkRules(v values) []error {
	var errs []error
	req := func(ok bool, name, format string, args ...any) {
		if !ok {
			errs = append(errs, conflict(name, format, args...))
		}
	}
	req(b.LogRollMs >= 1, "log.roll.ms", "log.roll.ms must be greater than or equal to 1")
	req(b.LogRollJitterMs >= 0, "log.roll.jitter.ms", "log.roll.jitter.ms must be greater than or equal to 0")
	req(b.LogRetentionMs >= 1 || b.LogRetentionMs == -1, "log.retention.ms", "log.retention.ms must be unlimited (-1) or, greater than or equal to 1")
	req(b.LogCleanerThreads == 0 || b.LogCleanerDedupeBufferSize/int64(b.LogCleanerThreads) > 1024*1024,
		"log.cleaner.dedupe.buffer.size", "log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread.")
	req(b.ReplicaFetchWaitMaxMs <= b.ReplicaSocketTimeoutMs, "replica.socket.timeout.ms",
		"replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms to prevent unnecessary socket timeouts")
	req(int64(b.ReplicaFetchWaitMaxMs) <= b.ReplicaLagTimeMaxMs, "replica.fetch.wait.max.ms",
		"replica.fetch.wait.max.ms should always be less than or equal to replica.lag.time.max.ms to prevent frequent changes in ISR")
	req(b.LogCleanerMinCompactionLagMs <= b.LogCleanerMaxCompactionLagMs, "log.cleaner.min.compaction.lag.ms",
		"conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", b.LogCleanerMinCompactionLagMs, b.LogCleanerMaxCompactionLagMs)
	req(!b.RemoteLogStorageSystemEnable, "remote.log.storage.system.enable",
		"Invalid value true for configuration remote.log.storage.system.enable: Gregor does not support tiered storage")
	req(b.GroupMaxSessionTimeoutMs >= b.GroupMinSessionTimeoutMs, "group.max.session.timeout.ms",
		"group.max.session.timeout.ms must be greater than or equal to group.min.session.timeout.ms")
	req(b.GroupConsumerMaxSessionTimeoutMs >= b.GroupConsumerMinSessionTimeoutMs, "group.consumer.max.session.timeout.ms",
		"group.consumer.max.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms")
	req(b.GroupConsumerSessionTimeoutMs >= b.GroupConsumerMinSessionTimeoutMs, "group.consumer.session.timeout.ms",
		"group.consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms")
	req(b.GroupConsumerSessionTimeoutMs <= b.GroupConsumerMaxSessionTimeoutMs, "group.consumer.session.timeout.ms",
		"group.consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms")
	req(b.GroupConsumerMaxHeartbeatIntervalMs >= b.GroupConsumerMinHeartbeatIntervalMs, "group.consumer.max.heartbeat.interval.ms",
		"group.consumer.max.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms")
	req(b.GroupConsumerHeartbeatIntervalMs >= b.GroupConsumerMinHeartbeatIntervalMs, "group.consumer.heartbeat.interval.ms",
		"group.consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms")
	req(b.GroupConsumerHeartbeatIntervalMs <= b.GroupConsumerMaxHeartbeatIntervalMs, "group.consumer.heartbeat.interval.ms",
		"group.consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms")
	req(b.GroupConsumerHeartbeatIntervalMs < b.GroupConsumerSessionTimeoutMs, "group.consumer.heartbeat.interval.ms",
		"group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms")
	return errs
}

func joinNames(ls []Listener) string {
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.Name
	}
	return strings.Join(names, ",")
}

func dedupe(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
