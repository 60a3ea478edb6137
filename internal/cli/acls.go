package cli

// kafka-acls: Kafka's AclCommand, which adds, removes and lists ACLs
// through CreateAcls, DeleteAcls and DescribeAcls.
//
//	kafka-acls --bootstrap-server H:P [--command-config F] (--add | --remove | --list)
//	  resources:  --topic T... --group G... --cluster --transactional-id ID...
//	              --delegation-token TOKEN... --user-principal P...
//	              [--resource-pattern-type literal|prefixed (add) | any|match (remove, list)]
//	  entries:    --allow-principal P... [--allow-host H...] --deny-principal P... [--deny-host H...]
//	              --operation OP... (default All)
//	  shortcuts:  --producer (WRITE, DESCRIBE, CREATE on topics; WRITE, DESCRIBE on
//	              transactional ids; --idempotent: IDEMPOTENT_WRITE on the cluster)
//	              --consumer (READ, DESCRIBE on topics; READ on groups)
//	  --list [--principal P...]   --remove [--force]
//
// Output is Kafka's, one block per resource pattern:
//
//	Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`:
//	 	(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)
//
// followed, after --add and --remove, by the "Current ACLs for resource"
// listing of the resources named. Kafka prints the entries of a block in
// hash order; Gregor sorts them (by principal, host, operation,
// permission) and the blocks (by resource type, pattern type, name).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
)

func init() {
	register(&Command{
		Name:    "kafka-acls",
		Summary: "Add, remove and list ACLs (kafka-acls.sh).",
		Run:     runACLs,
	})
}

const aclsDescription = "This tool helps to manage acls on kafka."

// aclOptions are the parsed options of one kafka-acls run.
type aclOptions struct {
	fs                                      *FlagSet
	topics, groups, txnIDs, tokens, userPs  *[]string
	cluster, producer, consumer, idempotent *bool
	patternType                             *string
	allowPrincipals, denyPrincipals         *[]string
	allowHosts, denyHosts                   *[]string
	operations, listPrincipals              *[]string
	force                                   *bool
}

func runACLs(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("kafka-acls", aclsDescription)
	conn := addAdminFlags(fs)
	add := fs.Bool("add", "Indicates you are trying to add ACLs.")
	remove := fs.Bool("remove", "Indicates you are trying to remove ACLs.")
	list := fs.Bool("list", "List ACLs for the specified resource, use --topic <topic> or --group <group> or --cluster to specify a resource.")
	o := &aclOptions{fs: fs}
	o.topics = fs.Strings("topic", "topic", "topic to which ACLs should be added or removed. A value of '*' indicates ACL should apply to all topics.")
	o.groups = fs.Strings("group", "group", "Consumer Group to which the ACLs should be added or removed. A value of '*' indicates the ACLs should apply to all groups.")
	o.cluster = fs.Bool("cluster", "Add/Remove cluster ACLs.")
	o.txnIDs = fs.Strings("transactional-id", "transactional-id", "The transactionalId to which ACLs should be added or removed. A value of '*' indicates the ACLs should apply to all transactionalIds.")
	o.tokens = fs.Strings("delegation-token", "delegation-token", "Delegation token to which ACLs should be added or removed. A value of '*' indicates ACL should apply to all tokens.")
	o.userPs = fs.Strings("user-principal", "user-principal", "Specifies a user principal as a resource in relation with the operation. For instance one could grant CreateTokens or DescribeTokens permission on a given user principal.")
	o.patternType = fs.StringDefault("resource-pattern-type", "ANY|MATCH|LITERAL|PREFIXED", "LITERAL",
		"The type of the resource pattern or pattern filter. When adding acls, this should be a specific pattern type, e.g. 'literal' or 'prefixed'. When listing or removing acls, a specific pattern type can be used to list or remove acls from specific resource patterns, or use the filter values of 'any' or 'match', where 'any' will match any pattern type, but will match the resource name exactly, where as 'match' will perform pattern matching to list or remove all acls that affect the supplied resource(s). WARNING: 'match', when used in combination with the '--remove' switch, should be used with care.")
	o.allowPrincipals = fs.Strings("allow-principal", "allow-principal", "principal is in principalType:name format. Note that principalType must be supported by the Authorizer being used. For example, User:'*' is the wild card indicating all users.")
	o.denyPrincipals = fs.Strings("deny-principal", "deny-principal", "principal is in principalType:name format. By default anyone not added through --allow-principal is denied access. You only need to use this option as negation to already allowed set. Note that principalType must be supported by the Authorizer being used. For example if you wanted to allow access to all users in the system but not test-user you can define an ACL that allows access to User:'*' and specify --deny-principal=User:test@EXAMPLE.COM. AND PLEASE REMEMBER DENY RULES TAKES PRECEDENCE OVER ALLOW RULES.")
	o.listPrincipals = fs.Strings("principal", "principal", "List ACLs for the specified principal. principal is in principalType:name format. Note that principalType must be supported by the Authorizer being used. Multiple --principal option can be passed.")
	o.allowHosts = fs.Strings("allow-host", "allow-host", "Host from which principals listed in --allow-principal will have access. If you have specified --allow-principal then the default for this option will be set to '*' which allows access from all hosts.")
	o.denyHosts = fs.Strings("deny-host", "deny-host", "Host from which principals listed in --deny-principal will be denied access. If you have specified --deny-principal then the default for this option will be set to '*' which denies access from all hosts.")
	o.operations = fs.Strings("operation", "operation", "Operation that is being allowed or denied. Valid operation names are: Describe, DescribeConfigs, Alter, IdempotentWrite, Read, Delete, Create, ClusterAction, All, CreateTokens, DescribeTokens, Write, AlterConfigs (default: All)")
	o.producer = fs.Bool("producer", "Convenience option to add/remove ACLs for producer role. This will generate ACLs that allows WRITE,DESCRIBE and CREATE on topic.")
	o.consumer = fs.Bool("consumer", "Convenience option to add/remove ACLs for consumer role. This will generate ACLs that allows READ,DESCRIBE on topic and READ on group.")
	o.idempotent = fs.Bool("idempotent", "Enable idempotence for the producer. This should be used in combination with the --producer option. Note that idempotence is enabled automatically if the producer is authorized to a particular transactional-id.")
	o.force = fs.Bool("force", "Assume Yes to all queries and do not prompt.")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		return usagef("Found non-option arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := o.check(*add, *remove, *list); err != nil {
		return err
	}
	if strings.TrimSpace(*conn.bootstrap) == "" {
		return usagef("One of --bootstrap-server or --bootstrap-controller must be specified")
	}
	pt := acl.ParsePatternType(*o.patternType)
	if pt == acl.PatternUnknown {
		return usagef("Unrecognised pattern type %s", *o.patternType)
	}
	var cmd func(context.Context, *kgo.Client) error
	switch {
	case *add:
		if pt != acl.PatternLiteral && pt != acl.PatternPrefixed {
			return usagef("A '--resource-pattern-type' value of '%s' is not valid when adding acls.", pt)
		}
		bindings, err := o.entriesByResource(pt)
		if err != nil {
			return err
		}
		for _, b := range bindings {
			if len(b.entries) == 0 {
				return usagef("You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.")
			}
		}
		cmd = func(ctx context.Context, cl *kgo.Client) error { return o.addACLs(ctx, env, cl, bindings, pt) }
	case *remove:
		bindings, err := o.entriesByResource(pt)
		if err != nil {
			return err
		}
		cmd = func(ctx context.Context, cl *kgo.Client) error { return o.removeACLs(ctx, env, cl, bindings, pt) }
	default:
		cmd = func(ctx context.Context, cl *kgo.Client) error { return o.listACLs(ctx, env.Stdout, cl, pt) }
	}
	cl, err := conn.connect(env)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cmd(ctx, cl); err != nil {
		return &kafkaError{Msg: "Error while executing ACL command: " + javaErrorString(err), Stdout: true, Err: err}
	}
	return nil
}

// check is AclCommandOptions.checkArgs.
func (o *aclOptions) check(add, remove, list bool) error {
	n := 0
	for _, b := range []bool{add, remove, list} {
		if b {
			n++
		}
	}
	if n != 1 {
		return usagef("Command must include exactly one action: --list, --add, --remove. ")
	}
	fs := o.fs
	invalid := func(action string, with ...string) error {
		if given := fs.Given(with...); len(given) > 0 {
			return usagef("Option \"[%s]\" can't be used with option \"[%s]\"", action, strings.Join(given, "], ["))
		}
		return nil
	}
	if list {
		if err := invalid("list", "producer", "consumer", "allow-host", "allow-principal", "deny-host", "deny-principal"); err != nil {
			return err
		}
	} else if fs.Changed("principal") {
		return usagef("The --principal option is only available if --list is set")
	}
	if *o.producer && len(*o.topics) == 0 {
		return usagef("With --producer you must specify a --topic")
	}
	if *o.idempotent && !*o.producer {
		return usagef("The --idempotent option is only available if --producer is set")
	}
	if *o.consumer && (len(*o.topics) == 0 || len(*o.groups) == 0 || (!*o.producer && (*o.cluster || len(*o.txnIDs) > 0))) {
		return usagef("With --consumer you must specify a --topic and a --group and no --cluster or --transactional-id option should be specified.")
	}
	return nil
}

// aclBlock is the entries of one resource pattern (or filter, when
// removing).
type aclBlock struct {
	resource acl.Binding // the pattern fields only
	entries  []acl.Binding
}

// resourceFilters is getResourceFilter: the resources the options name.
// The cluster is named by --cluster, or by --idempotent with a literal
// pattern type.
func (o *aclOptions) resourceFilters(pt acl.PatternType) []acl.Binding {
	var out []acl.Binding
	add := func(t acl.ResourceType, names []string) {
		for _, n := range names {
			out = append(out, acl.Binding{ResourceType: t, ResourceName: strings.TrimSpace(n), PatternType: pt})
		}
	}
	add(acl.ResourceTopic, *o.topics)
	if pt == acl.PatternLiteral && (*o.cluster || *o.idempotent) {
		out = append(out, acl.Binding{ResourceType: acl.ResourceCluster, ResourceName: acl.ClusterName, PatternType: acl.PatternLiteral})
	}
	add(acl.ResourceGroup, *o.groups)
	add(acl.ResourceTransactionalID, *o.txnIDs)
	add(acl.ResourceDelegationToken, *o.tokens)
	add(acl.ResourceUser, *o.userPs)
	return out
}

// entries is getAcl: every (principal, operation, host) of the allow
// and deny options for ops.
func (o *aclOptions) entries(ops []acl.Operation) ([]acl.Binding, error) {
	var out []acl.Binding
	for _, side := range []struct {
		principals, hosts *[]string
		perm              acl.Permission
	}{{o.allowPrincipals, o.allowHosts, acl.Allow}, {o.denyPrincipals, o.denyHosts, acl.Deny}} {
		hosts := *side.hosts
		if len(hosts) == 0 {
			hosts = []string{acl.Wildcard}
		}
		for _, p := range *side.principals {
			p = strings.TrimSpace(p)
			if t, _, ok := strings.Cut(p, ":"); !ok || t == "" {
				return nil, usagef("expected a string in format principalType:principalName but got %s", p)
			}
			for _, op := range ops {
				for _, h := range hosts {
					out = append(out, acl.Binding{Principal: p, Host: strings.TrimSpace(h), Operation: op, Permission: side.perm})
				}
			}
		}
	}
	slices.SortFunc(out, acl.Compare)
	return slices.Compact(out), nil
}

// entriesByResource is getResourceFilterToAcls: the entries per
// resource, from --operation or the --producer/--consumer shortcuts.
func (o *aclOptions) entriesByResource(pt acl.PatternType) ([]aclBlock, error) {
	byResource := map[acl.Binding][]acl.Binding{}
	var order []acl.Binding
	put := func(r acl.Binding, ops []acl.Operation) error {
		es, err := o.entries(ops)
		if err != nil {
			return err
		}
		if _, seen := byResource[r]; !seen {
			order = append(order, r)
		}
		byResource[r] = append(byResource[r], es...)
		return nil
	}
	filters := o.resourceFilters(pt)
	if !*o.producer && !*o.consumer {
		var ops []acl.Operation
		for _, s := range *o.operations {
			op := acl.ParseOperation(strings.TrimSpace(s))
			if op == acl.OpUnknown || op == acl.OpAny {
				return nil, usagef("Unknown operation name %s", s)
			}
			ops = append(ops, op)
		}
		if len(ops) == 0 {
			ops = []acl.Operation{acl.OpAll}
		}
		for _, r := range filters {
			if err := put(r, ops); err != nil {
				return nil, err
			}
		}
	}
	if *o.producer {
		for _, r := range filters {
			switch r.ResourceType {
			case acl.ResourceTopic:
				if err := put(r, []acl.Operation{acl.OpWrite, acl.OpDescribe, acl.OpCreate}); err != nil {
					return nil, err
				}
			case acl.ResourceTransactionalID:
				if err := put(r, []acl.Operation{acl.OpWrite, acl.OpDescribe}); err != nil {
					return nil, err
				}
			}
		}
		if *o.idempotent {
			c := acl.Binding{ResourceType: acl.ResourceCluster, ResourceName: acl.ClusterName, PatternType: acl.PatternLiteral}
			if err := put(c, []acl.Operation{acl.OpIdempotentWrite}); err != nil {
				return nil, err
			}
		}
	}
	if *o.consumer {
		for _, r := range filters {
			switch r.ResourceType {
			case acl.ResourceTopic:
				if err := put(r, []acl.Operation{acl.OpRead, acl.OpDescribe}); err != nil {
					return nil, err
				}
			case acl.ResourceGroup:
				if err := put(r, []acl.Operation{acl.OpRead}); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(order) == 0 {
		return nil, usagef("You must provide at least one resource: --topic <topic> or --cluster or --group <group> or --delegation-token <Delegation Token ID>")
	}
	var out []aclBlock
	for _, r := range order {
		es := byResource[r]
		slices.SortFunc(es, acl.Compare)
		es = slices.Compact(es)
		for _, e := range es {
			if !slices.Contains(acl.SupportedOperations(r.ResourceType), e.Operation) {
				var names []string
				for _, op := range acl.SupportedOperations(r.ResourceType) {
					names = append(names, op.String())
				}
				return nil, usagef("ResourceType %s only supports operations %s", r.ResourceType, strings.Join(names, ","))
			}
		}
		out = append(out, aclBlock{resource: r, entries: es})
	}
	return out, nil
}

// printBlock writes one of Kafka's blocks: the title, then each entry
// after a tab, the way AclCommand's println(s"$title $Newline ${...}
// $Newline") lays them out.
func printBlock(w io.Writer, title string, entries []acl.Binding) {
	lines := make([]string, len(entries))
	for i, e := range entries {
		lines[i] = "\t" + e.EntryString()
	}
	fmt.Fprintf(w, "%s \n %s \n\n", title, strings.Join(lines, "\n"))
}

func (o *aclOptions) addACLs(ctx context.Context, env *Env, cl *kgo.Client, blocks []aclBlock, pt acl.PatternType) error {
	for _, b := range blocks {
		printBlock(env.Stdout, "Adding ACLs for resource `"+b.resource.PatternString()+"`:", b.entries)
		req := kmsg.NewPtrCreateACLsRequest()
		for _, e := range b.entries {
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName = kmsg.ACLResourceType(b.resource.ResourceType), b.resource.ResourceName
			c.ResourcePatternType = kmsg.ACLResourcePatternType(b.resource.PatternType)
			c.Principal, c.Host = e.Principal, e.Host
			c.Operation, c.PermissionType = kmsg.ACLOperation(e.Operation), kmsg.ACLPermissionType(e.Permission)
			req.Creations = append(req.Creations, c)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, r := range resp.Results {
			if err := newBrokerError(r.ErrorCode, r.ErrorMessage); err != nil {
				return err
			}
		}
	}
	return o.listACLs(ctx, env.Stdout, cl, pt)
}

func (o *aclOptions) removeACLs(ctx context.Context, env *Env, cl *kgo.Client, blocks []aclBlock, pt acl.PatternType) error {
	in := bufio.NewReader(env.Stdin)
	confirm := func(msg string) bool {
		if *o.force {
			return true
		}
		fmt.Fprintln(env.Stdout, msg)
		line, _ := in.ReadString('\n')
		return strings.EqualFold(strings.TrimSpace(line), "y")
	}
	for _, b := range blocks {
		filter := filterString(b.resource)
		req := kmsg.NewPtrDeleteACLsRequest()
		base := kmsg.NewDeleteACLsRequestFilter()
		base.ResourceType, base.ResourcePatternType = kmsg.ACLResourceType(b.resource.ResourceType), kmsg.ACLResourcePatternType(b.resource.PatternType)
		base.ResourceName = kmsg.StringPtr(b.resource.ResourceName)
		base.Operation, base.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		if len(b.entries) == 0 {
			if !confirm("Are you sure you want to delete all ACLs for resource filter `" + filter + "`? (y/n)") {
				continue
			}
			req.Filters = append(req.Filters, base)
		} else {
			lines := make([]string, len(b.entries))
			for i, e := range b.entries {
				lines[i] = "\t" + e.EntryString()
			}
			if !confirm("Are you sure you want to remove ACLs: \n " + strings.Join(lines, "\n") + " \n from resource filter `" + filter + "`? (y/n)") {
				continue
			}
			for _, e := range b.entries {
				f := base
				f.Principal, f.Host = kmsg.StringPtr(e.Principal), kmsg.StringPtr(e.Host)
				f.Operation, f.PermissionType = kmsg.ACLOperation(e.Operation), kmsg.ACLPermissionType(e.Permission)
				req.Filters = append(req.Filters, f)
			}
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, r := range resp.Results {
			if err := newBrokerError(r.ErrorCode, r.ErrorMessage); err != nil {
				return err
			}
		}
	}
	return o.listACLs(ctx, env.Stdout, cl, pt)
}

// filterString is ResourcePatternFilter.toString.
func filterString(r acl.Binding) string {
	return fmt.Sprintf("ResourcePattern(resourceType=%s, name=%s, patternType=%s)", r.ResourceType, r.ResourceName, r.PatternType)
}

// listACLs prints the ACLs of the named resources (all ACLs when none is
// named), per resource pattern; with --principal, per principal.
func (o *aclOptions) listACLs(ctx context.Context, w io.Writer, cl *kgo.Client, pt acl.PatternType) error {
	filters := o.resourceFilters(pt)
	var found []acl.Binding
	describe := func(f *kmsg.DescribeACLsRequest) error {
		resp, err := f.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := newBrokerError(resp.ErrorCode, resp.ErrorMessage); err != nil {
			return err
		}
		for _, r := range resp.Resources {
			for _, a := range r.ACLs {
				found = append(found, acl.Binding{
					ResourceType: acl.ResourceType(r.ResourceType), ResourceName: r.ResourceName, PatternType: acl.PatternType(r.ResourcePatternType),
					Principal: a.Principal, Host: a.Host, Operation: acl.Operation(a.Operation), Permission: acl.Permission(a.PermissionType),
				})
			}
		}
		return nil
	}
	newReq := func() *kmsg.DescribeACLsRequest {
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		return req
	}
	if len(filters) == 0 {
		if err := describe(newReq()); err != nil {
			return err
		}
	}
	for _, f := range filters {
		req := newReq()
		req.ResourceType, req.ResourceName = kmsg.ACLResourceType(f.ResourceType), kmsg.StringPtr(f.ResourceName)
		req.ResourcePatternType = kmsg.ACLResourcePatternType(f.PatternType)
		if err := describe(req); err != nil {
			return err
		}
	}
	slices.SortFunc(found, acl.Compare)
	found = slices.Compact(found)
	printResources := func(bs []acl.Binding) {
		for len(bs) > 0 {
			n := 1
			for n < len(bs) && bs[n].ResourceType == bs[0].ResourceType && bs[n].PatternType == bs[0].PatternType && bs[n].ResourceName == bs[0].ResourceName {
				n++
			}
			printBlock(w, "Current ACLs for resource `"+bs[0].PatternString()+"`:", bs[:n])
			bs = bs[n:]
		}
	}
	if len(*o.listPrincipals) == 0 {
		printResources(found)
		return nil
	}
	for _, p := range *o.listPrincipals {
		fmt.Fprintf(w, "ACLs for principal `%s`\n", p)
		printResources(slices.DeleteFunc(slices.Clone(found), func(b acl.Binding) bool { return b.Principal != p }))
	}
	return nil
}
