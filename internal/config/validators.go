package config

import (
	"regexp"
	"strconv"
	"strings"
)

// validator checks a parsed value, as Kafka's ConfigDef.Validator. Its
// String is the "Valid Values" column of Kafka's docs.
type validator interface {
	check(name string, v any) error
	String() string
}

// rangeValidator is Kafka's ConfigDef.Range.
type rangeValidator struct {
	min, max       int64
	hasMin, hasMax bool
}

func atLeast(n int64) validator { return rangeValidator{min: n, hasMin: true} }

func between(lo, hi int64) validator {
	return rangeValidator{min: lo, max: hi, hasMin: true, hasMax: true}
}

func (r rangeValidator) check(name string, v any) error {
	if v == nil {
		return invalidValue(name, nil, "Value must be non-null")
	}
	f, _ := toFloat(v)
	if r.hasMin && f < float64(r.min) {
		return invalidValue(name, v, "Value must be at least "+strconv.FormatInt(r.min, 10))
	}
	if r.hasMax && f > float64(r.max) {
		return invalidValue(name, v, "Value must be no more than "+strconv.FormatInt(r.max, 10))
	}
	return nil
}

func (r rangeValidator) String() string {
	switch {
	case !r.hasMin:
		return "[...," + strconv.FormatInt(r.max, 10) + "]"
	case !r.hasMax:
		return "[" + strconv.FormatInt(r.min, 10) + ",...]"
	}
	return "[" + strconv.FormatInt(r.min, 10) + ",...," + strconv.FormatInt(r.max, 10) + "]"
}

// stringIn is Kafka's ConfigDef.ValidString.in (case-sensitive).
type stringIn []string

func oneOf(s ...string) validator { return stringIn(s) }

func (s stringIn) check(name string, v any) error {
	str, _ := v.(string)
	for _, ok := range s {
		if str == ok {
			return nil
		}
	}
	return invalidValue(name, str, "String must be one of: "+strings.Join(s, ", "))
}

func (s stringIn) String() string { return "[" + strings.Join(s, ", ") + "]" }

// stringInFold is Kafka's ConfigDef.CaseInsensitiveValidString.in.
type stringInFold []string

func oneOfFold(s ...string) validator { return stringInFold(s) }

func (s stringInFold) check(name string, v any) error {
	str, _ := v.(string)
	for _, ok := range s {
		if strings.EqualFold(str, ok) {
			return nil
		}
	}
	return invalidValue(name, str, "String must be one of (case insensitive): "+strings.Join(s, ", "))
}

func (s stringInFold) String() string { return "(case insensitive) [" + strings.Join(s, ", ") + "]" }

// listIn is Kafka's ConfigDef.ValidList.in: every element must be one of
// the strings.
type listIn []string

func listOf(s ...string) validator { return listIn(s) }

func (l listIn) check(name string, v any) error {
	list, _ := v.([]string)
	for _, e := range list {
		if err := stringIn(l).check(name, e); err != nil {
			return err
		}
	}
	return nil
}

func (l listIn) String() string { return stringIn(l).String() }

// gzipLevel is Kafka's GzipCompression.LevelValidator: 1..9 or -1
// (java.util.zip.Deflater's levels).
type gzipLevel struct{}

func (gzipLevel) check(name string, v any) error {
	n, _ := v.(int32)
	if n > 9 || (n < 1 && n != -1) {
		return invalidValue(name, v, "Value must be between 1 and 9 or equal to -1")
	}
	return nil
}

func (gzipLevel) String() string { return "[1,...,9] or -1" }

// throttledReplicas is Kafka's ThrottledReplicaListValidator: the literal
// "*" or a list of partitionId:brokerId pairs.
type throttledReplicas struct{}

var throttledPair = regexp.MustCompile(`^([0-9]+:[0-9]+)?$`)

func (throttledReplicas) check(name string, v any) error {
	list, _ := v.([]string)
	all := true
	for _, e := range list {
		if !throttledPair.MatchString(javaTrim(e)) {
			all = false
			break
		}
	}
	if all || strings.Join(list, "") == "*" {
		return nil
	}
	return invalidValue(name, v, name+" must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...")
}

func (throttledReplicas) String() string {
	return "[partitionId]:[brokerId],[partitionId]:[brokerId],..."
}
