#!/usr/bin/env bash
# Count the words of a topic's lines into another topic: Kafka's WordCountDemo
# (bin/kafka-run-class.sh org.apache.kafka.streams.examples.wordcount.WordCountDemo).
# Runs `gregor streams wordcount`: --bootstrap-server HOST:PORT, and optionally
# --input-topic (quickstart-events), --output-topic (output-topic),
# --application-id (wordcount). Stop it with Ctrl-C; it commits and leaves cleanly.
. "$(dirname "${BASH_SOURCE[0]}")/gregor-run-class.sh"
gregor_exec streams wordcount "$@"
