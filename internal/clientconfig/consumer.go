package clientconfig

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumerOpts maps the consumer properties (ConsumerConfig).
func consumerOpts(p *propReader) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if v, ok := p.get("auto.offset.reset"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "earliest":
			opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		case "latest":
			opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
		case "none":
			opts = append(opts, kgo.ConsumeResetOffset(kgo.NoResetOffset()))
		default:
			return nil, InvalidValue("auto.offset.reset", v, "String must be one of: latest, earliest, none")
		}
	}
	if n, ok := p.int32("fetch.min.bytes"); ok {
		opts = append(opts, kgo.FetchMinBytes(n))
	}
	if n, ok := p.int32("fetch.max.bytes"); ok {
		opts = append(opts, kgo.FetchMaxBytes(n))
	}
	if d, ok := p.millis("fetch.max.wait.ms"); ok {
		opts = append(opts, kgo.FetchMaxWait(d))
	}
	if n, ok := p.int32("max.partition.fetch.bytes"); ok {
		opts = append(opts, kgo.FetchMaxPartitionBytes(n))
	}
	if v, ok := p.get("isolation.level"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "read_committed":
			opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		case "read_uncommitted":
			opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
		default:
			return nil, InvalidValue("isolation.level", v, "String must be one of: read_committed, read_uncommitted")
		}
	}
	if v, ok := p.get("client.rack"); ok && v != "" {
		opts = append(opts, kgo.Rack(v))
	}

	group, hasGroup := p.get("group.id")
	if !hasGroup || group == "" {
		// Without a group the group settings mean nothing; mark them
		// known so that they are not reported.
		for _, k := range []string{"group.instance.id", "group.protocol", "enable.auto.commit",
			"auto.commit.interval.ms", "session.timeout.ms", "heartbeat.interval.ms",
			"max.poll.interval.ms", "partition.assignment.strategy"} {
			p.get(k)
		}
		return opts, nil
	}
	opts = append(opts, kgo.ConsumerGroup(group))
	if v, ok := p.get("group.instance.id"); ok && v != "" {
		opts = append(opts, kgo.InstanceID(v))
	}
	if v, ok := p.get("group.protocol"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "classic", "consumer":
			opts = append(opts, kgo.GroupProtocol(strings.ToLower(strings.TrimSpace(v))))
		default:
			return nil, InvalidValue("group.protocol", v, "String must be one of (case insensitive): CLASSIC, CONSUMER")
		}
	}
	if b, ok := p.bool("enable.auto.commit"); ok && !b {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	if d, ok := p.millis("auto.commit.interval.ms"); ok {
		opts = append(opts, kgo.AutoCommitInterval(d))
	}
	if d, ok := p.millis("session.timeout.ms"); ok {
		opts = append(opts, kgo.SessionTimeout(d))
	}
	if d, ok := p.millis("heartbeat.interval.ms"); ok {
		opts = append(opts, kgo.HeartbeatInterval(d))
	}
	if d, ok := p.millis("max.poll.interval.ms"); ok {
		opts = append(opts, kgo.RebalanceTimeout(d))
	}
	if v, ok := p.get("partition.assignment.strategy"); ok {
		var balancers []kgo.GroupBalancer
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			// Kafka names assignors by class; accept the simple name too.
			switch s[strings.LastIndex(s, ".")+1:] {
			case "RangeAssignor", "range":
				balancers = append(balancers, kgo.RangeBalancer())
			case "RoundRobinAssignor", "roundrobin":
				balancers = append(balancers, kgo.RoundRobinBalancer())
			case "StickyAssignor", "sticky":
				balancers = append(balancers, kgo.StickyBalancer())
			case "CooperativeStickyAssignor", "cooperative-sticky":
				balancers = append(balancers, kgo.CooperativeStickyBalancer())
			default:
				return nil, InvalidValue("partition.assignment.strategy", v, "unknown assignor "+s)
			}
		}
		if len(balancers) > 0 {
			opts = append(opts, kgo.Balancers(balancers...))
		}
	}
	return opts, nil
}
