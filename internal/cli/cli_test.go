package cli

import (
	"errors"
	"flag"
	"io"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // "" for no error, "help" for flag.ErrHelp
	}{
		{[]string{"-k", "3"}, ""},
		{[]string{"-h"}, "help"},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"-k", "3", "extra"}, `unexpected argument "extra"`},
	} {
		fs := NewFlagSet("crmseg", "run", io.Discard)
		fs.Int("k", 0, "")
		err := Parse(fs, c.args)
		var ue *UsageError
		switch {
		case c.want == "" && err != nil, c.want == "help" && !errors.Is(err, flag.ErrHelp):
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		case c.want != "" && c.want != "help" && (!errors.As(err, &ue) || ue.Msg != c.want):
			t.Errorf("%v: %v, want a usage error %q", c.args, err, c.want)
		}
	}
	if fs := NewFlagSet("crmseg-bench", "scan", io.Discard); fs.Name() != "crmseg-bench scan" {
		t.Errorf("flag set named %q", fs.Name())
	}
}
