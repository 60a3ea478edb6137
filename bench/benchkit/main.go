// Command benchkit is the helper of bench/compare.sh: it runs franz-go's
// kfake as a stand-alone broker to compare Gregor against, and finds free
// loopback ports.
//
//	benchkit freeport                      print a free 127.0.0.1 port
//	benchkit kfake -port P -data-dir D     serve kfake on 127.0.0.1:P until SIGINT/SIGTERM
//
// kfake keeps every record in memory; with -data-dir it also writes its
// segments to disk (kfake.DataDir), which is the closest it gets to a
// broker with a log on disk. It lives in its own module so that the main
// module never depends on kfake.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchkit freeport | benchkit kfake [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "freeport":
		err = freePort()
	case "kfake":
		err = runKfake(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchkit:", err)
		os.Exit(1)
	}
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

func runKfake(args []string) error {
	fs := flag.NewFlagSet("kfake", flag.ExitOnError)
	port := fs.Int("port", 0, "port on 127.0.0.1 (0: any)")
	dataDir := fs.String("data-dir", "", "persist segments and state in this directory")
	partitions := fs.Int("partitions", 1, "partitions of auto-created topics")
	syncWrites := fs.Bool("sync", false, "fsync every write")
	fs.Parse(args)

	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
	}
	if *port != 0 {
		opts = append(opts, kfake.Ports(*port))
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	if *syncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	fmt.Println(c.ListenAddrs()[0])

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	c.Close()
	return nil
}
