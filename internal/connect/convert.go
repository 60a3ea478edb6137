package connect

import (
	"fmt"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/connect/transform"
)

// converters are a task's key, value and header converters.
type converters struct {
	key, value sdk.Converter
	header     sdk.HeaderConverter
	// keyClass, valueClass and headerClass name the converters' classes,
	// for error reports.
	keyClass, valueClass, headerClass string
}

// newConverters builds a task's converters as Kafka's Plugins.newConverter
// does: a converter class in the connector's configuration wins, with the
// connector's "key.converter." (…) properties; otherwise the worker's class
// with the worker's properties.
func (w *Worker) newConverters(connConfig map[string]string) (converters, error) {
	var c converters
	key, keyClass, err := w.newConverter(connConfig, KeyConverterConfig, w.cfg.KeyConverter, true)
	if err != nil {
		return c, err
	}
	value, valueClass, err := w.newConverter(connConfig, ValueConverterConfig, w.cfg.ValueConverter, false)
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
	return converters{key: key, value: value, header: hc, keyClass: keyClass, valueClass: valueClass, headerClass: p.Class}, nil
}

func (w *Worker) newConverter(connConfig map[string]string, prop, workerClass string, isKey bool) (sdk.Converter, string, error) {
	class, props := workerClass, sdk.WithPrefix(w.cfg.Props, prop+".")
	if cc := connConfig[prop]; cc != "" {
		class, props = cc, sdk.WithPrefix(connConfig, prop+".")
	}
	p, err := sdk.LookupPlugin(class, sdk.PluginConverter)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", prop, err)
	}
	c, ok := p.New().(sdk.Converter)
	if !ok {
		return nil, "", fmt.Errorf("%s: %s is not a Converter", prop, class)
	}
	if isKey {
		props["converter.type"] = "key"
	} else {
		props["converter.type"] = "value"
	}
	if err := c.Configure(props, isKey); err != nil {
		return nil, "", fmt.Errorf("configure %s %s: %w", prop, class, err)
	}
	return c, p.Class, nil
}

// newTransformChain builds a connector's transformation chain (Kafka's
// ConnectorConfig.transformations): the "transforms" aliases in order,
// each with its predicate. Source tasks apply it to polled records before
// the converters, sink tasks to converted records before Put; each stage
// runs through the task's error handler (stage TRANSFORMATION).
func newTransformChain(connConfig map[string]string) (*transform.Chain, error) {
	return transform.NewChain(connConfig)
}
