package raft

import (
	"context"
	"fmt"
	"log/slog"
)

// raftLogger adapts a *slog.Logger to etcd raft's Logger. etcd raft logs
// every election at Info; those go to Debug here except warnings and
// errors, because the driver logs leader changes itself. Fatal and Panic
// panic: the Ready loop recovers and fails the node with the message.
//
// etcd raft names nodes by its own ids, in hex: a Kafka node id plus one
// (raftID), since raft reserves 0. Every line carries raft_ids=
// "node.id+1" so that "4 stepped down" is read as node 3.
type raftLogger struct{ l *slog.Logger }

func newRaftLogger(l *slog.Logger) raftLogger { return raftLogger{l.With("raft_ids", "node.id+1")} }

func (r raftLogger) Debug(v ...any) { r.log(slog.LevelDebug, fmt.Sprint(v...)) }
func (r raftLogger) Debugf(format string, v ...any) {
	r.log(slog.LevelDebug, fmt.Sprintf(format, v...))
}
func (r raftLogger) Info(v ...any)                 { r.log(slog.LevelDebug, fmt.Sprint(v...)) }
func (r raftLogger) Infof(format string, v ...any) { r.log(slog.LevelDebug, fmt.Sprintf(format, v...)) }
func (r raftLogger) Warning(v ...any)              { r.log(slog.LevelWarn, fmt.Sprint(v...)) }
func (r raftLogger) Warningf(format string, v ...any) {
	r.log(slog.LevelWarn, fmt.Sprintf(format, v...))
}
func (r raftLogger) Error(v ...any) { r.log(slog.LevelError, fmt.Sprint(v...)) }
func (r raftLogger) Errorf(format string, v ...any) {
	r.log(slog.LevelError, fmt.Sprintf(format, v...))
}
func (r raftLogger) Fatal(v ...any)                 { r.panic(fmt.Sprint(v...)) }
func (r raftLogger) Fatalf(format string, v ...any) { r.panic(fmt.Sprintf(format, v...)) }
func (r raftLogger) Panic(v ...any)                 { r.panic(fmt.Sprint(v...)) }
func (r raftLogger) Panicf(format string, v ...any) { r.panic(fmt.Sprintf(format, v...)) }

func (r raftLogger) log(level slog.Level, msg string) {
	r.l.Log(context.Background(), level, "etcd raft: "+msg)
}

func (r raftLogger) panic(msg string) {
	r.l.Error("etcd raft: " + msg)
	panic("raft: etcd raft: " + msg)
}
