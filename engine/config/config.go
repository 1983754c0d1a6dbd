package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/crmseg/crmseg/datasets"
	"github.com/crmseg/crmseg/scoring"
	"github.com/crmseg/crmseg/segment"
)

// Config is everything a run needs. The zero value is not runnable (it has no
// inputs); start from DefaultConfig. Paths in a config file are relative to
// the file's directory.
type Config struct {
	Inputs Inputs `yaml:"inputs" json:"inputs"`
	// Output is the output root: each run writes runs/<run_id>/ below it and
	// then points latest at it.
	Output string `yaml:"output" json:"output"`
	// KeepRuns is how many run directories the output root keeps: after a
	// run is published, older ones are removed until this many remain (the
	// one latest points at always stays). 0 keeps every run.
	KeepRuns int `yaml:"keep_runs" json:"keep_runs"`
	// MetricsFile, when set, is where a run writes its outcome for
	// Prometheus (node_exporter's textfile collector), on success and on
	// failure. Its directory must exist.
	MetricsFile string `yaml:"metrics_file" json:"metrics_file,omitempty"`
	// AsOf is the end of the observation window (YYYY-MM-DD, inclusive).
	// Empty means the date of the latest accepted transaction: rows dated
	// after Today, or far outside the bulk of the data, are rejected first
	// (docs/inputs.md, "Timestamps and as_of").
	AsOf string `yaml:"as_of" json:"as_of"`
	// Today (YYYY-MM-DD) is the run's date for the rule that rejects rows
	// dated in the future (after the day after it) under a default as_of.
	// Empty means the day the run starts (UTC); set it to replay a night or
	// to make a test independent of the clock.
	Today string `yaml:"today" json:"today,omitempty"`
	// Seed drives every random choice (k-means++ seeding, restarts).
	Seed uint64 `yaml:"seed" json:"seed"`
	// Threads caps DuckDB's and the k-means kernel's threads; 0 means all
	// cores. Outputs do not depend on it.
	Threads int `yaml:"threads" json:"threads"`
	// MemoryLimit is DuckDB's memory_limit ("4GB"); empty means a sixth
	// of the machine's memory (DefaultMemoryShare).
	MemoryLimit string `yaml:"memory_limit" json:"memory_limit"`
	// CSVFormulas says what the CSV copies of the tables do with a text
	// cell a spreadsheet would run as a formula (one starting with =, +,
	// -, @, a tab or a carriage return, and not a plain number): "escape"
	// it with a leading single quote (the default, as OWASP advises for
	// CSV exports), or "keep" it as it is. The Parquet files always keep
	// every value exactly.
	CSVFormulas string `yaml:"csv_formulas" json:"csv_formulas"`

	Segmentation Segmentation `yaml:"segmentation" json:"segmentation"`
	Targets      Targets      `yaml:"targets" json:"targets"`
	Rejects      Rejects      `yaml:"rejects" json:"rejects"`
	Value        Value        `yaml:"value" json:"value"`
	Economics    Economics    `yaml:"economics" json:"economics"`

	// decodeProblems are the problems DecodeConfig found in the document's
	// keys and values; Validate reports them first. file is the config
	// file LoadConfig read, which Validate's error names.
	decodeProblems []string
	file           string
	// keyLines are the line of every key of the document and its value
	// as decoded: Validate gives a problem of a key its line while the
	// key still has the value the file gave it.
	keyLines map[string]keyLine
}

// keyLine is where a config file sets a key, and the value it decoded to.
type keyLine struct {
	line  int
	value string
}

// valueAt is the value of a key (segmentation.k, segmentation.features[0])
// in the configuration, as text; false for a key it cannot follow.
func (c *Config) valueAt(key string) (string, bool) {
	v := reflect.ValueOf(c).Elem()
	for _, part := range strings.Split(key, ".") {
		name, index, indexed := strings.Cut(part, "[")
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return "", false
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Struct:
			f, ok := fieldByYAML(v.Type(), name)
			if !ok {
				return "", false
			}
			v = v.FieldByIndex(f.Index)
		case reflect.Map:
			if v.Type().Key().Kind() != reflect.String {
				return "", false
			}
			if v = v.MapIndex(reflect.ValueOf(name).Convert(v.Type().Key())); !v.IsValid() {
				return "", false
			}
		default:
			return "", false
		}
		if indexed {
			i, err := strconv.Atoi(strings.TrimSuffix(index, "]"))
			if err != nil || v.Kind() != reflect.Slice || i < 0 || i >= v.Len() {
				return "", false
			}
			v = v.Index(i)
		}
	}
	return fmt.Sprint(v.Interface()), true
}

// fieldByYAML is the field of struct type t with the YAML key name.
func fieldByYAML(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if n, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// Inputs names the input files.
type Inputs struct {
	Customers    InputSpec `yaml:"customers" json:"customers"`       // optional
	Transactions InputSpec `yaml:"transactions" json:"transactions"` // required
	Products     InputSpec `yaml:"products" json:"products"`         // optional
	// Campaigns is the acquisition spend per channel and month, with the
	// customers it acquired (optional; see Economics).
	Campaigns InputSpec `yaml:"campaigns" json:"campaigns,omitempty"`
}

// InputSpec says where an input table is and how to read it. In YAML it is
// either a path or a mapping with the fields below.
type InputSpec struct {
	// Path is a file or a glob of files (all of one format), read in
	// lexical order.
	Path string `yaml:"path" json:"path"`
	// Format is parquet, csv (gzip too) or text (columns separated by runs
	// of white space); empty means by the file name's extension.
	Format string `yaml:"format" json:"format,omitempty"`
	// Delimiter of csv files; empty means a comma.
	Delimiter string `yaml:"delimiter" json:"delimiter,omitempty"`
	// Header says whether csv and text files start with a row of column
	// names (default true). Without one, columns are named by position:
	// "1", "2", ...
	Header *bool `yaml:"header" json:"header,omitempty"`
	// Columns maps logical columns of the input contract to the file's
	// columns; a logical column not listed is looked up by its own name.
	Columns map[string]string `yaml:"columns" json:"columns,omitempty"`
	// Formats gives the strptime format of date and timestamp columns read
	// from text ("%Y%m%d"); without one, ISO 8601 is expected.
	Formats map[string]string `yaml:"formats" json:"formats,omitempty"`
	// Attributes are extra demographic columns of the customers file, by
	// their name in the file, usable in segmentation.demographics.
	Attributes []string `yaml:"attributes" json:"attributes,omitempty"`
}

// UnmarshalYAML accepts a plain path as well as the full mapping.
func (s *InputSpec) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		return node.Decode(&s.Path)
	}
	type plain InputSpec
	return node.Decode((*plain)(s))
}

// FileFormat returns the spec's format, from the extension when not set.
func (s *InputSpec) FileFormat() string {
	if s.Format != "" {
		return s.Format
	}
	name := strings.ToLower(strings.TrimSuffix(s.Path, ".gz"))
	switch {
	case strings.HasSuffix(name, ".csv"), strings.HasSuffix(name, ".tsv"):
		return "csv"
	case strings.HasSuffix(name, ".txt"), strings.HasSuffix(name, ".dat"):
		return "text"
	}
	return "parquet"
}

// HasHeader says whether the file's first line names its columns (the
// default) or is data.
func (s *InputSpec) HasHeader() bool { return s.Header == nil || *s.Header }

// Segmentation configures the features and k-means.
type Segmentation struct {
	K       int `yaml:"k" json:"k"`
	NInit   int `yaml:"n_init" json:"n_init"`
	MaxIter int `yaml:"max_iter" json:"max_iter"`
	// SampleSize is the number of customers the k-means restarts are seeded
	// and run on before the best is finished on every customer
	// (segment.KMeans.SampleSize): 0 chooses it (50,000 or 2,000·k, at
	// most every customer), -1 runs every restart on every customer.
	SampleSize int `yaml:"sample_size" json:"sample_size"`
	// Features are per-customer numeric features (columns of the
	// customer_features model) with their scaling. Empty means the default
	// set, less the ones the inputs cannot supply.
	Features []segment.FeatureSpec `yaml:"features" json:"features"`
	// CategoryMixWeight and ChannelMixWeight weigh the per-customer share of
	// spend by product category and by channel; 0 leaves them out.
	CategoryMixWeight float64 `yaml:"category_mix_weight" json:"category_mix_weight"`
	ChannelMixWeight  float64 `yaml:"channel_mix_weight" json:"channel_mix_weight"`
	// Demographics are customer columns one-hot encoded with DemographicWeight.
	Demographics      []string `yaml:"demographics" json:"demographics"`
	DemographicWeight float64  `yaml:"demographic_weight" json:"demographic_weight"`
	// Algorithm is the k-means iteration: hamerly (default; exact, the
	// result of lloyd, faster), lloyd, or minibatch (approximate, for very
	// large inputs).
	Algorithm string `yaml:"algorithm" json:"algorithm"`
	// ChooseK, when set, picks k from a range by the rule of
	// segment.ChooseK instead of using K.
	ChooseK *ChooseK `yaml:"choose_k" json:"choose_k,omitempty"`
	// Model, when set, is a model file (from crmseg train or a run's
	// model.json) to assign customers with, without retraining.
	Model string `yaml:"model" json:"model,omitempty"`
	// Assignments, when set, is a file (Parquet or CSV) of segments made
	// elsewhere: columns customer_id, segment_id and, optionally, name.
	// The run takes its segments from it instead of k-means; it excludes
	// k, choose_k and model (docs/configuration.md, "Bring your own
	// segments").
	Assignments string `yaml:"assignments" json:"assignments,omitempty"`
	// MatchMaxDistance leaves a new centroid farther than this (in scaled
	// units) from every previous one unmatched, so it gets a new ID; 0
	// means no limit.
	MatchMaxDistance float64 `yaml:"match_max_distance" json:"match_max_distance"`
	// Hysteresis keeps a customer in the segment the previous run gave
	// them unless the nearest centroid is closer than that segment's by
	// more than this share: the customer moves only when
	// d_previous > (1 + Hysteresis) * d_nearest. It applies when the
	// previous segment still exists; 0 turns it off.
	Hysteresis float64 `yaml:"hysteresis" json:"hysteresis"`
	// WarmStart, when a run retrains with the same k as the output root's
	// latest model, adds one more k-means start from the previous
	// centroids and keeps it unless a fresh restart's inertia is lower by
	// more than WarmStartMargin (relative), so that a refit on slightly
	// changed data stays with the segments it had.
	WarmStart       bool    `yaml:"warm_start" json:"warm_start"`
	WarmStartMargin float64 `yaml:"warm_start_margin" json:"warm_start_margin"`
	// MinSize is the smallest share of customers a trained segment may
	// hold: a smaller cluster (a handful of outliers, net returners) is
	// dissolved into the others and the training goes on with one segment
	// fewer; choose_k counts a k eligible only when it holds too. 0 turns
	// it off.
	MinSize float64 `yaml:"min_size" json:"min_size"`
	// OutlierClip bounds every centred feature's scaled value to
	// [-OutlierClip, OutlierClip] (standard deviations, or interquartile
	// ranges with method robust) before clustering, so that a few extreme
	// customers do not drag a centroid or form a segment of their own; 0
	// turns it off.
	OutlierClip float64 `yaml:"outlier_clip" json:"outlier_clip"`
}

// Value configures the customer-value predictions.
type Value struct {
	// MonthlyDiscountRate discounts each month of the 12-month CLV.
	MonthlyDiscountRate float64 `yaml:"monthly_discount_rate" json:"monthly_discount_rate"`
	// BacktestHoldout, when set, refits the models as of as_of less this
	// calendar span (days d, weeks w or months m: 39w, 6m, 90d) and
	// compares their predictions for the span with what happened.
	BacktestHoldout string `yaml:"backtest_holdout" json:"backtest_holdout,omitempty"`
	// Model is the purchase model behind the value columns and the
	// model-based targets: bg_nbd (BG/NBD, the default), mbg_nbd (MBG/NBD,
	// where a customer may drop out right after the first purchase),
	// pareto_nbd (Pareto/NBD, where a customer drops out at any time), or
	// auto: the one of them whose forecast of the backtest's holdout
	// purchases errs least, which needs BacktestHoldout. A backtest fits
	// every one.
	Model string `yaml:"model" json:"model"`
	// SpendModel is the spend model behind expected_spend, the value
	// columns and the revenue targets (docs/definitions.md, "Choosing the
	// spend model"): gamma_gamma (Gamma-Gamma as published: a customer's
	// repeat purchases are the evidence, so every one-time buyer gets the
	// population's mean), first_order (the same fit, with the first
	// purchase's value as evidence too), per_segment (a Gamma-Gamma fit
	// per segment), or auto, the default: with BacktestHoldout, the one
	// whose forecast of the holdout's revenue, given its purchases, errs
	// least; without, gamma_gamma, or per_segment when spend goes with
	// purchase frequency.
	SpendModel string `yaml:"spend_model" json:"spend_model"`
}

// Economics configures the customer economics (acquisition_value): what
// customers cost to acquire and what they are worth, per acquisition
// channel, monthly cohort and segment.
type Economics struct {
	// HorizonMonths is how many months after as_of the predicted value
	// (predicted_clv, discounted at value.monthly_discount_rate) covers:
	// 1 to 120, default 12, where it is the customers' predicted_clv_12m.
	HorizonMonths int `yaml:"horizon_months" json:"horizon_months"`
}

// ChooseK is the range of k to try and the rule's settings.
type ChooseK struct {
	Min int `yaml:"min" json:"min"`
	Max int `yaml:"max" json:"max"`
	// MinSize is the smallest share of customers a segment may hold.
	MinSize float64 `yaml:"min_size" json:"min_size"`
	// Bootstraps are the resamples for stability (default 10).
	Bootstraps int `yaml:"bootstraps" json:"bootstraps"`
	// SilhouetteSample is the sample size for the silhouette (default 2000).
	SilhouetteSample int `yaml:"silhouette_sample" json:"silhouette_sample"`
}

// Targets configures the objective of each segment and the uplift per objective.
type Targets struct {
	// Objectives overrides the rule's objective for given segment IDs.
	Objectives map[int]string `yaml:"objectives" json:"objectives"`
	// Uplift per objective and metric: a relative change for counts and
	// money, an absolute change in share points for rates.
	Uplift map[string]map[string]float64 `yaml:"uplift" json:"uplift"`
	// Baseline is where the baselines of revenue, orders and active
	// customers come from: "model" (the default: the customer-value models'
	// forecast of the segment's customers, with a band from parameter
	// uncertainty) or "last_12m" (the last 12 months repeated).
	Baseline string `yaml:"baseline" json:"baseline"`
}

// Rejects configures row-level validation.
type Rejects struct {
	// MaxShare is the largest share of transaction rows that may be rejected
	// before the run aborts.
	MaxShare float64 `yaml:"max_share" json:"max_share"`
	// UnknownCustomers says what becomes of transactions whose customer is
	// not in the customers file: "reject" them (the default), or "keep"
	// them, adding their customers without demographics.
	UnknownCustomers string `yaml:"unknown_customers" json:"unknown_customers"`
	// ZeroAmounts says what becomes of transaction rows with an amount of
	// exactly zero: "reject" them (the default), or "keep" them as
	// purchases of no value (free goods, as in the CDNOW data the
	// customer-value literature uses).
	ZeroAmounts string `yaml:"zero_amounts" json:"zero_amounts"`
}

// DefaultFeatures is the feature set used when the config names none.
var DefaultFeatures = []segment.FeatureSpec{
	{Name: "recency_days", Transform: "log1p"},
	{Name: "orders_per_year", Transform: "log1p"},
	{Name: "avg_order_value", Transform: "log1p"},
	{Name: "tenure_days"},
	{Name: "categories"},
	{Name: "return_rate"},
	{Name: "age"},
}

// memorySize is a DuckDB memory_limit: a positive number and a unit.
var memorySize = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*((?i:b|bytes|kb|mb|gb|tb|kib|mib|gib|tib))\s*$`)

// MemoryBytes is the number of bytes of a memory_limit; false when it is
// not a size memorySize accepts or is beyond what a machine has (1 EiB).
func MemoryBytes(size string) (int64, bool) {
	m := memorySize.FindStringSubmatch(size)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	unit := map[string]float64{"b": 1, "bytes": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[strings.ToLower(m[2])]
	if v*unit >= 1<<60 {
		return 0, false
	}
	return int64(v * unit), true
}

// MinMemoryLimit is the smallest memory_limit a run accepts: DuckDB fails
// at once below a few megabytes (0GB, a slip for a size, stops its first
// allocation), after the inputs have been inspected.
const MinMemoryLimit = 64e6

// DefaultMinSize is segmentation.min_size's default: 2% of the customers,
// below which a segment is too small to run a programme on and is, on real
// exports, a handful of outliers (on UCI Online Retail, a single customer, and
// 58 customers whose returns outweigh their purchases).
const DefaultMinSize = 0.02

// CustomerFeatures lists the numeric columns of the customer_features model
// that can be used as clustering features, with the input column each needs
// ("" when transactions alone suffice).
var CustomerFeatures = map[string]string{
	"recency_days":    "",
	"tenure_days":     "",
	"orders":          "",
	"orders_12m":      "",
	"orders_per_year": "",
	"net_revenue":     "",
	"revenue_12m":     "",
	"avg_order_value": "",
	"return_rate":     "",
	"categories":      "category",
	"age":             "birth_date",
	"margin_rate":     "cost",
}

// DefaultConfig returns a configuration with every default set and no inputs.
func DefaultConfig() Config {
	return Config{
		Output:      "crmseg-out",
		KeepRuns:    14,
		Seed:        1,
		CSVFormulas: "escape",
		Segmentation: Segmentation{
			K: 6, NInit: 10, MaxIter: 300, MinSize: DefaultMinSize, OutlierClip: 5,
			// What customers buy and where weigh most: a complete switch of
			// category or channel mix moves a customer 2√2 standard
			// deviations, a different demographic value √2.
			CategoryMixWeight: 2,
			ChannelMixWeight:  2,
			Demographics:      []string{"gender", "region", "income_band", "acquisition_channel"},
			DemographicWeight: 1,
			WarmStart:         true,
			WarmStartMargin:   0.01,
		},
		Targets: Targets{Uplift: scoring.DefaultUplift(), Baseline: "model"},
		Rejects: Rejects{MaxShare: 0.05, UnknownCustomers: "reject", ZeroAmounts: "reject"},
		Value:   Value{MonthlyDiscountRate: 0.01, Model: ModelBGNBD, SpendModel: ModelAuto},

		Economics: Economics{HorizonMonths: 12},
	}
}

// LoadConfig reads a YAML config file over DefaultConfig. The error is a
// file that cannot be read or is not YAML; the problems of its keys and
// values (unknown keys among them) are reported by Validate, with its own
// and naming the file, so that settings given since (command-line flags)
// count. Relative input and output paths are resolved against the file's
// directory.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, &ConfigError{File: path, Problems: []string{err.Error()}}
	}
	if err := DecodeConfig(data, &cfg); err != nil {
		return cfg, &ConfigError{File: path, Problems: []string{err.Error()}}
	}
	cfg.file = path
	dir := filepath.Dir(path)
	for _, p := range []*string{&cfg.Inputs.Customers.Path, &cfg.Inputs.Transactions.Path, &cfg.Inputs.Products.Path, &cfg.Inputs.Campaigns.Path, &cfg.Output, &cfg.MetricsFile, &cfg.Segmentation.Model, &cfg.Segmentation.Assignments} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return cfg, nil
}

// DecodeConfig decodes YAML strictly into cfg, keeping cfg's values for keys
// the document does not set. It returns an error only for a document that
// cannot be decoded at all (not YAML). Every problem of a key or value (an
// unknown key, a value of the wrong type, an integer key given a number
// with a fraction, which the YAML decoder alone would cut from 1.5 to 1) is
// kept in cfg, each with its key, line, what was expected and what was
// found, and reported by Validate together with its own problems.
func DecodeConfig(data []byte, cfg *Config) error {
	cfg.decodeProblems, cfg.keyLines = nil, nil
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	if errors.Is(err, io.EOF) {
		return nil // an empty file keeps the defaults
	}
	var te *yaml.TypeError
	if err != nil && !errors.As(err, &te) {
		return err
	}
	// The decoder went on past the problems of single keys (te): they are
	// found again, with their keys, along the configuration's type.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	var problems []string
	lines := map[int]bool{}
	keys := map[string]int{}
	checkNode(&doc, reflect.TypeFor[Config](), "", keys, func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...)+fmt.Sprintf(" (line %d)", line))
		lines[line] = true
	})
	cfg.keyLines = map[string]keyLine{}
	for k, line := range keys {
		if v, ok := cfg.valueAt(k); ok {
			cfg.keyLines[k] = keyLine{line: line, value: v}
		}
	}
	if te != nil {
		// Whatever the decoder saw that the walk did not is kept as the
		// decoder said it ("line N: ...").
		for _, e := range te.Errors {
			var line int
			if _, err := fmt.Sscanf(e, "line %d:", &line); err != nil || !lines[line] {
				problems = append(problems, e)
			}
		}
	}
	cfg.decodeProblems = problems
	return nil
}

// checkNode walks a YAML node along the Go type it decodes into and
// reports, with its key and line, every key the type does not have, every
// value the type cannot take (expected and found), and every integer (a
// key's value, or a map's key) written as a number that is not whole. It
// records the line of every key it passes in keys.
func checkNode(n *yaml.Node, t reflect.Type, key string, keys map[string]int, report func(line int, format string, args ...any)) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			checkNode(c, t, key, keys, report)
		}
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value keeps the default
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(k string) string {
		if key == "" {
			return k
		}
		return key + "." + k
	}
	found := func(n *yaml.Node) string {
		switch {
		case n.Kind == yaml.MappingNode:
			return "a mapping"
		case n.Kind == yaml.SequenceNode:
			return "a list"
		case n.ShortTag() == "!!str":
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
				checkLeaf(n, t, key, found(n), report) // a scalar form, such as an input given as a plain path
			} else {
				report(n.Line, "%s: expected a mapping, found %s", key, found(n))
			}
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
				fields[name] = f.Type
				names = append(names, name)
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if mergeKey(k, n.Content[i+1], t, key, keys, report) {
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				report(k.Line, "%s: unknown key, expected one of %s", join(k.Value), strings.Join(names, ", "))
				continue
			}
			keys[join(k.Value)] = k.Line
			checkNode(n.Content[i+1], ft, join(k.Value), keys, report)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			report(n.Line, "%s: expected a list, found %s", key, found(n))
			return
		}
		for i, c := range n.Content {
			keys[fmt.Sprintf("%s[%d]", key, i)] = c.Line
			checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", key, i), keys, report)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			report(n.Line, "%s: expected a mapping, found %s", key, found(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if mergeKey(k, n.Content[i+1], t, key, keys, report) {
				continue
			}
			keys[join(k.Value)] = k.Line
			checkNode(k, t.Key(), join(k.Value), keys, report)
			checkNode(n.Content[i+1], t.Elem(), join(k.Value), keys, report)
		}
	default:
		checkLeaf(n, t, key, found(n), report)
	}
}

// mergeKey checks the mappings a YAML merge key (<<: *defaults) brings
// into a mapping of type t, as the mapping's own keys; false when k is no
// merge key.
func mergeKey(k, v *yaml.Node, t reflect.Type, key string, keys map[string]int, report func(line int, format string, args ...any)) bool {
	if k.ShortTag() != "!!merge" {
		return false
	}
	if v.Kind == yaml.SequenceNode {
		for _, c := range v.Content {
			checkNode(c, t, key, keys, report)
		}
	} else {
		checkNode(v, t, key, keys, report)
	}
	return true
}

// checkLeaf reports a value that does not decode into t as the YAML
// decoder would, and an integer written with a fraction, which the decoder
// would cut to a whole number.
func checkLeaf(n *yaml.Node, t reflect.Type, key, found string, report func(line int, format string, args ...any)) {
	expected := "a value of type " + t.String()
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		expected = "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		expected = "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		expected = "a number"
	case reflect.Bool:
		expected = "true or false"
	case reflect.String:
		expected = "text"
	case reflect.Struct:
		expected = "a path or a mapping"
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		report(n.Line, "%s: expected %s, found %s", key, expected, found)
		return
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
			if v, err := strconv.ParseFloat(n.Value, 64); err != nil || v != math.Trunc(v) || math.IsInf(v, 0) {
				report(n.Line, "%s: expected %s, found %s", key, expected, n.Value)
			}
		}
	}
}

// Validate reports every problem of the configuration at once.
// The problems DecodeConfig found come first; a problem of a key among
// them is not reported twice (k: 0.5, cut to 0, is only a whole number
// expected, not also out of range). Then each part of the configuration
// is checked in turn, in the order below, which is the order of the
// problems reported.
func (c *Config) Validate() error {
	p := problems{list: slices.Clone(c.decodeProblems), decoded: map[string]bool{}, c: c}
	for _, dp := range c.decodeProblems {
		k, _, _ := strings.Cut(dp, ":")
		p.decoded[k] = true
	}
	c.validateInputs(&p)
	c.validatePolicies(&p)
	c.validateRun(&p)
	c.validateClustering(&p)
	c.validateValue(&p)
	c.validateEconomics(&p)
	c.validateContinuity(&p)
	c.validateFeatures(&p)
	c.validateTargets(&p)
	c.validateRejects(&p)
	if len(p.list) > 0 {
		return &ConfigError{File: c.file, Problems: p.list}
	}
	return nil
}

// problems collects the problems Validate reports.
type problems struct {
	list    []string
	decoded map[string]bool // keys DecodeConfig already reported
	c       *Config
}

// add reports a problem, "key: what is wrong", unless DecodeConfig
// reported one of its key; the key's line is added while the key still has
// the value the file gave it.
func (p *problems) add(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	k, _, _ := strings.Cut(msg, ":")
	if p.decoded[k] {
		return
	}
	if kl, ok := p.c.keyLines[k]; ok {
		if v, ok := p.c.valueAt(k); ok && v == kl.value {
			msg += fmt.Sprintf(" (line %d)", kl.line)
		}
	}
	p.list = append(p.list, msg)
}

// validateInputs checks inputs: the transactions are required, and each
// input given has a known format, a one-character delimiter, and column
// mappings, date formats and attributes its table has.
func (c *Config) validateInputs(p *problems) {
	if c.Inputs.Transactions.Path == "" {
		p.add("inputs.transactions: required (the transactions file)")
	}
	for _, in := range []struct {
		name  string
		spec  InputSpec
		table datasets.Table
	}{{"customers", c.Inputs.Customers, datasets.Customers}, {"transactions", c.Inputs.Transactions, datasets.Transactions}, {"products", c.Inputs.Products, datasets.Products},
		{"campaigns", c.Inputs.Campaigns, datasets.Campaigns}} {
		sp := in.spec
		if sp.Path == "" {
			if sp.Format != "" || len(sp.Columns) > 0 || len(sp.Formats) > 0 || len(sp.Attributes) > 0 {
				p.add("inputs.%s: settings given but no path", in.name)
			}
			continue
		}
		switch sp.FileFormat() {
		case "parquet", "csv", "text":
		default:
			p.add("inputs.%s.format: expected parquet, csv or text, found %q", in.name, sp.Format)
		}
		if utf8.RuneCountInString(sp.Delimiter) > 1 {
			p.add("inputs.%s.delimiter: expected one character, found %q", in.name, sp.Delimiter)
		}
		for _, logical := range sortedKeys(sp.Columns) {
			if _, ok := in.table.Column(logical); !ok {
				p.add("inputs.%s.columns: %q is not a column of %s (known: %s)", in.name, logical, in.name, strings.Join(in.table.Names(), ", "))
			}
			if sp.Columns[logical] == "" {
				p.add("inputs.%s.columns.%s: empty column name", in.name, logical)
			}
		}
		for _, logical := range sortedKeys(sp.Formats) {
			lc, ok := in.table.Column(logical)
			if !ok || (lc.Kind != datasets.KindDate && lc.Kind != datasets.KindTimestamp) {
				p.add("inputs.%s.formats: %q is not a date or timestamp column of %s", in.name, logical, in.name)
			}
		}
		if len(sp.Attributes) > 0 && in.name != "customers" {
			p.add("inputs.%s.attributes: only customers have attributes", in.name)
		}
	}
}

// validatePolicies checks the settings that choose between two ways of
// treating the data: rejects.unknown_customers, targets.baseline and
// rejects.zero_amounts.
func (c *Config) validatePolicies(p *problems) {
	switch c.Rejects.UnknownCustomers {
	case "reject", "keep":
	default:
		p.add("rejects.unknown_customers: expected reject or keep, found %q", c.Rejects.UnknownCustomers)
	}
	switch c.Targets.Baseline {
	case "model", "last_12m":
	default:
		p.add("targets.baseline: expected model or last_12m, found %q", c.Targets.Baseline)
	}
	switch c.Rejects.ZeroAmounts {
	case "reject", "keep":
	default:
		p.add("rejects.zero_amounts: expected reject or keep, found %q", c.Rejects.ZeroAmounts)
	}
}

// validateRun checks the run's own settings: the output root and what it
// keeps, the metrics file, the dates, memory, CSV formulas and threads.
func (c *Config) validateRun(p *problems) {
	if c.Output == "" {
		p.add("output: required (the output root directory)")
	}
	if c.KeepRuns < 0 {
		p.add("keep_runs: expected 0 (keep every run) or more, found %d", c.KeepRuns)
	}
	if c.MetricsFile != "" && !strings.HasSuffix(c.MetricsFile, ".prom") {
		p.add("metrics_file: expected a file name ending in .prom (the textfile collector reads only those), found %q", c.MetricsFile)
	}
	if c.AsOf != "" {
		if _, err := time.Parse(time.DateOnly, c.AsOf); err != nil {
			p.add("as_of: expected a date YYYY-MM-DD, found %q", c.AsOf)
		}
	}
	if c.Today != "" {
		if _, err := time.Parse(time.DateOnly, c.Today); err != nil {
			p.add("today: expected a date YYYY-MM-DD, found %q", c.Today)
		}
	}
	if c.MemoryLimit != "" {
		if n, ok := MemoryBytes(c.MemoryLimit); !ok || n < MinMemoryLimit {
			p.add("memory_limit: expected a size from 64MB up, such as 4GB, 512MB or 2GiB, found %q", c.MemoryLimit)
		}
	}
	switch c.CSVFormulas {
	case "", "escape", "keep":
	default:
		p.add("csv_formulas: expected escape or keep, found %q", c.CSVFormulas)
	}
	if c.Threads < 0 {
		p.add("threads: expected 0 (all cores) or more, found %d", c.Threads)
	}
}

// validateClustering checks the k-means settings of segmentation: k, the
// restarts and iterations, the sample, the algorithm and choose_k.
func (c *Config) validateClustering(p *problems) {
	s := c.Segmentation
	if s.K < 1 || s.K > 100 {
		p.add("segmentation.k: expected 1 to 100, found %d", s.K)
	}
	if !(s.MinSize >= 0 && s.MinSize < 1) {
		p.add("segmentation.min_size: expected a share in [0, 1), found %g", s.MinSize)
	}
	if !(s.OutlierClip == 0 || s.OutlierClip >= 1) || math.IsInf(s.OutlierClip, 0) {
		p.add("segmentation.outlier_clip: expected 0 (off) or a bound of at least 1 (in standard deviations), found %g", s.OutlierClip)
	}
	if s.NInit < 1 {
		p.add("segmentation.n_init: expected at least 1, found %d", s.NInit)
	}
	if s.MaxIter < 1 {
		p.add("segmentation.max_iter: expected at least 1, found %d", s.MaxIter)
	}
	if s.SampleSize < -1 || (s.SampleSize > 0 && s.SampleSize < s.K) {
		p.add("segmentation.sample_size: expected 0 (chosen), -1 (every customer) or at least k (%d) customers, found %d", s.K, s.SampleSize)
	}
	switch s.Algorithm {
	case "", "hamerly", "lloyd", "minibatch":
	default:
		p.add("segmentation.algorithm: expected hamerly, lloyd or minibatch, found %q", s.Algorithm)
	}
	if ck := s.ChooseK; ck != nil {
		if ck.Min < 2 || ck.Max < ck.Min || ck.Max > 100 {
			p.add("segmentation.choose_k: expected 2 <= min <= max <= 100, found min %d, max %d", ck.Min, ck.Max)
		}
		if ck.MinSize < 0 || ck.MinSize >= 1 {
			p.add("segmentation.choose_k.min_size: expected a share in [0, 1), found %g", ck.MinSize)
		}
		if ck.Bootstraps < 0 || ck.SilhouetteSample < 0 {
			p.add("segmentation.choose_k: bootstraps and silhouette_sample must not be negative")
		}
		if s.Model != "" {
			p.add("segmentation: choose_k and model exclude each other (a model fixes the segments)")
		}
	}
	if s.Assignments != "" {
		// segmentation.k, a key every full config has, is left unused,
		// as the other k-means settings are; the flag --k is refused.
		if s.ChooseK != nil {
			p.add("segmentation.assignments: the file fixes the segments, so it excludes choose_k: remove one of them")
		}
		if s.Model != "" {
			p.add("segmentation.assignments: the file fixes the segments, so it excludes model: remove one of them")
		}
		if f := (&InputSpec{Path: s.Assignments}).FileFormat(); f != "parquet" && f != "csv" {
			p.add("segmentation.assignments: expected a Parquet or CSV file, found %q", s.Assignments)
		}
	}
}

// validateValue checks value: the backtest's holdout, the purchase model
// and the discount rate.
func (c *Config) validateValue(p *problems) {
	if h := c.Value.BacktestHoldout; h != "" {
		if _, _, ok := ParseSpan(h); !ok {
			p.add("value.backtest_holdout: expected a span of days, weeks or months such as 90d, 39w or 6m, found %q", h)
		}
	}
	switch c.Value.Model {
	case ModelBGNBD, ModelMBGNBD, ModelParetoNBD:
	case ModelAuto:
		if c.Value.BacktestHoldout == "" {
			p.add("value.model: auto chooses the purchase model by the backtest's holdout error and needs value.backtest_holdout (such as 39w, 6m or 90d); or name the model: %s", strings.Join(PurchaseModels, ", "))
		}
	default:
		p.add("value.model: expected %s or %s, found %q", strings.Join(PurchaseModels, ", "), ModelAuto, c.Value.Model)
	}
	if !slices.Contains(SpendModels, c.Value.SpendModel) && c.Value.SpendModel != ModelAuto {
		p.add("value.spend_model: expected %s or %s, found %q", strings.Join(SpendModels, ", "), ModelAuto, c.Value.SpendModel)
	}
	if v := c.Value.MonthlyDiscountRate; !(v >= 0 && v < 1) {
		p.add("value.monthly_discount_rate: expected a rate in [0, 1), found %g", v)
	}
}

// validateEconomics checks economics: the horizon of the predicted value.
func (c *Config) validateEconomics(p *problems) {
	if h := c.Economics.HorizonMonths; h < 1 || h > MaxHorizonMonths {
		p.add("economics.horizon_months: expected 1 to %d months, found %d", MaxHorizonMonths, h)
	}
	if c.Inputs.Campaigns.Path != "" && c.Inputs.Customers.Path == "" {
		p.add("inputs.campaigns: needs inputs.customers (campaigns are matched to customers by their acquisition_channel)")
	}
}

// MaxHorizonMonths is the longest economics.horizon_months: ten years, past
// which a purchase model fitted on a few years of history says little.
const MaxHorizonMonths = 120

// validateContinuity checks the segmentation settings that carry segments
// from one run to the next: matching, warm start and hysteresis.
func (c *Config) validateContinuity(p *problems) {
	s := c.Segmentation
	if !(s.MatchMaxDistance >= 0) {
		p.add("segmentation.match_max_distance: expected 0 (no limit) or more, found %g", s.MatchMaxDistance)
	}
	if !(s.WarmStartMargin >= 0 && s.WarmStartMargin <= 1) {
		p.add("segmentation.warm_start_margin: expected a share of inertia from 0 to 1, found %g", s.WarmStartMargin)
	}
	if !(s.Hysteresis >= 0 && s.Hysteresis <= 10) {
		p.add("segmentation.hysteresis: expected a relative margin from 0 (off) to 10, found %g", s.Hysteresis)
	}
}

// validateFeatures checks what segmentation clusters on: the numeric
// features and their scaling, the mix and demographic weights, and the
// demographic columns.
func (c *Config) validateFeatures(p *problems) {
	s := c.Segmentation
	seen := map[string]bool{}
	for i, f := range s.Features {
		if _, ok := CustomerFeatures[f.Name]; !ok {
			p.add("segmentation.features[%d]: unknown feature %q (known: %v)", i, f.Name, sortedKeys(CustomerFeatures))
		}
		if seen[f.Name] {
			p.add("segmentation.features[%d]: feature %q listed twice", i, f.Name)
		}
		seen[f.Name] = true
		switch f.Transform {
		case "", "none", "log1p":
		default:
			p.add("segmentation.features[%d].transform: expected none or log1p, found %q", i, f.Transform)
		}
		switch f.Method {
		case "", "standard", "robust", "none":
		default:
			p.add("segmentation.features[%d].method: expected standard, robust or none, found %q", i, f.Method)
		}
		// Weight 0 leaves columns out (category_mix_weight: 0): a listed
		// feature cannot be left out, so its weight, when given, is above
		// 0. Not given, it is 1 (segment.FeatureSpec's zero value).
		if _, given := c.keyLines[fmt.Sprintf("segmentation.features[%d].weight", i)]; f.Weight < 0 || (f.Weight == 0 && given) {
			p.add("segmentation.features[%d].weight: expected more than 0 (weight 0 leaves columns out: to leave %s out, take it off the list; "+
				"without a weight it counts 1), found %g", i, f.Name, f.Weight)
		}
	}
	for _, w := range []struct {
		name string
		v    float64
	}{{"category_mix_weight", s.CategoryMixWeight}, {"channel_mix_weight", s.ChannelMixWeight}, {"demographic_weight", s.DemographicWeight}} {
		if w.v < 0 {
			p.add("segmentation.%s: expected 0 or more, found %g", w.name, w.v)
		}
	}
	for _, d := range s.Demographics {
		if !slices.Contains(standardDemographics, d) && !slices.Contains(c.Inputs.Customers.Attributes, d) {
			p.add("segmentation.demographics: %q is not a demographic column of customers (known: %s, or a name in inputs.customers.attributes)", d, strings.Join(standardDemographics, ", "))
		}
	}
}

// validateTargets checks targets: the objectives set per segment and the
// uplift per objective and metric.
func (c *Config) validateTargets(p *problems) {
	for id, obj := range c.Targets.Objectives {
		if !slices.Contains(scoring.Objectives, scoring.Objective(obj)) {
			p.add("targets.objectives[%d]: unknown objective %q (known: %v)", id, obj, scoring.Objectives)
		}
	}
	for obj, m := range c.Targets.Uplift {
		if !slices.Contains(scoring.Objectives, scoring.Objective(obj)) {
			p.add("targets.uplift: unknown objective %q (known: %v)", obj, scoring.Objectives)
			continue
		}
		for metric, u := range m {
			switch {
			case !slices.Contains(scoring.TargetMetrics, metric):
				p.add("targets.uplift.%s: unknown metric %q (known: %v)", obj, metric, scoring.TargetMetrics)
			case scoring.MetricUnit(metric) == "share" && !(u >= -1 && u <= 1):
				// Share points: a move of more than the whole [0, 1] range
				// is no target (and NaN none at all).
				p.add("targets.uplift.%s.%s: expected share points from -1 to 1, found %g", obj, metric, u)
			case scoring.MetricUnit(metric) != "share" && !(u >= -1 && !math.IsInf(u, 1)):
				// Relative: below -1 the target of a count or of revenue
				// would be negative (and NaN or Inf no target at all).
				p.add("targets.uplift.%s.%s: expected a relative change of -1 (down to nothing) or more, found %g", obj, metric, u)
			}
		}
	}
}

// validateRejects checks rejects.max_share, the share of rejected rows a
// run accepts.
func (c *Config) validateRejects(p *problems) {
	if c.Rejects.MaxShare < 0 || c.Rejects.MaxShare > 1 {
		p.add("rejects.max_share: expected a share between 0 and 1, found %g", c.Rejects.MaxShare)
	}
}

// MaxDemographicLevels is the most distinct values a column listed in
// segmentation.demographics may have. Each value becomes a one-hot column
// of the feature matrix: a few dozen regions or channels describe a
// customer; thousands (a numeric column, such as an acquisition cost,
// listed as a demographic) swamp the features and the matrix, and a run
// refuses them, advising to bin the column into bands in the customers
// file (as income_band is).
const MaxDemographicLevels = 100

// standardDemographics are the demographic columns of the input contract.
var standardDemographics = []string{"gender", "region", "income_band", "acquisition_channel"}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ConfigError reports every problem found in a configuration at once.
type ConfigError struct {
	File     string // empty for flags
	Problems []string
}

func (e *ConfigError) Error() string {
	where := "configuration"
	if e.File != "" {
		where = e.File
	}
	if len(e.Problems) == 1 {
		return where + ": " + e.Problems[0]
	}
	return where + ":\n  - " + strings.Join(e.Problems, "\n  - ")
}

// The purchase models value.model chooses from, and auto, which lets the
// backtest choose.
const (
	ModelBGNBD     = "bg_nbd"
	ModelMBGNBD    = "mbg_nbd"
	ModelParetoNBD = "pareto_nbd"
	ModelAuto      = "auto"
)

// PurchaseModels are the purchase models, the default first: the order in
// which a backtest fits them and auto breaks ties.
var PurchaseModels = []string{ModelBGNBD, ModelMBGNBD, ModelParetoNBD}

// The spend models value.spend_model chooses from (auto, ModelAuto, lets
// the backtest or a rule choose).
const (
	SpendGammaGamma = "gamma_gamma"
	SpendFirstOrder = "first_order"
	SpendPerSegment = "per_segment"
)

// SpendModels are the spend models, in the order a backtest compares them
// and auto breaks ties.
var SpendModels = []string{SpendGammaGamma, SpendFirstOrder, SpendPerSegment}

var spanPattern = regexp.MustCompile(`^([1-9][0-9]{0,3})([dwm])$`)

// ParseSpan parses a calendar span: a whole number of days (d), weeks (w)
// or months (m), such as 39w or 6m.
func ParseSpan(s string) (n int, unit byte, ok bool) {
	m := spanPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	n, _ = strconv.Atoi(m[1])
	return n, m[2][0], true
}

// SpanBefore returns the date a span before end: months are calendar
// months (Go's AddDate normalisation: 31 March less one month is 3 March).
func SpanBefore(end time.Time, s string) time.Time {
	n, unit, _ := ParseSpan(s)
	switch unit {
	case 'd':
		return end.AddDate(0, 0, -n)
	case 'w':
		return end.AddDate(0, 0, -7*n)
	}
	return end.AddDate(0, -n, 0)
}
