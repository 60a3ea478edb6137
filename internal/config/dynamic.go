package config

import "fmt"

// ValidateBrokerDynamic checks one config change for a single broker
// (IncrementalAlterConfigs on resource BROKER "<node.id>"): the name must
// be a broker config, one Kafka allows to change without a restart
// (KIP-226; "Cannot update these configs dynamically: Set(log.dirs)"
// otherwise), and the value must parse and be in range. Cross-config
// rules are checked when the change is applied (Broker.WithDynamic).
func ValidateBrokerDynamic(name, value string) error {
	d, ok := lookupDef(name) // listener-prefixed names too (security.go)
	if !ok {
		return unknownConfig("broker", name, brokerNames)
	}
	if d.UpdateMode == ReadOnly {
		return &ConfigError{Name: name, Kind: ErrNotDynamic,
			Message: fmt.Sprintf("Cannot update these configs dynamically: Set(%s)", name)}
	}
	_, err := d.Parse(value)
	return err
}

// ValidateBrokerDynamicDefault is ValidateBrokerDynamic for the
// cluster-wide default (resource BROKER ""), which also rejects
// per-broker configs such as listeners.
func ValidateBrokerDynamicDefault(name, value string) error {
	if err := ValidateBrokerDynamic(name, value); err != nil {
		return err
	}
	if d, _ := lookupDef(name); d.UpdateMode == PerBroker {
		return &ConfigError{Name: name, Kind: ErrNotDynamic,
			Message: fmt.Sprintf("Cannot update these configs at default cluster level, broker id must be specified: Set(%s)", name)}
	}
	return nil
}
