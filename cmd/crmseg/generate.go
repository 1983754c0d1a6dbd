package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/crmseg/crmseg/datasets/synth"
	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/internal/cli"
)

func out2(dir, name string) string { return filepath.Join(dir, name) }

// generate writes a demo dataset, with a progress bar over its chunks of
// customers when progress is set.
func generate(ctx context.Context, n int, seed uint64, dir string, progress func(string, int) engine.Progress) (*synth.Summary, error) {
	if n <= 0 {
		return nil, &cli.UsageError{Msg: fmt.Sprintf("--customers: expected a positive number, found %d", n)}
	}
	cfg := synth.Config{Customers: n, Seed: seed}
	var bar engine.Progress
	if progress != nil {
		cfg.Progress = func(done, total int) {
			if bar == nil {
				bar = progress("generating customers", total)
			}
			bar.Add(1)
		}
		defer func() {
			if bar != nil {
				bar.Done()
			}
		}()
	}
	return synth.Generate(ctx, cfg, dir)
}

func cmdGenerate(ctx context.Context, args []string, stdout, stderr io.Writer, lf *logFlags) error {
	fs := cli.NewFlagSet("crmseg", "generate", stderr)
	lf.register(fs, true)
	n := fs.Int("customers", 20000, "number of customers")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives byte-identical files")
	out := fs.String("out", "", "output directory")
	cli.Examples(fs, "crmseg generate --out demo-data --customers 5000 --seed 7")
	for _, a := range args {
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && name == "blobs" {
			return &cli.UsageError{Msg: "generate --blobs moved to the benchmarks' tool: make build-bench, then bin/crmseg-bench blobs"}
		}
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return &cli.UsageError{Msg: "generate needs --out"}
	}
	_, progress, err := lf.setup(stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	sum, err := generate(ctx, *n, *seed, *out, progress)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d customers, %d orders, %d lines (%d returns), %d products to %s in %.1fs\n",
		sum.Customers, sum.Orders, sum.Lines, sum.Returns, sum.Products, *out, time.Since(start).Seconds())
	for _, f := range sum.Files {
		fmt.Fprintln(stdout, " ", f)
	}
	return nil
}
