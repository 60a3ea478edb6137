package connect

import (
	"strings"
	"testing"
)

func findConfig(infos *ConfigInfos, name string) *ConfigInfo {
	for i := range infos.Configs {
		c := &infos.Configs[i]
		if (c.Definition != nil && c.Definition.Name == name) || (c.Definition == nil && c.Value != nil && c.Value.Name == name) {
			return c
		}
	}
	return nil
}

// Validation lists each transformation's and predicate's keys under
// "Transforms: <alias>" and "Predicates: <alias>", as Kafka's
// ConnectorConfig.enrich does.
func TestValidateTransforms(t *testing.T) {
	props := map[string]string{
		"connector.class": "FileStreamSource", "name": "x", "topic": "t",
		"transforms": "insert,route", "predicates": "isT",
		"transforms.insert.type":        "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.insert.topic.field": "src",
		"transforms.route.type":         "RegexRouter",
		"transforms.route.regex":        "(.*)",
		"transforms.route.replacement":  "$1-x",
		"transforms.route.predicate":    "isT",
		"predicates.isT.type":           "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
		"predicates.isT.pattern":        "t",
	}
	infos, err := validateConnectorConfig(props, nil)
	if err != nil {
		t.Fatal(err)
	}
	if infos.ErrorCount != 0 {
		t.Fatalf("errors: %+v", infos)
	}
	groups := strings.Join(infos.Groups, "|")
	if !strings.Contains(groups, "Transforms|Predicates") || !strings.HasSuffix(groups, "Transforms: insert|Transforms: route|Predicates: isT") {
		t.Fatalf("groups %s", groups)
	}
	typ := findConfig(infos, "transforms.insert.type")
	if typ == nil || typ.Definition.Type != "CLASS" || !typ.Definition.Required || *typ.Definition.Group != "Transforms: insert" ||
		typ.Definition.Order != 0 || *typ.Definition.DisplayName != "Transformation type for insert" ||
		typ.Definition.Documentation != "Class for the 'insert' transformation." || *typ.Value.Value != "org.apache.kafka.connect.transforms.InsertField$Value" {
		t.Fatalf("type key %+v %+v", typ.Definition, typ.Value)
	}
	pred := findConfig(infos, "transforms.insert.predicate")
	neg := findConfig(infos, "transforms.insert.negate")
	field := findConfig(infos, "transforms.insert.topic.field")
	if pred == nil || pred.Definition.Order != 1 || neg == nil || neg.Definition.Order != 2 || *neg.Definition.DefaultValue != "false" ||
		field == nil || field.Definition.Order != 3 || *field.Definition.DisplayName != "topic.field" || *field.Value.Value != "src" {
		t.Fatalf("embedded keys %+v %+v %+v", pred, neg, field)
	}
	if p := findConfig(infos, "predicates.isT.pattern"); p == nil || *p.Definition.Group != "Predicates: isT" || p.Definition.Order != 1 {
		t.Fatalf("predicate key %+v", p)
	}

	cases := []struct {
		change map[string]string
		key    string
		msg    string
	}{
		{map[string]string{"transforms.insert.type": ""}, "transforms.insert.type", "Class  could not be found."},
		{map[string]string{"transforms.insert.type": "com.example.Nope"}, "transforms.insert.type",
			"Invalid value com.example.Nope for configuration transforms.insert.type: Class com.example.Nope could not be found."},
		{map[string]string{"transforms.insert.type": "org.apache.kafka.connect.json.JsonConverter"}, "transforms.insert.type", "Not a Transformation"},
		{map[string]string{"transforms.insert.negate": "true"}, "transforms.insert.type",
			"Config 'transforms.insert.negate' was provided but there is no config 'transforms.insert.predicate' defining a predicate to be negated."},
		{map[string]string{"transforms.route.regex": "("}, "transforms.route.regex", "Invalid regex"},
		{map[string]string{"predicates.isT.pattern": ""}, "predicates.isT.pattern", "String must be non-empty"},
		{map[string]string{"transforms": "insert,insert"}, "transforms", "Duplicate alias provided."},
	}
	for _, c := range cases {
		p := map[string]string{}
		for k, v := range props {
			p[k] = v
		}
		for k, v := range c.change {
			p[k] = v
		}
		infos, err := validateConnectorConfig(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		ci := findConfig(infos, c.key)
		if ci == nil || ci.Value == nil || infos.ErrorCount != 1 || !strings.Contains(strings.Join(ci.Value.Errors, "\n"), c.msg) {
			t.Errorf("%v: %s has %+v (%d errors), want %q", c.change, c.key, ci, infos.ErrorCount, c.msg)
		}
	}
	// A missing type is reported on the type key.
	delete(props, "transforms.route.type")
	infos, _ = validateConnectorConfig(props, nil)
	if ci := findConfig(infos, "transforms.route.type"); infos.ErrorCount != 1 || ci == nil ||
		ci.Value.Errors[0] != `Missing required configuration "transforms.route.type" which has no default value.` {
		t.Fatalf("missing type: %+v", ci)
	}
}

// Sink connectors take the dead letter queue keys, and may not consume
// their own DLQ (SinkConnectorConfig.validate).
func TestValidateSinkErrorHandling(t *testing.T) {
	props := map[string]string{"connector.class": "FileStreamSink", "name": "s", "topics": "a,b", "errors.tolerance": "all",
		"errors.deadletterqueue.topic.name": "dlq", "errors.deadletterqueue.topic.replication.factor": "1",
		"errors.deadletterqueue.context.headers.enable": "true"}
	infos, err := validateConnectorConfig(props, nil)
	if err != nil || infos.ErrorCount != 0 {
		t.Fatalf("%+v %v", infos, err)
	}
	for name, def := range map[string]string{"errors.deadletterqueue.topic.replication.factor": "3", "errors.deadletterqueue.context.headers.enable": "false"} {
		if ci := findConfig(infos, name); ci == nil || *ci.Definition.DefaultValue != def || *ci.Definition.Group != "Error Handling" {
			t.Fatalf("%s: %+v", name, ci)
		}
	}
	props["topics"] = "a,dlq"
	infos, _ = validateConnectorConfig(props, nil)
	if infos.ErrorCount != 2 || !strings.Contains(findConfig(infos, "topics").Value.Errors[0], "The DLQ topic 'dlq' may not be included in the list of topics ('topics=[a, dlq]') consumed by the connector") {
		t.Fatalf("%+v", findConfig(infos, "topics").Value)
	}
	delete(props, "topics")
	props["topics.regex"] = "d.*"
	infos, _ = validateConnectorConfig(props, nil)
	if infos.ErrorCount != 2 || !strings.Contains(strings.Join(findConfig(infos, "errors.deadletterqueue.topic.name").Value.Errors, ""), "may not be included in the regex matching the topics ('topics.regex=d.*')") {
		t.Fatalf("%+v", infos)
	}
	props["errors.tolerance"] = "some"
	infos, _ = validateConnectorConfig(props, nil)
	if ci := findConfig(infos, "errors.tolerance"); len(ci.Value.Errors) != 1 {
		t.Fatalf("%+v", ci.Value)
	}
}
