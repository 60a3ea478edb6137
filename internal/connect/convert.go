package connect

import (
	"fmt"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// converters are a task's key, value and header converters.
type converters struct {
	key, value sdk.Converter
	header     sdk.HeaderConverter
}

// newConverters builds a task's converters as Kafka's Plugins.newConverter
// does: a converter class in the connector's configuration wins, with the
// connector's "key.converter." (…) properties; otherwise the worker's class
// with the worker's properties.
func (w *Worker) newConverters(connConfig map[string]string) (converters, error) {
	var c converters
	key, err := w.newConverter(connConfig, KeyConverterConfig, w.cfg.KeyConverter, true)
	if err != nil {
		return c, err
	}
	value, err := w.newConverter(connConfig, ValueConverterConfig, w.cfg.ValueConverter, false)
	if err != nil {
		return c, err
	}
	class, props := w.cfg.HeaderConverter, sdk.WithPrefix(w.cfg.Props, HeaderConverterConfig+".")
	if cc := connConfig[HeaderConverterConfig]; cc != "" {
		class, props = cc, sdk.WithPrefix(connConfig, HeaderConverterConfig+".")
	}
	p, err := sdk.LookupPlugin(class, sdk.PluginHeaderConverter)
	if err != nil {
		return c, fmt.Errorf("header converter: %w", err)
	}
	hc, ok := p.New().(sdk.HeaderConverter)
	if !ok {
		return c, fmt.Errorf("header converter %s is not a HeaderConverter", class)
	}
	if err := hc.Configure(props); err != nil {
		return c, fmt.Errorf("configure header converter %s: %w", class, err)
	}
	return converters{key: key, value: value, header: hc}, nil
}

func (w *Worker) newConverter(connConfig map[string]string, prop, workerClass string, isKey bool) (sdk.Converter, error) {
	class, props := workerClass, sdk.WithPrefix(w.cfg.Props, prop+".")
	if cc := connConfig[prop]; cc != "" {
		class, props = cc, sdk.WithPrefix(connConfig, prop+".")
	}
	p, err := sdk.LookupPlugin(class, sdk.PluginConverter)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prop, err)
	}
	c, ok := p.New().(sdk.Converter)
	if !ok {
		return nil, fmt.Errorf("%s: %s is not a Converter", prop, class)
	}
	if isKey {
		props["converter.type"] = "key"
	} else {
		props["converter.type"] = "value"
	}
	if err := c.Configure(props, isKey); err != nil {
		return nil, fmt.Errorf("configure %s %s: %w", prop, class, err)
	}
	return c, nil
}

// transformation is one stage of a connector's transformation chain
// (Kafka's TransformationStage, a single message transform with its
// predicate). It sees the part of a record common to source and sink
// records; keep false drops the record.
type transformation interface {
	apply(r sdk.Record) (out sdk.Record, keep bool, err error)
}

// transformChain is a connector's transformations, applied in order to
// each record: to source records before conversion, to sink records after
// it (Kafka's TransformationChain). Gregor has no transformations yet —
// validation refuses a non-empty "transforms" — so chains are empty; SMTs
// add stages here.
type transformChain []transformation

func newTransformChain(connConfig map[string]string) (transformChain, error) {
	if aliases := connConfig[transformsConfig]; trimmed(aliases) != "" {
		return nil, fmt.Errorf("transformations are not supported yet (transforms=%s)", aliases)
	}
	return nil, nil
}

func (c transformChain) apply(r sdk.Record) (sdk.Record, bool, error) {
	for _, t := range c {
		out, keep, err := t.apply(r)
		if err != nil || !keep {
			return r, false, err
		}
		r = out
	}
	return r, true, nil
}
