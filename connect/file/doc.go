// Package file holds Kafka's FileStream connectors, which Kafka's
// quickstart uses to show Connect, written against the connect SDK:
//
//	org.apache.kafka.connect.file.FileStreamSourceConnector  (alias FileStreamSource)
//	org.apache.kafka.connect.file.FileStreamSinkConnector    (alias FileStreamSink)
//
// The source reads the lines of "file" into "topic", batch.size lines per
// poll at most, follows appended lines and, after a restart, resumes at
// the byte position it stored. The sink appends each record of its topics
// to "file" as a line. Kafka's sample configurations
// (config/connect-file-source.properties, config/connect-file-sink.properties)
// copy test.txt to test.sink.txt through the topic connect-test.
//
// They are small, complete examples of a source and a sink connector.
package file

import "github.com/gregor-streaming/gregor/connect"

// Kafka's class names of the FileStream connectors and their tasks.
const (
	SourceConnectorClass = "org.apache.kafka.connect.file.FileStreamSourceConnector"
	SinkConnectorClass   = "org.apache.kafka.connect.file.FileStreamSinkConnector"
	SourceTaskClass      = "org.apache.kafka.connect.file.FileStreamSourceTask"
	SinkTaskClass        = "org.apache.kafka.connect.file.FileStreamSinkTask"
)

func init() {
	connect.RegisterPlugin(connect.Plugin{Class: SourceConnectorClass, Type: connect.PluginSource, Version: connect.Version,
		TaskClass: SourceTaskClass, New: func() any { return &SourceConnector{} }})
	connect.RegisterPlugin(connect.Plugin{Class: SinkConnectorClass, Type: connect.PluginSink, Version: connect.Version,
		TaskClass: SinkTaskClass, New: func() any { return &SinkConnector{} }})
}
