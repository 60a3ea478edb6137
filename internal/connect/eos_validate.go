package connect

import (
	"strings"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// Messages of Kafka's DistributedHerder.validateSourceConnectorConfig.
const (
	msgEOSWorkerDisabled   = "This worker does not have exactly-once source support enabled."
	msgEOSNotImplemented   = "The connector does not implement the API required for preflight validation of exactly-once source support. Please consult the documentation for the connector to determine whether it supports exactly-once semantics, and then consider reconfiguring the connector to use the value \"requested\" for this property (which will disable this preflight check and allow the connector to be created)."
	msgEOSUnsupported      = "The connector does not support exactly-once semantics with the provided configuration."
	msgBoundaryUnsupported = "The connector does not support connector-defined transaction boundaries with the given configuration. Please reconfigure it to use a different transaction boundary definition."
)

// ValidateConnectorConfig validates a configuration as the standalone
// Herder does and, for a source connector, adds the checks of Kafka's
// DistributedHerder.validateSourceConnectorConfig (KIP-618):
// exactly.once.support=required needs this worker to have
// exactly.once.source.support=enabled and the connector to answer
// ExactlyOnceSupported (sdk.ExactlyOnceSupporter); transaction.boundary=
// connector needs it to answer TransactionBoundariesSupported
// (sdk.TransactionBoundaryDefiner). Standalone mode checks neither, as
// Kafka's.
func (d *DistributedHerder) ValidateConnectorConfig(config map[string]string, nullKeys []string) (*ConfigInfos, error) {
	infos, err := d.Herder.ValidateConnectorConfig(config, nullKeys)
	if err != nil {
		return nil, err
	}
	p, err := lookupConnector(config[connectorClassConfig])
	if err != nil || p.Type == sdk.PluginSink {
		return infos, nil
	}
	enabled := d.worker.exactlyOnce() != nil
	inst := p.New()
	for _, ci := range infos.Configs {
		v := ci.Value
		if v == nil || len(v.Errors) > 0 {
			continue
		}
		n := len(v.Errors)
		switch v.Name {
		case exactlyOnceConfig:
			if strings.EqualFold(trimmed(config[exactlyOnceConfig]), "required") {
				v.Errors = append(v.Errors, exactlyOnceErrors(inst, config, enabled)...)
			}
		case transactionBoundary:
			if strings.EqualFold(trimmed(config[transactionBoundary]), "connector") {
				v.Errors = append(v.Errors, boundaryErrors(inst, config)...)
			}
		}
		infos.ErrorCount += len(v.Errors) - n
	}
	return infos, nil
}

// exactlyOnceErrors are Kafka's validateSourceConnectorExactlyOnceSupport.
func exactlyOnceErrors(inst any, props map[string]string, workerEnabled bool) []string {
	var errs []string
	if !workerEnabled {
		errs = append(errs, msgEOSWorkerDisabled)
	}
	support := sdk.ExactlyOnceSupportUnknown
	if s, ok := inst.(sdk.ExactlyOnceSupporter); ok {
		if err := safeCall(func() error { support = s.ExactlyOnceSupport(props); return nil }); err != nil {
			return append(errs, unexpectedValidationError(err))
		}
	}
	switch support {
	case sdk.ExactlyOnceSupported:
	case sdk.ExactlyOnceUnsupported:
		errs = append(errs, msgEOSUnsupported)
	default:
		errs = append(errs, msgEOSNotImplemented)
	}
	return errs
}

// boundaryErrors are Kafka's validateSourceConnectorTransactionBoundary.
func boundaryErrors(inst any, props map[string]string) []string {
	b := sdk.TransactionBoundariesUnsupported
	if d, ok := inst.(sdk.TransactionBoundaryDefiner); ok {
		if err := safeCall(func() error { b = d.CanDefineTransactionBoundaries(props); return nil }); err != nil {
			return []string{unexpectedValidationError(err)}
		}
	}
	if b != sdk.TransactionBoundariesSupported {
		return []string{msgBoundaryUnsupported}
	}
	return nil
}

// unexpectedValidationError is Kafka's message for a connector that threw
// while answering.
func unexpectedValidationError(err error) string {
	if m := strings.TrimSpace(err.Error()); m != "" {
		return "An unexpected error occurred during validation: " + m
	}
	return "An unexpected error occurred during validation; please see the worker logs for more details."
}
