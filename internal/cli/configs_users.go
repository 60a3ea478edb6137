package cli

// kafka-configs for --entity-type users: SCRAM credentials (ConfigCommand's
// alterUserScramCredentialConfigs and describeClientQuotaAndUserScramCredentialConfigs).

import (
	"context"
	"crypto/rand"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/security"
)

// defaultScramIterations is ConfigCommand's DefaultScramIterations.
const defaultScramIterations = 4096

// userQuotaConfigs are Kafka's user and client quota configs
// (QuotaConfig.userAndClientQuotaConfigs; configs_quotas.go).
var userQuotaConfigs = []string{"producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate"}

// scramCredential is ConfigCommand's credential pattern.
var scramCredential = regexp.MustCompile(`^(?:iterations=(-?[0-9]*),)?password=(.*)$`)

// javaSet prints names as a Scala Set does.
func javaSet(names []string) string { return "Set(" + strings.Join(names, ", ") + ")" }

// alterUser sets and deletes a user's SCRAM credentials; the config
// names were checked by alterQuotaEntity (configs_quotas.go).
func (c *configsCommand) alterUser(ctx context.Context, user string, order []string, adds map[string]string, deletes []string) error {
	if user == "" {
		return &kafkaError{Msg: "The use of --entity-default or --user-defaults is not allowed with User SCRAM Credentials using --bootstrap-server."}
	}
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	for _, k := range deletes {
		m, _ := security.ParseScramMechanism(k)
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = user, int8(m)
		req.Deletions = append(req.Deletions, d)
	}
	for _, k := range order {
		m, ok := security.ParseScramMechanism(k)
		if !ok {
			continue
		}
		match := scramCredential.FindStringSubmatch(adds[k])
		if match == nil {
			return &kafkaError{Msg: fmt.Sprintf("Invalid credential property %s=%s", k, adds[k])}
		}
		iterations := defaultScramIterations
		if match[1] != "" && match[1] != "-1" {
			n, err := strconv.Atoi(match[1])
			if err != nil {
				return &kafkaError{Msg: fmt.Sprintf("Invalid credential property %s=%s", k, adds[k])}
			}
			iterations = n
		}
		if iterations < security.ScramMinIterations {
			return &kafkaError{Msg: fmt.Sprintf("Iterations %d is less than the minimum %d required for %s", iterations, security.ScramMinIterations, k)}
		}
		salt := make([]byte, 32)
		rand.Read(salt)
		salted, err := security.SaltedPassword(m, match[2], salt, iterations)
		if err != nil {
			return err
		}
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = user, int8(m), int32(iterations), salt, salted
		req.Upsertions = append(req.Upsertions, u)
	}
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return err
	}
	for _, r := range resp.Results {
		if err := newBrokerError(r.ErrorCode, r.ErrorMessage); err != nil {
			return err
		}
	}
	return nil
}

// describeUsers prints the SCRAM credentials of the named users (every
// user with one when none is named). Users without credentials print
// nothing, as the admin client leaves them out.
func (c *configsCommand) describeUsers(ctx context.Context) error {
	if slices.Contains(c.names, "") {
		return nil // the default user has no SCRAM credentials
	}
	req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, n := range c.names {
		u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		u.Name = n
		req.Users = append(req.Users, u)
	}
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return err
	}
	if err := newBrokerError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return err
	}
	w := c.env.Stdout
	for _, r := range resp.Results {
		if r.ErrorCode == kerr.ResourceNotFound.Code {
			continue
		}
		if err := newBrokerError(r.ErrorCode, r.ErrorMessage); err != nil {
			be := err.(*brokerError)
			cls := javaExceptionClass(be.Code)
			if i := strings.LastIndex(cls, "."); i >= 0 {
				cls = cls[i+1:]
			}
			fmt.Fprintf(w, "Error retrieving SCRAM credential configs for user-principal '%s': %s: %s\n", r.User, cls, be.Message)
			continue
		}
		infos := make([]string, len(r.CredentialInfos))
		for i, ci := range r.CredentialInfos {
			infos[i] = fmt.Sprintf("%s=iterations=%d", security.ScramMechanism(ci.Mechanism), ci.Iterations)
		}
		fmt.Fprintf(w, "SCRAM credential configs for user-principal '%s' are %s\n", r.User, strings.Join(infos, ", "))
	}
	return nil
}
