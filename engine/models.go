package engine

import (
	"context"
	"fmt"
	"path"
	"slices"
	"time"
)

// materialisation is how a registered SQL file becomes (or does not become)
// a relation of the run's database.
type materialisation string

const (
	// A view: for models read once, or filtered by every reader.
	matView materialisation = "view"
	// A table: for models read many times or expensive to recompute, and
	// for the published tables. There are no temporary tables: DuckDB holds
	// those in memory uncompressed, where the run database's tables are
	// compressed in its file (see openSession).
	matTable materialisation = "table"
	// A data check: a query that must return zero rows, run after the
	// models of its stage.
	matCheck materialisation = "check"
	// A table Go fills (Appender or Arrow): the file is its CREATE TABLE.
	matGoTable materialisation = "go table"
	// A query whose rows Go reads; it builds nothing.
	matRead materialisation = "read"
)

// buildStages are the pipeline's stages that build SQL models, in run order.
// buildStage builds one stage's models; the pipeline's Go steps run between
// stages.
var buildStages = []string{"ingest", "features", "segment", "score", "drift", "delta"}

// sqlModel is one SQL file of engine/sql and how the run uses it.
type sqlModel struct {
	// file is the path under engine/sql without .sql, e.g.
	// "marts/segment_summary"; the relation it builds is named after its
	// base name.
	file string
	// stage is the stage whose buildStage builds it (views, tables, checks);
	// "" for files Go runs itself at its own point: go tables, reads, the
	// staging views that stand in for an input file that is not given, and
	// the scorecard's models, built around the figures Go adds up.
	stage string
	mat   materialisation
	// deps are the relations the SQL reads: other models, or the sources
	// Go registers (goSources). TestRegistryDependencies parses the SQL
	// and requires exactly these.
	deps []string
	// params name the bound parameters $1, $2, ... in order; buildStage
	// binds them from the run's parameters (run.modelParams).
	params []string
}

// relation is the name of the table or view the model builds.
func (m *sqlModel) relation() string { return path.Base(m.file) }

// sqlModels is the registry of the SQL files the run uses, by layer. Every
// stage builds its models in an order that follows from deps (modelOrder).
var sqlModels = []sqlModel{
	// Staging: one model per source, plus the run's parameters.
	// params comes first, on its own: the stand-ins for a customers file
	// read the window it sets.
	{file: "staging/params", mat: matTable, deps: []string{"src_transactions"}, params: []string{"as_of", "keep_zero_amounts", "today"}},
	{file: "staging/stg_customers", stage: "ingest", mat: matTable, deps: []string{"params", "src_customers", "src_transactions"}},
	{file: "staging/stg_products", stage: "ingest", mat: matTable, deps: []string{"src_products"}},
	{file: "staging/stg_transactions", stage: "ingest", mat: matTable, deps: []string{"src_transactions", "stg_customers", "stg_products"}},
	// Stand-ins for inputs not given, built by ingest under a source's name.
	{file: "staging/src_customers_from_transactions", mat: matView, deps: []string{"params", "src_transactions"}},
	{file: "staging/src_customers_with_unknown", mat: matView, deps: []string{"src_customers_file", "src_customers_tx"}},
	{file: "staging/src_products_empty", mat: matTable},
	{file: "staging/src_campaigns_empty", mat: matTable},
	{file: "staging/stg_campaigns", stage: "ingest", mat: matTable, deps: []string{"src_campaigns", "stg_customers"}, params: []string{"today"}},

	// Intermediate.
	{file: "intermediate/rejects", stage: "ingest", mat: matTable, deps: []string{"input_files", "stg_campaigns", "stg_customers", "stg_products", "stg_transactions"}},
	{file: "intermediate/int_customers", stage: "ingest", mat: matView, deps: []string{"stg_customers"}},
	{file: "intermediate/int_lines", stage: "ingest", mat: matView, deps: []string{"stg_transactions"}},
	{file: "intermediate/int_orders", stage: "features", mat: matTable, deps: []string{"int_lines"}},
	{file: "intermediate/customer_segment_map", stage: "segment", mat: matTable, deps: []string{"segment_assignment", "segment_names"}},
	{file: "intermediate/previous_assignment", mat: matRead, deps: []string{"customer_features", "previous_segments"}},
	{file: "intermediate/int_customer_categories", stage: "score", mat: matTable, deps: []string{"customer_mix", "customer_segment_map"}},
	{file: "intermediate/int_category_pairs", stage: "score", mat: matTable, deps: []string{"int_customer_categories"}},
	{file: "intermediate/int_next_best_category", stage: "score", mat: matTable, deps: []string{"int_category_pairs", "int_customer_categories"}},
	{file: "intermediate/int_rfm_grid", stage: "score", mat: matTable},
	{file: "intermediate/int_rfm_thresholds", stage: "score", mat: matTable, deps: []string{"customer_features", "int_rfm_grid"}},
	{file: "intermediate/int_customer_rfm", stage: "score", mat: matView, deps: []string{"customer_features", "int_rfm_thresholds"}},
	// Customer economics (economics.go).
	{file: "intermediate/customer_value_horizon_12m", mat: matView, deps: []string{"customer_value"}},
	{file: "intermediate/int_campaign_cac", stage: "score", mat: matView, deps: []string{"stg_campaigns"}},
	{file: "intermediate/int_acquisition_customers", stage: "score", mat: matView, deps: []string{"customer_features", "customer_segment_map", "int_campaign_cac"}},
	{file: "intermediate/int_acquisition_months", stage: "score", mat: matTable, deps: []string{"int_acquisition_customers", "int_lines"}},

	// Marts.
	{file: "marts/customer_features", stage: "features", mat: matTable, deps: []string{"customer_mix", "int_customers", "int_lines", "int_orders"}},
	{file: "marts/customer_mix", stage: "features", mat: matTable, deps: []string{"int_lines"}},
	{file: "marts/customer_sparse", stage: "features", mat: matView, deps: []string{"customer_features", "customer_mix", "int_customers", "src_customer_attributes"}},
	{file: "marts/customer_segments", stage: "score", mat: matTable, deps: []string{"customer_segment_map", "customer_value", "int_customer_rfm", "int_next_best_category"}, params: []string{"has_category"}},
	{file: "marts/segment_summary", stage: "score", mat: matTable, deps: []string{"customer_features", "customer_segment_map", "int_lines"}},
	{file: "marts/segment_value", stage: "score", mat: matTable, deps: []string{"customer_segment_map", "customer_value"}},
	{file: "marts/model_backtest", stage: "score", mat: matTable, deps: []string{"backtest_customers", "backtest_params", "customer_segment_map", "segment_names"}},
	{file: "marts/segment_channel_mix", stage: "score", mat: matTable, deps: []string{"customer_segment_map", "int_lines"}},
	{file: "marts/segment_metrics", stage: "score", mat: matTable, deps: []string{"acquisition_value", "segment_channel_mix", "segment_names", "segment_summary", "segment_value"}, params: []string{"left_out_metrics"}},
	{file: "marts/acquisition_value", stage: "score", mat: matTable, deps: []string{"customer_value_horizon", "int_acquisition_customers", "int_acquisition_months", "int_campaign_cac", "segment_names"}, params: []string{"horizon_months", "value_error"}},
	{file: "marts/category_pairs", stage: "score", mat: matTable, deps: []string{"int_category_pairs", "segment_names"}},
	{file: "marts/cohort_retention", stage: "score", mat: matTable, deps: []string{"customer_features", "customer_segment_map", "int_orders", "segment_names"}},
	{file: "marts/rfm_segments", stage: "score", mat: matTable, deps: []string{"customer_value", "int_customer_rfm"}, params: []string{"left_out_metrics"}},
	{file: "marts/segment_drift", stage: "drift", mat: matTable, deps: []string{"customer_segments", "previous_segments", "segment_changes"}},
	{file: "marts/customer_segments_delta", stage: "delta", mat: matTable, deps: []string{"customer_segments", "previous_customer_segments"}},
	{file: "marts/segment_migration", stage: "delta", mat: matTable, deps: []string{"customer_segments", "previous_segments"}},
	// The scorecard against the plan of record (scorecard.go).
	{file: "intermediate/scorecard_window", mat: matView, deps: []string{"scorecard_plan"}},
	{file: "intermediate/scorecard_phasing", mat: matView, deps: []string{"scorecard_figures", "scorecard_plan", "scorecard_targets", "scorecard_window"}},
	{file: "marts/segment_scorecard", mat: matTable, deps: []string{"scorecard_figures", "scorecard_phasing", "scorecard_plan", "scorecard_targets", "scorecard_window"}},

	// Checks.
	{file: "checks/customers_once", stage: "score", mat: matCheck, deps: []string{"customer_features", "customer_segments"}},
	{file: "checks/segment_sizes", stage: "score", mat: matCheck, deps: []string{"segment_summary"}},
	{file: "checks/rfm_scores", stage: "score", mat: matCheck, deps: []string{"customer_segments"}},

	// Tables Go fills.
	{file: "ddl/input_files", mat: matGoTable},
	{file: "ddl/sparse_columns", mat: matGoTable},
	{file: "ddl/segment_names", mat: matGoTable},
	{file: "ddl/k_selection", mat: matGoTable},
	{file: "ddl/segment_changes", mat: matGoTable},
	{file: "ddl/models", mat: matGoTable},
	{file: "ddl/backtest_customers", mat: matGoTable},
	{file: "ddl/backtest_params", mat: matGoTable},
	{file: "ddl/segments", mat: matGoTable},
	{file: "ddl/segment_targets", mat: matGoTable},
	{file: "ddl/scenario_results", mat: matGoTable},
	{file: "ddl/scorecard_plan", mat: matGoTable},
	{file: "ddl/scorecard_targets", mat: matGoTable},
	{file: "ddl/scorecard_figures", mat: matGoTable},

	// Queries Go reads.
	{file: "reads/sparse_features", mat: matRead, deps: []string{"customer_sparse", "sparse_columns"}},
	{file: "reads/assignment_problems", mat: matRead, deps: []string{"src_segment_assignments"}},
	{file: "reads/assignment_segments", mat: matRead, deps: []string{"customer_features", "src_segment_assignments"}},
	{file: "reads/assignment_summary", mat: matRead, deps: []string{"customer_features", "src_segment_assignments"}},
	{file: "reads/purchase_histories", mat: matRead, deps: []string{"int_lines", "int_orders"}, params: []string{"end"}},
	{file: "reads/backtest_totals", mat: matRead, deps: []string{"backtest_customers"}},
	{file: "reads/drift_totals", mat: matRead, deps: []string{"segment_drift"}},
	{file: "reads/target_summaries", mat: matRead, deps: []string{"segment_summary"}},
	{file: "reads/customer_segment_ids", mat: matRead, deps: []string{"customer_segment_map"}},
	{file: "reads/segment_conversions", mat: matRead, deps: []string{"customer_segment_map", "int_lines", "int_orders"}},
	{file: "reads/validation_span", mat: matRead, deps: []string{"int_lines"}},
	{file: "reads/validation_customers", mat: matRead, deps: []string{"int_customers", "int_lines", "stg_transactions"}},
	{file: "reads/reject_counts", mat: matRead, deps: []string{"rejects"}},
	{file: "reads/outside_window", mat: matRead, deps: []string{"stg_customers", "stg_transactions"}},
	{file: "reads/separated_block", mat: matRead, deps: []string{"params"}},
	{file: "reads/value_problems", mat: matRead, deps: []string{"input_files", "stg_customers"}},
	{file: "reads/customers_only_after_as_of", mat: matRead, deps: []string{"src_transactions", "stg_customers"}},
	{file: "reads/data_extent", mat: matRead, deps: []string{"customer_features", "customer_mix"}},
	{file: "reads/window_coverage", mat: matRead, params: []string{"data_start", "data_end"}},
	// crmseg scenario, on a published run's tables.
	{file: "reads/scenario_customers", mat: matRead, deps: []string{"run_customer_segments"}, params: []string{"as_of"}},
	{file: "reads/scenario_segments", mat: matRead, deps: []string{"run_segments"}},
	{file: "reads/scenario_targets", mat: matRead, deps: []string{"run_segment_targets"}},
	// A run's report (report.html), on the run's published tables.
	{file: "reads/report_segments", mat: matRead, deps: []string{"run_segments"}},
	{file: "reads/report_value", mat: matRead, deps: []string{"run_customer_segments"}},
	{file: "reads/report_retention", mat: matRead, deps: []string{"run_cohort_retention"}, params: []string{"months"}},
	{file: "reads/report_pairs", mat: matRead, deps: []string{"run_category_pairs"}, params: []string{"pairs_per_segment"}},
	{file: "reads/report_targets", mat: matRead, deps: []string{"run_segment_targets"}},
	{file: "reads/report_scorecard", mat: matRead, deps: []string{"run_segment_scorecard"}},
	{file: "reads/report_migration", mat: matRead, deps: []string{"run_segment_migration"}},
	{file: "reads/report_k_selection", mat: matRead, deps: []string{"run_k_selection"}},
	{file: "reads/report_backtest", mat: matRead, deps: []string{"run_model_backtest"}},
	// crmseg compare, on two published runs' tables.
	{file: "reads/compare_contingency", mat: matRead, deps: []string{"compared_customers_a", "compared_customers_b"}},
	{file: "reads/compare_customer_checks", mat: matRead, deps: []string{"compared_customers_a", "compared_customers_b"}},
	{file: "reads/compare_segments", mat: matRead, deps: []string{"compared_segments"}},
	{file: "reads/compare_metrics", mat: matRead, deps: []string{"compared_segment_metrics"}},
	{file: "reads/compare_targets", mat: matRead, deps: []string{"compared_segment_targets"}},
	{file: "reads/compare_k_selection", mat: matRead, deps: []string{"compared_k_selection"}},
	{file: "reads/compare_backtest", mat: matRead, deps: []string{"compared_model_backtest"}},
	{file: "reads/scorecard_plan_segments", mat: matRead, deps: []string{"customer_features", "plan_customer_segments"}},
	{file: "reads/scorecard_customers", mat: matRead, deps: []string{"customer_features", "int_lines", "int_orders", "scorecard_window"}},
}

// goSources are the relations Go makes from the inputs and its own results,
// which models read as sources.
var goSources = map[string]string{
	"src_transactions":           "loadSource: the transactions files",
	"src_customers":              "loadSource (the customers files) or a staging stand-in",
	"src_customers_file":         "ingest: the customers files, when unknown customers are kept",
	"src_customers_tx":           "ingest: the customers of the transactions, when unknown customers are kept",
	"src_products":               "loadSource (the products files) or staging/src_products_empty",
	"src_campaigns":              "loadSource (the campaigns files) or staging/src_campaigns_empty",
	"customer_value_horizon":     "horizonValue: the predicted value over the economics horizon, or intermediate/customer_value_horizon_12m",
	"src_customer_attributes":    "loadAttributes: the customers' extra demographic columns",
	"segment_assignment":         "storeSegmentation: each customer's segment through Arrow",
	"src_segment_assignments":    "readAssignments: the segmentation.assignments file",
	"customer_value":             "customerValue: the value models' predictions through Arrow",
	"previous_published":         "previousSegments: the latest run's customer_segments file",
	"previous_segments":          "previousSegments: the latest run's customer segment IDs",
	"previous_customer_segments": "previousCustomerSegments: the latest run's customer_segments with this run's columns",
	"run_customer_segments":      "Scenario, gatherReport: the published run's customer_segments file",
	"run_segments":               "Scenario, gatherReport: the published run's segments file",
	"run_segment_targets":        "Scenario, gatherReport: the published run's segment_targets file",
	"run_cohort_retention":       "gatherReport: the published run's cohort_retention file",
	"run_category_pairs":         "gatherReport: the published run's category_pairs file",
	"run_segment_scorecard":      "gatherReport: the published run's segment_scorecard file",
	"run_segment_migration":      "gatherReport: the published run's segment_migration file",
	"run_k_selection":            "gatherReport: the published run's k_selection file",
	"run_model_backtest":         "gatherReport: the published run's model_backtest file",
	"compared_customers_a":       "Compare: run A's customer_segments file",
	"compared_customers_b":       "Compare: run B's customer_segments file",
	"compared_segments":          "Compare: both runs' segments files, by column name, with their side",
	"compared_segment_metrics":   "Compare: both runs' segment_metrics files, with their side",
	"compared_segment_targets":   "Compare: both runs' segment_targets files, with their side",
	"compared_k_selection":       "Compare: both runs' k_selection files, with their side",
	"compared_model_backtest":    "Compare: both runs' model_backtest files, with their side",
	"plan_customer_segments":     "planScope: the customer_segments file of the plan of record's run",
}

// sqlOtherUses are the embedded SQL files that are not models: they are
// run as they are, outside the run's database or before any model.
var sqlOtherUses = map[string]string{
	"staging/macros": "openSession: the macros every model may call",
}

// registeredModel returns the registry entry of a file.
func registeredModel(file string) (*sqlModel, bool) {
	for i := range sqlModels {
		if sqlModels[i].file == file {
			return &sqlModels[i], true
		}
	}
	return nil, false
}

// modelOrder returns the models of a stage in an order where every model
// comes after the models of the same stage it depends on (and otherwise in
// registry order), checks last. It fails on a cycle.
func modelOrder(stage string) ([]*sqlModel, error) {
	return modelOrderOf(sqlModels, stage)
}

// modelOrderOf is modelOrder over the given registry.
func modelOrderOf(models []sqlModel, stage string) ([]*sqlModel, error) {
	var in []*sqlModel
	byRel := map[string]*sqlModel{}
	for i := range models {
		if m := &models[i]; m.stage == stage && m.mat != matCheck {
			in = append(in, m)
			byRel[m.relation()] = m
		}
	}
	const (
		unseen = iota
		visiting
		done
	)
	state := map[*sqlModel]int{}
	var out []*sqlModel
	var visit func(m *sqlModel, via []string) error
	visit = func(m *sqlModel, via []string) error {
		switch state[m] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("SQL models: dependency cycle %v", append(via, m.file))
		}
		state[m] = visiting
		for _, d := range m.deps {
			if dm, ok := byRel[d]; ok {
				if err := visit(dm, append(via, m.file)); err != nil {
					return err
				}
			}
		}
		state[m] = done
		out = append(out, m)
		return nil
	}
	for _, m := range in {
		if err := visit(m, nil); err != nil {
			return nil, err
		}
	}
	for i := range models {
		if m := &models[i]; m.stage == stage && m.mat == matCheck {
			out = append(out, m)
		}
	}
	return out, nil
}

// modelParams are the values of the models' named bound parameters: from
// the configuration, the run's date, what the data supplies and the
// metrics the run leaves out.
func (r *run) modelParams(data supply) map[string]any {
	var asOf any
	if r.cfg.AsOf != "" {
		asOf = r.cfg.AsOf
	}
	return map[string]any{
		"as_of":             asOf,
		"keep_zero_amounts": r.cfg.Rejects.ZeroAmounts == "keep",
		"today":             r.today(),
		"has_category":      data.hasData("category"),
		"left_out_metrics":  r.leftOutList(),
		"horizon_months":    r.cfg.Economics.HorizonMonths,
		"value_error":       r.valueError(),
	}
}

// today is the run's date (YYYY-MM-DD): the configured today, or the day
// the run started in UTC.
func (r *run) today() string {
	if r.cfg.Today != "" {
		return r.cfg.Today
	}
	return r.started.UTC().Format(time.DateOnly)
}

// buildStage builds the models of a stage in dependency order, their
// parameters bound for the data, then runs its checks. done, when not nil,
// is called after each model.
func (r *run) buildStage(ctx context.Context, stage string, data supply, done func()) error {
	if !slices.Contains(buildStages, stage) {
		return fmt.Errorf("SQL models: no stage %q", stage)
	}
	models, err := modelOrder(stage)
	if err != nil {
		return err
	}
	for _, m := range models {
		if err := r.buildModel(ctx, m, data); err != nil {
			return err
		}
		if done != nil && m.mat != matCheck {
			done()
		}
	}
	return nil
}

// buildModel builds one registered model with its bound parameters.
func (r *run) buildModel(ctx context.Context, m *sqlModel, data supply) error {
	var args []any
	if len(m.params) > 0 {
		params := r.modelParams(data)
		for _, p := range m.params {
			v, ok := params[p]
			if !ok {
				return fmt.Errorf("model %s: no value for parameter %s", m.file, p)
			}
			args = append(args, v)
		}
	}
	return r.s.build(ctx, m, args...)
}

// stageModels counts the models (not the checks) a stage builds.
func stageModels(stage string) int {
	n := 0
	for _, m := range sqlModels {
		if m.stage == stage && m.mat != matCheck {
			n++
		}
	}
	return n
}

// build runs one registered file as its materialisation says.
func (s *session) build(ctx context.Context, m *sqlModel, args ...any) error {
	switch m.mat {
	case matView:
		return s.viewAs(ctx, m.file, m.relation())
	case matTable:
		return s.modelAs(ctx, m.file, m.relation(), args...)
	case matCheck:
		return s.check(ctx, path.Base(m.file))
	case matGoTable:
		q, err := modelSQL(m.file)
		if err != nil {
			return err
		}
		if err := s.exec(ctx, q); err != nil {
			return fmt.Errorf("table %s: %w", m.file, err)
		}
		return nil
	}
	return fmt.Errorf("SQL model %s: %s is not built", m.file, m.mat)
}

// createTable creates a table Go fills from its registered DDL ("ddl/models").
func (s *session) createTable(ctx context.Context, file string) error {
	m, ok := registeredModel(file)
	if !ok || m.mat != matGoTable {
		return fmt.Errorf("SQL %s: not a registered go table", file)
	}
	return s.build(ctx, m)
}
