// Command pulumi-language-go is the test-only stand-in for the Go language host (package
// langhost): put its directory on PATH and the Pulumi CLI runs Go projects through it.
// Started as the real host is: `pulumi-language-go [-tracing URL] [ENGINE_ADDRESS]`; it
// serves the LanguageRuntime gRPC service on a free loopback port and prints the port.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"

	"github.com/eks-irsa/eks-irsa/integration/langhost"
)

func main() {
	if err := serve(); err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-language-go (test stand-in):", err)
		os.Exit(1)
	}
}

func serve() error {
	// The real host's flags; the obsolete ones are accepted and ignored, as there.
	flag.String("tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint (ignored)")
	flag.String("binary", "", "[obsolete] Look on path for a binary executable with this name")
	flag.String("buildTarget", "", "[obsolete] Path to use to output the compiled Pulumi Go program")
	flag.String("root", "", "[obsolete] Project root path to use")
	flag.Parse()
	var engine string
	if args := flag.Args(); len(args) > 0 {
		engine = args[0]
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancelChannel)
	}()
	if engine != "" {
		// Stop when the engine goes away, as the real host does.
		if err := rpcutil.Healthcheck(ctx, engine, 5*time.Minute, cancel); err != nil {
			return fmt.Errorf("could not start health check host RPC server: %w", err)
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, langhost.New(engine, cwd))
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("could not start language host RPC server: %w", err)
	}
	// The spawner reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		return fmt.Errorf("language host RPC stopped serving: %w", err)
	}
	return nil
}
