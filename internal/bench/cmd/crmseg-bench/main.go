// Command crmseg-bench is the benchmarks' tool, kept out of the crmseg
// binary: it writes the Gaussian blobs of make bench-kmeans and times the
// DuckDB scan floor of make bench-e2e. Build it with
//
//	go build -tags=duckdb_arrow -o bin/crmseg-bench ./internal/bench/cmd/crmseg-bench
//
// Usage:
//
//	crmseg-bench blobs --out DIR [--rows N] [--dims D] [--centers C] [--spread S] [--seed S]
//	crmseg-bench scan --transactions FILE [--threads N]
//
// Exit codes: 0 success, 1 failure, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/crmseg/crmseg/internal/bench"
	"github.com/crmseg/crmseg/internal/cli"
)

const usage = `crmseg-bench — the benchmarks' tool (make bench-kmeans, make bench-e2e)

Commands:
  blobs   write Gaussian blobs for clustering benchmarks (blobs.parquet, blobs.npy, truth.csv)
  scan    time a plain DuckDB scan of a transactions file grouped by customer; prints JSON

Run 'crmseg-bench COMMAND -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "blobs":
		err = cmdBlobs(args[1:], stdout, stderr)
	case "scan":
		err = cmdScan(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = &cli.UsageError{Msg: fmt.Sprintf("unknown command %q", args[0])}
	}
	var ue *cli.UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "crmseg-bench: %v\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "crmseg-bench: %v\n", err)
		return 1
	}
}

// cmdBlobs writes the Gaussian blobs make bench-kmeans clusters.
func cmdBlobs(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("crmseg-bench", "blobs", stderr)
	out := fs.String("out", "", "output directory: blobs.parquet, blobs.npy, truth.csv")
	rows := fs.Int("rows", 1_000_000, "rows")
	dims := fs.Int("dims", 12, "features")
	centers := fs.Int("centers", 8, "blobs")
	spread := fs.Float64("spread", 3, "standard deviation of the centres' coordinates (points have 1)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives byte-identical files")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return &cli.UsageError{Msg: "blobs needs --out"}
	}
	start := time.Now()
	cfg := bench.BlobsConfig{Rows: *rows, Dims: *dims, Centers: *centers, Spread: *spread, Seed: *seed}
	if err := bench.WriteBlobs(*out, cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d rows × %d features around %d centres to %s in %.1fs\n", *rows, *dims, *centers, *out, time.Since(start).Seconds())
	return nil
}
