package engine

import (
	"context"
	"database/sql"
	"time"

	"github.com/crmseg/crmseg/datasets"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
)

// Validation is the data-quality summary of crmseg validate.
type Validation struct {
	AsOf                  string                   `json:"as_of"`
	Inputs                []manifest.Input         `json:"inputs"`
	TransactionsRead      int64                    `json:"transactions_read"`
	TransactionsAccepted  int64                    `json:"transactions_accepted"`
	TransactionsAfterAsOf int64                    `json:"transactions_after_as_of"` // outside the window of an explicit as_of
	CustomersAfterAsOf    int64                    `json:"customers_after_as_of"`    // not yet customers on as_of
	Rejects               []manifest.RejectCount   `json:"rejects"`
	ValuesSetToNull       []manifest.RejectCount   `json:"values_set_to_null"`
	SeparatedBlock        *manifest.SeparatedBlock `json:"separated_block,omitempty"`
	MaxShare              float64                  `json:"max_share"`
	FirstTS               string                   `json:"first_ts,omitempty"`
	LastTS                string                   `json:"last_ts,omitempty"`
	Customers             int64                    `json:"customers"`             // accepted customers
	CustomersWithOrders   int64                    `json:"customers_with_orders"` // of those, with an accepted positive line
	Orphans               int64                    `json:"orphans"`               // transaction rows of unknown customers
	Returns               int64                    `json:"returns"`               // accepted negative lines
	// Windows say how much of each metric window the data covers (from the
	// first accepted order to the last); MetricsLeftOut the metrics a run would leave
	// out.
	Windows        []manifest.WindowCoverage `json:"windows"`
	MetricsLeftOut []manifest.MetricLeftOut  `json:"metrics_left_out"`
	// Warnings are what a run would warn of besides the windows and the
	// metrics left out: an explicit as_of after the run's date.
	Warnings []string `json:"warnings,omitempty"`
}

// Validate runs the checks of a run that come before its rows, the very
// ones a run makes (checkConfig and inspect: the configuration, the output
// root's latest, the schema of every file, the features against the
// inputs, the model file against the features), then the row checks and
// the demographics' number of levels, and returns the data-quality summary. It writes nothing under the output
// root. The error is a *RejectedError (with the summary still returned)
// when the run would abort on the rejects, and a *config.ConfigError (the
// summary returned too) when a model file does not fit the features the
// accepted lines leave (categories, without a category on any line).
func Validate(ctx context.Context, cfg config.Config, opts Options) (*Validation, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	r := &run{cfg: cfg, opts: opts, log: opts.Logger, man: &manifest.Manifest{}, started: opts.Now().UTC(), stage: time.Now()}
	inputs, err := inspect(&cfg)
	if err != nil {
		return nil, err
	}
	s, closeSession, err := startSession(ctx, &cfg, "", "crmseg-validate-", r.log)
	if err != nil {
		return nil, err
	}
	defer closeSession()
	r.s = s
	if err := r.ingest(ctx, inputs); err != nil {
		return nil, err
	}
	q := r.man.Quality
	v := &Validation{
		Inputs: r.man.Inputs, TransactionsRead: q.TransactionsRead, TransactionsAccepted: q.TransactionsAccepted,
		TransactionsAfterAsOf: q.TransactionsAfterAsOf, CustomersAfterAsOf: q.CustomersAfterAsOf,
		Rejects: q.Rejects, ValuesSetToNull: q.ValuesSetToNull, SeparatedBlock: q.SeparatedBlock, MaxShare: cfg.Rejects.MaxShare,
	}
	var first, last sql.NullString
	var firstOrder, lastOrder sql.NullTime
	var filled dataFilled
	span, err := modelSQL("reads/validation_span")
	if err != nil {
		return nil, err
	}
	if err := s.conn.QueryRowContext(ctx, span).Scan(&first, &last, &v.Returns, &firstOrder, &lastOrder,
		&filled.category, &filled.channel); err != nil {
		return nil, err
	}
	data := supply{inputs: inputs, filled: &filled}
	v.FirstTS, v.LastTS = first.String, last.String
	if v.Windows, err = s.windowCoverage(ctx, firstOrder, lastOrder); err != nil {
		return nil, err
	}
	v.MetricsLeftOut = metricsLeftOut(v.Windows, data.missingData)
	if w := r.asOfWarning(); w != "" {
		v.Warnings = append(v.Warnings, w)
	}
	r.warnCoverage(v.Windows)
	v.AsOf = r.man.AsOf
	customers, err := modelSQL("reads/validation_customers")
	if err != nil {
		return nil, err
	}
	if err := s.conn.QueryRowContext(ctx, customers).Scan(&v.Customers, &v.CustomersWithOrders, &v.Orphans); err != nil {
		return nil, err
	}
	if err := r.checkRejects(); err != nil {
		return v, err
	}
	if err := checkFeatures(&cfg, data); err != nil {
		return v, err
	}
	// The demographics' levels, as the run's features stage counts them.
	if err := r.buildStage(ctx, "features", supply{inputs: inputs}, nil); err != nil {
		return v, err
	}
	if _, err = s.sparseColumns(ctx, r.sparseWeight); err != nil {
		return v, err
	}
	// The rows of segmentation.assignments, checked as the run checks them.
	if cfg.Segmentation.Assignments != "" {
		n, err := s.queryInt(ctx, "SELECT count(*) FROM customer_features")
		if err != nil {
			return v, err
		}
		if _, err := r.readAssignments(ctx, inputs[datasets.SegmentAssignments.Name], int(n)); err != nil {
			return v, err
		}
	}
	return v, nil
}
