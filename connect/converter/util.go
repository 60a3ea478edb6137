package converter

import (
	"sort"

	"github.com/gregor-streaming/gregor/connect"
)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sortAny orders map keys of any type by their formatted form, for stable
// output.
func sortAny(keys []any) {
	sort.Slice(keys, func(i, j int) bool {
		return connect.FormatValue(keys[i]) < connect.FormatValue(keys[j])
	})
}
