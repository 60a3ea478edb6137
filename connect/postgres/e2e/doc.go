// Package e2e holds the PostgreSQL connectors' end-to-end test: a table
// streams into a topic and out into another table through a standalone
// worker's REST API, against a Gregor broker (kafkatest) and a throwaway
// PostgreSQL server (internal/testpg). It has no code of its own.
package e2e
