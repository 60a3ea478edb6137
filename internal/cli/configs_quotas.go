package cli

// kafka-configs for client quotas (KIP-546): --entity-type users,
// clients (together too) and ips, through DescribeClientQuotas and
// AlterClientQuotas, as ConfigCommand's alterQuotaConfigs and
// describeQuotaConfigs:
//
//	kafka-configs --bootstrap-server HOST:PORT --alter --entity-type users --entity-name alice \
//	    --add-config 'producer_byte_rate=1024,consumer_byte_rate=2048'
//	kafka-configs --bootstrap-server HOST:PORT --alter --user alice --client app --delete-config request_percentage
//	kafka-configs --bootstrap-server HOST:PORT --alter --entity-type ips --entity-default --add-config connection_creation_rate=10
//	kafka-configs --bootstrap-server HOST:PORT --describe --entity-type users --entity-name alice
//	Quota configs for user-principal 'alice' are consumer_byte_rate=2048.0, producer_byte_rate=1024.0
//
// The entities and each entity's values print in the order of the Java
// HashMaps the admin client collects them in (javaSizedHashOrder), so the
// output matches Kafka's line for line.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/quota"
	"github.com/gregor-streaming/gregor/internal/security"
)

// isClientOrUserQuotaConfig is QuotaConfig.isClientOrUserQuotaConfig.
func isClientOrUserQuotaConfig(k string) bool { return slices.Contains(userQuotaConfigs, k) }

// quotaEntityType maps a ConfigCommand entity type to a quota entity
// type.
func quotaEntityType(t string) string {
	switch t {
	case entityUsers:
		return quota.EntityUser
	case entityClients:
		return quota.EntityClientID
	case entityIPs:
		return quota.EntityIP
	}
	return t
}

// entityNamesInOrder returns the --entity-name and --entity-default
// values in command-line order ("" for a default), as ConfigCommand
// pairs them with --entity-type.
func entityNamesInOrder(args, names []string, hasDefault bool) []string {
	var out []string
	next := 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--entity-default":
			out = append(out, "")
		case a == "--entity-name" && i+1 < len(args):
			i++
			if next < len(names) {
				out = append(out, names[next])
				next++
			}
		case strings.HasPrefix(a, "--entity-name="):
			if next < len(names) {
				out = append(out, names[next])
				next++
			}
		}
	}
	want := len(names)
	if hasDefault {
		want++ // --entity-default is given at most once
	}
	if len(out) != want || next != len(names) {
		// Abbreviated options: fall back to names, then the default.
		out = slices.Clone(names)
		if hasDefault {
			out = append(out, "")
		}
	}
	return out
}

// alterQuotaEntity alters a users, clients or ips entity: quota configs
// through AlterClientQuotas, a user's SCRAM credentials through
// alterUser (ConfigCommand.alterConfig).
func (c *configsCommand) alterQuotaEntity(ctx context.Context, order []string, adds map[string]string, deletes []string) error {
	head := c.types[0]
	var unknownAdd, unknownDel, scramAdd, scramDel []string
	hasQuota := false
	for _, k := range order {
		_, scram := security.ParseScramMechanism(k)
		switch {
		case scram:
			scramAdd = append(scramAdd, k)
		case isClientOrUserQuotaConfig(k):
			hasQuota = true
		default:
			unknownAdd = append(unknownAdd, k)
		}
	}
	for _, k := range deletes {
		_, scram := security.ParseScramMechanism(k)
		switch {
		case scram:
			scramDel = append(scramDel, k)
		case isClientOrUserQuotaConfig(k):
			hasQuota = true
		default:
			unknownDel = append(unknownDel, k)
		}
	}
	switch {
	case head == entityIPs:
		var unknown []string
		for _, k := range append(slices.Clone(order), deletes...) {
			if k != quota.ConnectionCreationRate {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			return &kafkaError{Msg: "Only connection quota configs can be added for 'ips' using --bootstrap-server. Unexpected config names: " + strings.Join(unknown, ",")}
		}
		return c.alterQuotas(ctx, order, adds, deletes)
	case head == entityClients || len(c.types) == 2:
		if len(unknownAdd) > 0 || len(scramAdd) > 0 {
			return &kafkaError{Msg: "Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected config names: " + javaSet(unknownAdd)}
		}
		if len(unknownDel) > 0 || len(scramDel) > 0 {
			return &kafkaError{Msg: "Only quota configs can be deleted for 'clients' using --bootstrap-server. Unexpected config names: " + javaSet(unknownDel)}
		}
	default: // users
		if len(unknownAdd) > 0 {
			return &kafkaError{Msg: "Only quota and SCRAM credential configs can be added for 'users' using --bootstrap-server. Unexpected config names: " + javaSet(unknownAdd)}
		}
		if len(unknownDel) > 0 {
			return &kafkaError{Msg: "Only quota and SCRAM credential configs can be deleted for 'users' using --bootstrap-server. Unexpected config names: " + javaSet(unknownDel)}
		}
		if len(scramAdd) > 0 || len(scramDel) > 0 {
			if slices.Contains(c.names, "") {
				return &kafkaError{Msg: "The use of --entity-default or --user-defaults is not allowed with User SCRAM Credentials using --bootstrap-server."}
			}
			if hasQuota {
				return &kafkaError{Msg: "Cannot alter both quota and SCRAM credential configs simultaneously for 'users' using --bootstrap-server."}
			}
		}
	}
	if hasQuota {
		return c.alterQuotas(ctx, order, adds, deletes)
	}
	return c.alterUser(ctx, c.names[0], order, adds, deletes)
}

// quotaFilter is getAllClientQuotasConfigs' filter: each entity type
// with its name, the default, or (without a name) any; strict.
func (c *configsCommand) quotaFilter() (*kmsg.DescribeClientQuotasRequest, error) {
	if len(c.names) > len(c.types) {
		return nil, &kafkaError{Msg: "More entity names specified than entity types"}
	}
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	req.Strict = true
	for i, t := range c.types {
		comp := kmsg.NewDescribeClientQuotasRequestComponent()
		comp.EntityType = quotaEntityType(t)
		switch {
		case i >= len(c.names):
			comp.MatchType = kmsg.QuotasMatchTypeAny
		case c.names[i] == "":
			comp.MatchType = kmsg.QuotasMatchTypeDefault
		default:
			comp.MatchType = kmsg.QuotasMatchTypeExact
			comp.Match = kmsg.StringPtr(c.names[i])
		}
		req.Components = append(req.Components, comp)
	}
	return req, nil
}

// describeClientQuotas returns the entities matching the command's filter.
func (c *configsCommand) describeClientQuotas(ctx context.Context) ([]kmsg.DescribeClientQuotasResponseEntry, error) {
	req, err := c.quotaFilter()
	if err != nil {
		return nil, err
	}
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, err
	}
	if err := newBrokerError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return nil, err
	}
	return resp.Entries, nil
}

// alterQuotas is alterQuotaConfigs: deleting a config the entity does not
// have is refused, values must parse as doubles.
func (c *configsCommand) alterQuotas(ctx context.Context, order []string, adds map[string]string, deletes []string) error {
	if len(c.types) != len(c.names) {
		return &kafkaError{Msg: "Exactly one entity name must be specified for every entity type"}
	}
	entries, err := c.describeClientQuotas(ctx)
	if err != nil {
		return err
	}
	old := map[string]bool{}
	if len(entries) > 0 {
		for _, v := range entries[0].Values {
			old[v.Key] = true
		}
	}
	var invalid []string
	for _, k := range deletes {
		if !old[k] {
			invalid = append(invalid, k)
		}
	}
	if len(invalid) > 0 {
		return &kafkaError{Msg: "Invalid config(s): " + strings.Join(invalid, ",")}
	}
	req := kmsg.NewPtrAlterClientQuotasRequest()
	e := kmsg.NewAlterClientQuotasRequestEntry()
	for i, t := range c.types {
		en := kmsg.NewAlterClientQuotasRequestEntryEntity()
		en.Type = quotaEntityType(t)
		if c.names[i] != "" {
			en.Name = kmsg.StringPtr(c.names[i])
		}
		e.Entity = append(e.Entity, en)
	}
	for _, k := range order {
		v, err := strconv.ParseFloat(strings.TrimSpace(adds[k]), 64)
		if err != nil {
			return &kafkaError{Msg: fmt.Sprintf("Cannot parse quota configuration value for %s: %s", k, adds[k])}
		}
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		op.Key, op.Value = k, v
		e.Ops = append(e.Ops, op)
	}
	for _, k := range deletes {
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		op.Key, op.Remove = k, true
		e.Ops = append(e.Ops, op)
	}
	req.Entries = append(req.Entries, e)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return err
	}
	for _, r := range resp.Entries {
		if err := newBrokerError(r.ErrorCode, r.ErrorMessage); err != nil {
			return err
		}
	}
	return nil
}

// describeQuotas prints the quota configs of the matching entities
// (describeQuotaConfigs).
func (c *configsCommand) describeQuotas(ctx context.Context) error {
	entries, err := c.describeClientQuotas(ctx)
	if err != nil {
		return err
	}
	// The admin client's result: a HashMap of entities, each a HashMap
	// of values, both sized to their entries.
	hashes := make([]uint32, len(entries))
	for i, e := range entries {
		var h uint32
		for _, en := range e.Entity {
			var vh uint32
			if en.Name != nil {
				vh = javaStringHash(*en.Name)
			}
			h += javaStringHash(en.Type) ^ vh
		}
		hashes[i] = h
	}
	w := c.env.Stdout
	for _, i := range javaSizedHashOrder(hashes, len(entries)) {
		e := entries[i]
		var parts []string
		for _, typ := range []string{quota.EntityUser, quota.EntityClientID, quota.EntityIP} {
			for _, en := range e.Entity {
				if en.Type != typ {
					continue
				}
				label := map[string]string{quota.EntityUser: "user-principal", quota.EntityClientID: "client-id", quota.EntityIP: "ip"}[typ]
				if en.Name != nil {
					parts = append(parts, fmt.Sprintf("%s '%s'", label, *en.Name))
				} else {
					parts = append(parts, "the default "+label)
				}
			}
		}
		vh := make([]uint32, len(e.Values))
		for j, v := range e.Values {
			vh[j] = javaStringHash(v.Key)
		}
		var values []string
		for _, j := range javaSizedHashOrder(vh, len(e.Values)) {
			values = append(values, e.Values[j].Key+"="+javaFloatString(e.Values[j].Value, 64))
		}
		fmt.Fprintf(w, "Quota configs for %s are %s\n", strings.Join(parts, ", "), strings.Join(values, ", "))
	}
	return nil
}

// describeQuotaEntity describes users or clients (their quotas, then, for
// named users only, their SCRAM credentials) or ips
// (describeClientQuotaAndUserScramCredentialConfigs).
func (c *configsCommand) describeQuotaEntity(ctx context.Context) error {
	if err := c.describeQuotas(ctx); err != nil {
		return err
	}
	if c.types[0] == entityIPs || slices.Contains(c.types, entityClients) || slices.Contains(c.names, "") {
		return nil
	}
	return c.describeUsers(ctx)
}

// javaSizedHashOrder returns the indexes of keys with hashes, inserted
// in order into a java.util.HashMap created with initialCapacity, in the
// map's iteration order: by bucket of the final table, then insertion
// (javaHashOrder is the default-capacity case).
func javaSizedHashOrder(hashes []uint32, initialCapacity int) []int {
	n := 1
	for n < initialCapacity {
		n <<= 1
	}
	threshold := int(math.Floor(float64(n) * 0.75))
	for size := 1; size <= len(hashes); size++ {
		if size > threshold {
			n <<= 1
			threshold = int(math.Floor(float64(n) * 0.75))
		}
	}
	bucket := func(h uint32) int { return int((h ^ (h >> 16)) & uint32(n-1)) }
	idx := make([]int, len(hashes))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return bucket(hashes[a]) - bucket(hashes[b]) })
	return idx
}
