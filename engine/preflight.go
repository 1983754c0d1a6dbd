package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/segmentation"
	"github.com/crmseg/crmseg/engine/store"
)

// The checks of a run that need no row of the inputs. Run and Validate
// both make them, through these two functions, so that validate refuses
// every configuration a run would refuse before reading: the one may not
// pass what the other refuses.

// checkConfig checks the configuration itself: its keys and values
// (config.Validate), and that the metrics file's directory exists (a run
// writes its outcome there, failed or not). Every error is a
// *config.ConfigError.
func checkConfig(cfg *config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.MetricsFile != "" {
		if st, err := os.Stat(filepath.Dir(cfg.MetricsFile)); err != nil || !st.IsDir() {
			return &config.ConfigError{Problems: []string{fmt.Sprintf("metrics_file: directory %s does not exist", filepath.Dir(cfg.MetricsFile))}}
		}
	}
	return nil
}

// inspect checks the configuration against what it names, before any row
// is read, and returns the inspected inputs: the output root's latest
// (store.CheckLatest), every input file against the input contract
// (inspectInputs), the configured features against the inputs' columns,
// and the model file, when one is given, against the features.
func inspect(cfg *config.Config) (map[string]*input, error) {
	if err := store.CheckLatest(cfg.Output); err != nil {
		return nil, err
	}
	inputs, err := inspectInputs(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkFeatures(cfg, supply{inputs: inputs}); err != nil {
		return nil, err
	}
	return inputs, nil
}

// checkFeatures checks the features the data supplies (numericFeatures)
// and the model file against them.
func checkFeatures(cfg *config.Config, data supply) error {
	numeric, err := numericFeatures(cfg, data, nil)
	if err != nil || cfg.Segmentation.Model == "" {
		return err
	}
	err = segmentation.CheckModel(cfg.Segmentation, numeric)
	if err != nil && data.filled == nil {
		// Before the rows, a default feature the accepted lines may
		// leave out (categories, when no line has a category) may not
		// be the run's: a model trained without it fits too.
		without, _ := numericFeatures(cfg, supply{inputs: data.inputs, filled: &dataFilled{}}, nil)
		if len(without) < len(numeric) && segmentation.CheckModel(cfg.Segmentation, without) == nil {
			return nil
		}
	}
	return err
}
