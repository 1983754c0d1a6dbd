package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/internal/cli"
)

// cmdConfig is crmseg config: config init prints a template of the
// configuration file.
//
//	crmseg config init > crmseg.yaml
func cmdConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &cli.UsageError{Msg: "config needs a subcommand: init"}
	}
	switch args[0] {
	case "init":
		return cmdConfigInit(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, configUsage)
		return flag.ErrHelp
	}
	return &cli.UsageError{Msg: fmt.Sprintf("config: expected the subcommand init, found %q", args[0])}
}

const configUsage = `Usage of crmseg config (docs/configuration.md):
  crmseg config init
        print a config file of every key, with its default and a one-line description
Run 'crmseg config init -h' for the flags.

Example:
  crmseg config init > crmseg.yaml
`

// cmdConfigInit prints the template of the configuration file
// (config.Template): every key with its default and a description, ready
// for crmseg validate once inputs.transactions names the file.
func cmdConfigInit(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("crmseg", "config init", stderr)
	cli.Examples(fs, "crmseg config init > crmseg.yaml")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	_, err := io.WriteString(stdout, config.Template())
	return err
}
