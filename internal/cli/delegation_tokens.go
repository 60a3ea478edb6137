package cli

// kafka-delegation-tokens: Kafka's DelegationTokenCommand (KIP-48,
// KIP-373).
//
//	kafka-delegation-tokens --bootstrap-server HOST:PORT --command-config FILE
//	    --create   --max-life-time-period MS [--renewer-principal P]... [--owner-principal P]
//	    --renew    --hmac HMAC --renew-time-period MS
//	    --expire   --hmac HMAC --expiry-time-period MS
//	    --describe [--owner-principal P]...
//
// Principals are "Type:name" ("User:alice"); HMACs are base64, as
// --create and --describe print them. Output, as Kafka's tool prints it
// (dates yyyy-MM-dd'T'HH:mm in local time; the renew and expire lines
// end without a newline, as Kafka's do):
//
//	Calling create token operation with renewers :[User:bob] , max-life-time-period :-1
//	Created delegation token with tokenId : <id>
//
//	TOKENID         HMAC                           OWNER           REQUESTER       RENEWERS                  ISSUEDATE       EXPIRYDATE      MAXDATE
//
//	<id>            <base64 hmac>                  User:alice      User:alice      [User:bob]                2026-11-26T12:00 2026-11-27T12:00 2026-12-03T12:00
//
// --describe without --owner-principal lists the caller's tokens and
// those it may describe (the tool's documented behaviour: the request's
// owners are null).

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-delegation-tokens",
		Summary: "Create, renew, expire or describe delegation tokens (kafka-delegation-tokens.sh).",
		Run:     runDelegationTokens,
	})
}

// tokenInfo is one token as the tool prints it.
type tokenInfo struct {
	id, hmac                string
	owner, requester        string
	renewers                []string
	issue, expiry, maxStamp int64
}

// tokenDate is Kafka's SimpleDateFormat("yyyy-MM-dd'T'HH:mm") in the
// local time zone.
func tokenDate(ms int64) string { return time.UnixMilli(ms).Format("2006-01-02T15:04") }

// printTokens is Kafka's DelegationTokenCommand.printToken.
func printTokens(w io.Writer, tokens []tokenInfo) {
	const row = "\n%-15s %-30s %-15s %-15s %-25s %-15s %-15s %-15s\n"
	fmt.Fprintf(w, row, "TOKENID", "HMAC", "OWNER", "REQUESTER", "RENEWERS", "ISSUEDATE", "EXPIRYDATE", "MAXDATE")
	for _, t := range tokens {
		fmt.Fprintf(w, row, t.id, t.hmac, t.owner, t.requester, "["+strings.Join(t.renewers, ", ")+"]",
			tokenDate(t.issue), tokenDate(t.expiry), tokenDate(t.maxStamp))
	}
}

// parseTokenPrincipals parses "Type:name" principals as Kafka's
// SecurityUtils.parseKafkaPrincipal.
func parseTokenPrincipals(ps []string) ([][2]string, error) {
	var out [][2]string
	for _, p := range ps {
		typ, name, ok := strings.Cut(strings.TrimSpace(p), ":")
		if !ok || typ == "" {
			return nil, &kafkaError{Msg: "Invalid principal: " + strings.TrimSpace(p) + ". Principal must be of the form principalType:name"}
		}
		out = append(out, [2]string{typ, name})
	}
	return out, nil
}

func principalList(ps [][2]string) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p[0] + ":" + p[1]
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func runDelegationTokens(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("kafka-delegation-tokens", "This tool helps to create, renew, expire, or describe delegation tokens.")
	bootstrap := fs.String("bootstrap-server", "String", "REQUIRED: server(s) to use for bootstrapping.")
	commandConfig := fs.String("command-config", "String", "REQUIRED: A property file containing configs to be passed to Admin Client. Token management operations are allowed in secure mode only. This config file is used to pass security related configs.")
	fs.Bool("create", "Create a new delegation token. Use --renewer-principal option to pass renewer principals.")
	fs.Bool("renew", "Renew delegation token. Use --renew-time-period option to set renew time period.")
	fs.Bool("expire", "Expire delegation token. Use --expiry-time-period option to expire the token.")
	fs.Bool("describe", "Describe delegation tokens for the given principals. Use --owner-principal to pass owner/renewer principals. If --owner-principal option is not supplied, all the user-owned tokens and tokens where the user has Describe permissions will be returned.")
	owners := fs.Strings("owner-principal", "String", "owner is a Kafka principal. They should be in principalType:name format.")
	renewers := fs.Strings("renewer-principal", "String", "renewer is a Kafka principal. They should be in principalType:name format.")
	maxLife := fs.Int("max-life-time-period", "Long", "Max life period for the token in milliseconds. If the value is -1, then token max life time will default to the server side config value of (delegation.token.max.lifetime.ms).")
	renewPeriod := fs.Int("renew-time-period", "Long", "Renew time period in milliseconds. If the value is -1, then the renew time period will default to the server side config value of (delegation.token.expiry.time.ms).")
	expiryPeriod := fs.Int("expiry-time-period", "Long", "Expiry time period in milliseconds. If the value is -1, then the token will get invalidated immediately.")
	hmac := fs.String("hmac", "String", "HMAC of the delegation token")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	actions := fs.Given("create", "renew", "expire", "describe")
	if len(actions) != 1 {
		return usagef("Command must include exactly one action: --create, --renew, --expire or --describe")
	}
	action := actions[0]
	required := map[string][]string{
		"create": {"max-life-time-period"},
		"renew":  {"hmac", "renew-time-period"},
		"expire": {"hmac", "expiry-time-period"},
	}
	for _, r := range append([]string{"bootstrap-server", "command-config"}, required[action]...) {
		if !fs.Changed(r) {
			return usagef("Missing required argument \"[%s]\"", r)
		}
	}
	invalid := map[string][]string{ // Kafka's checkInvalidArgs
		"create":   {"hmac", "renew-time-period", "expiry-time-period"},
		"renew":    {"renewer-principal", "max-life-time-period", "expiry-time-period", "owner-principal"},
		"expire":   {"max-life-time-period", "renew-time-period", "owner-principal"},
		"describe": {"renew-time-period", "max-life-time-period", "hmac", "expiry-time-period"},
	}
	for _, o := range invalid[action] {
		if fs.Changed(o) {
			return usagef("Option \"[%s]\" can't be used with option \"[%s]\"", action, o)
		}
	}
	ownerPs, err := parseTokenPrincipals(*owners)
	if err != nil {
		return err
	}
	renewerPs, err := parseTokenPrincipals(*renewers)
	if err != nil {
		return err
	}
	conn := adminFlags{bootstrap: bootstrap, commandConfig: commandConfig}
	cl, err := conn.connect(env)
	if err != nil {
		return err
	}
	defer cl.Close()
	fail := func(code int16) error { return &kafkaError{Msg: javaErrorString(newBrokerError(code, nil))} }

	switch action {
	case "create":
		fmt.Fprintf(env.Stdout, "Calling create token operation with renewers :%s , max-life-time-period :%d\n", principalList(renewerPs), *maxLife)
		req := kmsg.NewPtrCreateDelegationTokenRequest()
		req.MaxLifetimeMillis = *maxLife
		for _, p := range renewerPs {
			r := kmsg.NewCreateDelegationTokenRequestRenewer()
			r.PrincipalType, r.PrincipalName = p[0], p[1]
			req.Renewers = append(req.Renewers, r)
		}
		if len(ownerPs) > 0 {
			req.OwnerPrincipalType, req.OwnerPrincipalName = kmsg.StringPtr(ownerPs[0][0]), kmsg.StringPtr(ownerPs[0][1])
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return &kafkaError{Msg: javaErrorString(err), Err: err}
		}
		if resp.ErrorCode != 0 {
			return fail(resp.ErrorCode)
		}
		fmt.Fprintf(env.Stdout, "Created delegation token with tokenId : %s\n", resp.TokenID)
		t := tokenInfo{id: resp.TokenID, hmac: base64.StdEncoding.EncodeToString(resp.HMAC),
			owner: resp.PrincipalType + ":" + resp.PrincipalName, requester: resp.TokenRequesterPrincipalType + ":" + resp.TokenRequesterPrincipalName,
			issue: resp.IssueTimestamp, expiry: resp.ExpiryTimestamp, maxStamp: resp.MaxTimestamp}
		for _, p := range renewerPs {
			t.renewers = append(t.renewers, p[0]+":"+p[1])
		}
		printTokens(env.Stdout, []tokenInfo{t})
	case "renew", "expire":
		mac, err := base64.StdEncoding.DecodeString(*hmac)
		if err != nil {
			return &kafkaError{Msg: "Illegal base64 character in --hmac: " + err.Error()}
		}
		var code int16
		var expiry int64
		if action == "renew" {
			fmt.Fprintf(env.Stdout, "Calling renew token operation with hmac :%s , renew-time-period :%d\n", *hmac, *renewPeriod)
			req := kmsg.NewPtrRenewDelegationTokenRequest()
			req.HMAC, req.RenewTimeMillis = mac, *renewPeriod
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return &kafkaError{Msg: javaErrorString(err), Err: err}
			}
			code, expiry = resp.ErrorCode, resp.ExpiryTimestamp
		} else {
			fmt.Fprintf(env.Stdout, "Calling expire token operation with hmac :%s , expire-time-period :%d\n", *hmac, *expiryPeriod)
			req := kmsg.NewPtrExpireDelegationTokenRequest()
			req.HMAC, req.ExpiryPeriodMillis = mac, *expiryPeriod
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return &kafkaError{Msg: javaErrorString(err), Err: err}
			}
			code, expiry = resp.ErrorCode, resp.ExpiryTimestamp
		}
		if code != 0 {
			return fail(code)
		}
		fmt.Fprintf(env.Stdout, "Completed %s operation. New expiry date : %s", action, tokenDate(expiry))
	case "describe":
		if len(ownerPs) == 0 {
			fmt.Fprintln(env.Stdout, "Calling describe token operation for current user.")
		} else {
			fmt.Fprintf(env.Stdout, "Calling describe token operation for owners: %s\n", principalList(ownerPs))
		}
		req := kmsg.NewPtrDescribeDelegationTokenRequest()
		for _, p := range ownerPs {
			o := kmsg.NewDescribeDelegationTokenRequestOwner()
			o.PrincipalType, o.PrincipalName = p[0], p[1]
			req.Owners = append(req.Owners, o)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return &kafkaError{Msg: javaErrorString(err), Err: err}
		}
		if resp.ErrorCode != 0 {
			return fail(resp.ErrorCode)
		}
		var tokens []tokenInfo
		for _, d := range resp.TokenDetails {
			t := tokenInfo{id: d.TokenID, hmac: base64.StdEncoding.EncodeToString(d.HMAC),
				owner: d.PrincipalType + ":" + d.PrincipalName, requester: d.TokenRequesterPrincipalType + ":" + d.TokenRequesterPrincipalName,
				issue: d.IssueTimestamp, expiry: d.ExpiryTimestamp, maxStamp: d.MaxTimestamp}
			for _, r := range d.Renewers {
				t.renewers = append(t.renewers, r.PrincipalType+":"+r.PrincipalName)
			}
			tokens = append(tokens, t)
		}
		slices.SortFunc(tokens, func(a, b tokenInfo) int { return strings.Compare(a.id, b.id) })
		fmt.Fprintf(env.Stdout, "Total number of tokens : %d", len(tokens))
		printTokens(env.Stdout, tokens)
	}
	return nil
}
