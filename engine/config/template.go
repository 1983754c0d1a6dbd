package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// keyDoc describes a key of the config file for the template crmseg config
// init prints (Template).
type keyDoc struct {
	// help is the key's one-line description.
	help string
	// example, when set, is a value in YAML that the template shows in a
	// commented-out line when the key's default is empty (the default
	// itself, active, otherwise). A key under a commented-out mapping
	// (choose_k) always shows its example.
	example string
	// required keys have no default: the template sets them to example.
	required bool
}

// keyDocs documents every key of the config file, by its dotted path: the
// template is made from them and from DefaultConfig, in the order of the
// Config struct's fields. A key of Config without an entry here fails
// TestTemplateHasEveryKey. The keys of an input file (InputSpec) are
// listed under the inputs that show them: transactions and customers.
var keyDocs = map[string]keyDoc{
	"inputs":                        {help: "The input files (docs/inputs.md): a path (or a glob of files of one format), or a mapping with the keys shown under transactions and customers."},
	"inputs.customers":              {help: "Customers (optional): without them, the customers are those of the transactions."},
	"inputs.customers.path":         {help: "The file, or a glob of files read in lexical order.", example: "customers.csv"},
	"inputs.customers.attributes":   {help: "Extra columns of the customers file usable in segmentation.demographics.", example: "[loyalty_tier]"},
	"inputs.transactions":           {help: "Transactions (required): one row per order line."},
	"inputs.transactions.path":      {help: "The file, or a glob of files read in lexical order.", example: "transactions.csv", required: true},
	"inputs.transactions.format":    {help: "parquet, csv (gzip too) or text (columns separated by white space); empty: by the file name's extension.", example: "csv"},
	"inputs.transactions.delimiter": {help: "The delimiter of a csv file; empty: a comma.", example: `";"`},
	"inputs.transactions.header":    {help: "Whether a csv or text file starts with a row of column names (default true); without one, columns are named 1, 2, ...", example: "false"},
	"inputs.transactions.columns":   {help: "The file's column for a column of the input contract; a column not listed is looked up by its own name.", example: "{customer_id: CustomerID, ts: InvoiceDate, amount: Amount}"},
	"inputs.transactions.formats":   {help: "The strptime format of a date or timestamp column read from text; default ISO 8601.", example: `{ts: "%d/%m/%Y %H:%M"}`},
	"inputs.products":               {help: "Products (optional): supplies the category through product_id.", example: "products.csv"},
	"inputs.campaigns":              {help: "Acquisition spend per channel and month (optional; docs/definitions.md, Customer economics).", example: "campaigns.csv"},
	"output":                        {help: "The output root: each run writes runs/<run_id>/ below it and points latest at it."},
	"keep_runs":                     {help: "Run directories kept under output/runs (latest always among them); 0 keeps every run."},
	"metrics_file":                  {help: "Where a run writes its outcome for Prometheus' node_exporter textfile collector; its directory must exist. Default: none.", example: "/var/lib/node_exporter/textfile/crmseg.prom"},
	"as_of":                         {help: "End of the observation window, YYYY-MM-DD; default: the date of the latest accepted transaction.", example: "2025-12-31"},
	"today":                         {help: "The run's date, YYYY-MM-DD, for the rule rejecting rows dated in the future; default: the day the run starts (UTC).", example: "2026-01-01"},
	"seed":                          {help: "Drives every random choice: the same inputs, configuration and seed give the same outputs."},
	"threads":                       {help: "Threads of DuckDB and k-means; 0 = all cores. Outputs do not depend on it."},
	"memory_limit":                  {help: "DuckDB's memory_limit (64MB or more; B, KB, MB, GB, TB, KiB to TiB); default: a sixth of the machine's memory.", example: "4GB"},
	"csv_formulas":                  {help: "escape or keep: text cells a spreadsheet would run as formulas, in the CSV copies of the tables."},
	"segmentation":                  {help: "The features and k-means (docs/definitions.md, k-means and Choosing k)."},
	"segmentation.k":                {help: "Number of segments (1 to 100)."},
	"segmentation.n_init":           {help: "k-means restarts; the lowest inertia wins."},
	"segmentation.max_iter":         {help: "Iterations per restart."},
	"segmentation.sample_size":      {help: "Customers the restarts run on before the best is finished on all; 0 = max(50,000, 2,000·k), -1 = all."},
	"segmentation.features": {help: "Per-customer numeric features, each {name, transform: none|log1p, method: standard|robust|none, weight}; default: the set below, less what the inputs cannot supply.",
		example: flowYAML(DefaultFeatures)},
	"segmentation.category_mix_weight":        {help: "Weight of the share of spend per product category; 0 leaves it out."},
	"segmentation.channel_mix_weight":         {help: "Weight of the share of spend per channel; 0 leaves it out."},
	"segmentation.demographics":               {help: "Customer columns one-hot encoded (standard ones, or inputs.customers.attributes)."},
	"segmentation.demographic_weight":         {help: "Weight of the demographics; 0 leaves them out."},
	"segmentation.algorithm":                  {help: "k-means iteration: hamerly (exact, fast; the default when empty), lloyd, or minibatch (approximate, very large inputs).", example: "hamerly"},
	"segmentation.choose_k":                   {help: "Pick k from a range instead of segmentation.k (docs/definitions.md, Choosing k). Default: none, k is used."},
	"segmentation.choose_k.min":               {help: "Smallest k tried (2 or more).", example: "3"},
	"segmentation.choose_k.max":               {help: "Largest k tried (100 at most).", example: "8"},
	"segmentation.choose_k.min_size":          {help: "Smallest share of customers a segment of an eligible k holds.", example: "0.03"},
	"segmentation.choose_k.bootstraps":        {help: "Resamples measuring stability (default 10).", example: "10"},
	"segmentation.choose_k.silhouette_sample": {help: "Sample size of the silhouette (default 2000).", example: "2000"},
	"segmentation.assignments":                {help: "A file of segments made elsewhere (customer_id, segment_id[, name]) that every metric, model and target takes instead of k-means (docs/configuration.md, Bring your own segments). Default: none.", example: "segments.csv"},
	"segmentation.model":                      {help: "A model file (crmseg train, or a run's model.json) to assign customers with, without training. Default: none.", example: "model.json"},
	"segmentation.match_max_distance":         {help: "Segment IDs: a new centroid farther than this (scaled units) from every previous one gets a new ID; 0 = no limit."},
	"segmentation.hysteresis":                 {help: "Keep a customer's previous segment unless another centroid is nearer by more than this share; 0 = off."},
	"segmentation.warm_start":                 {help: "Retraining with the previous k: one more start from the previous centroids..."},
	"segmentation.warm_start_margin":          {help: "...kept unless a fresh restart's inertia is lower by more than this share."},
	"segmentation.min_size":                   {help: "Smallest share of customers a trained segment holds; smaller clusters are dissolved into the others (0 = off)."},
	"segmentation.outlier_clip":               {help: "Bound every centred feature's scaled value to ± this many standard deviations (IQRs with method robust) before clustering (0 = off)."},
	"targets":                                 {help: "Segment objectives and the targets set from them (docs/definitions.md, Objectives and targets)."},
	"targets.objectives":                      {help: "Objective per segment ID, overriding the rule. Default: none.", example: "{3: cross_sell}"},
	"targets.uplift":                          {help: "Uplift per objective and metric: relative for counts and money, share points for rates. An objective listed replaces its defaults whole."},
	"targets.baseline":                        {help: "model (the customer-value models' forecast) or last_12m: where revenue, orders and active-customer baselines come from."},
	"rejects":                                 {help: "Row checks (docs/inputs.md)."},
	"rejects.max_share":                       {help: "Abort (exit 3) when more than this share of transaction rows is rejected."},
	"rejects.unknown_customers":               {help: "reject or keep: transactions of customers missing from the customers file."},
	"rejects.zero_amounts":                    {help: "reject or keep: rows of amount 0 (kept, purchases of no value)."},
	"value":                                   {help: "Customer-value models (docs/definitions.md, Customer-value models)."},
	"value.monthly_discount_rate":             {help: "Discounts each month of predicted_clv_12m."},
	"value.backtest_holdout":                  {help: "Refit as of as_of less this span (90d, 39w, 6m) and compare with what happened (model_backtest). Default: no backtest.", example: "39w"},
	"value.model":                             {help: "Purchase model: bg_nbd, mbg_nbd, pareto_nbd, or auto (the best on the backtest; needs backtest_holdout)."},
	"value.spend_model":                       {help: "Spend model: gamma_gamma, first_order, per_segment, or auto (docs/definitions.md, Choosing the spend model)."},
	"economics":                               {help: "Customer economics (docs/definitions.md, Customer economics)."},
	"economics.horizon_months":                {help: "Months after as_of that acquisition_value's predicted_clv covers (1 to 120)."},
}

// inputKeys are the keys of an input file the template shows under each
// input; an input not listed shows its path alone.
var inputKeys = map[string][]string{
	"transactions": {"path", "format", "delimiter", "header", "columns", "formats"},
	"customers":    {"path", "attributes"},
}

const templateHeader = `# crmseg configuration: every key, with its default (docs/configuration.md).
# A line "#key: value" is a setting left out, with an example: remove the "#" to set it.
# Relative paths are relative to this file. Check it with: crmseg validate --config FILE
`

// Template is a config file of every key, each with a one-line
// description: the keys with a default set to it, those without one
// (as_of, a model file, choose_k) commented out with an example, and
// inputs.transactions.path set to transactions.csv. It decodes to
// DefaultConfig with that path (crmseg config init prints it).
func Template() string {
	var b strings.Builder
	b.WriteString(templateHeader)
	writeFields(&b, reflect.ValueOf(DefaultConfig()), "", 0, false)
	return b.String()
}

// writeFields writes the keys of struct v, at the dotted path prefix and
// the indentation depth, commented out when commented is set.
func writeFields(b *strings.Builder, v reflect.Value, prefix string, depth int, commented bool) {
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		writeKey(b, key, name, v.Field(i), depth, commented)
	}
}

// writeKey writes one key: its description, then the key and its value.
func writeKey(b *strings.Builder, key, name string, v reflect.Value, depth int, commented bool) {
	indent := strings.Repeat("  ", depth)
	doc := keyDocs[key]
	if depth == 0 {
		b.WriteByte('\n')
	}
	fmt.Fprintf(b, "%s# %s\n", indent, doc.help)
	mark := ""
	if commented {
		mark = "#"
	}
	switch {
	case v.Type() == reflect.TypeFor[InputSpec]():
		keys, ok := inputKeys[name]
		if !ok {
			fmt.Fprintf(b, "%s#%s: %s\n", indent, name, doc.example)
			return
		}
		sub := commented || !keyDocs[key+".path"].required
		if sub {
			mark = "#"
		}
		fmt.Fprintf(b, "%s%s%s:\n", indent, mark, name)
		for _, k := range keys {
			f, _ := fieldByYAML(v.Type(), k)
			writeKey(b, key+"."+k, k, v.FieldByIndex(f.Index), depth+1, sub)
		}
	case v.Kind() == reflect.Struct:
		fmt.Fprintf(b, "%s%s%s:\n", indent, mark, name)
		writeFields(b, v, key, depth+1, commented)
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct:
		if v.IsNil() {
			fmt.Fprintf(b, "%s#%s:\n", indent, name)
			writeFields(b, reflect.New(v.Type().Elem()).Elem(), key, depth+1, true)
			return
		}
		fmt.Fprintf(b, "%s%s%s:\n", indent, mark, name)
		writeFields(b, v.Elem(), key, depth+1, commented)
	default:
		value := flowYAML(v.Interface())
		switch {
		case doc.required:
			value = doc.example
		case doc.example != "" && (commented || v.IsZero()):
			value, mark = doc.example, "#"
		}
		if !strings.Contains(value, "\n") {
			fmt.Fprintf(b, "%s%s%s: %s\n", indent, mark, name, value)
			return
		}
		fmt.Fprintf(b, "%s%s%s:\n", indent, mark, name)
		for _, line := range strings.Split(strings.TrimSuffix(value, "\n"), "\n") {
			fmt.Fprintf(b, "%s  %s%s\n", indent, mark, line)
		}
	}
}

// flowYAML is v in YAML, with every list or mapping of plain values on
// one line ([a, b], {k: v}) and without the keys of a mapping whose value
// is empty text (a feature's transform not given); a value of nested lists
// or mappings takes a line per item and ends with a newline.
func flowYAML(v any) string {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		panic(fmt.Sprintf("config: template value %v: %v", v, err))
	}
	var flow func(n *yaml.Node) bool // reports whether n is a plain value
	flow = func(n *yaml.Node) bool {
		if n.Kind == yaml.MappingNode {
			var kept []*yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if v := n.Content[i+1]; v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value != "" {
					kept = append(kept, n.Content[i], v)
				}
			}
			n.Content = kept
		}
		plain := true
		for _, c := range n.Content {
			if !flow(c) {
				plain = false
			}
		}
		if n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode {
			if plain {
				n.Style = yaml.FlowStyle
			}
			return false
		}
		return true
	}
	flow(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		panic(fmt.Sprintf("config: template value %v: %v", v, err))
	}
	enc.Close()
	out := buf.String()
	if strings.Count(out, "\n") == 1 {
		return strings.TrimSuffix(out, "\n")
	}
	return out
}
