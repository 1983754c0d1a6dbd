package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/internal/cli"
)

const reportUsage = `crmseg report RUN_DIR [--out FILE]

Rebuilds a published run's report (report.html) from its tables, manifest.json and model.json: the
same file the run wrote. Writes RUN_DIR/report.html unless --out names another file.

`

// cmdReport rebuilds a run's report from its published tables.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer, lf *logFlags) error {
	fs := cli.NewFlagSet("crmseg", "report", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage of crmseg report:\n  "+reportUsage+"Flags:\n")
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "write the report to this file (default: RUN_DIR/report.html)")
	lf.register(fs, false)
	cli.Examples(fs, "crmseg report demo-out/out/latest --out /tmp/report.html")
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return &cli.UsageError{Msg: fmt.Sprintf("report takes one run directory, found %d: %s", len(dirs), strings.Join(dirs, ", "))}
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	path, err := engine.WriteReport(ctx, dirs[0], *out, log)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "report written:", path)
	return nil
}
