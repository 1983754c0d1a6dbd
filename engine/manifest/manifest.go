// Package manifest defines the record of one run: what went in, with which
// settings, what came out, and how well it went. The engine fills it as the
// run goes, publishes it as the run's manifest.json, and the run store
// records it in the run history and the metrics file.
package manifest

import (
	"encoding/json"
	"fmt"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/internal/nullable"
)

// ModelRecord is one fitted customer-value model, as recorded in the
// manifest and the models table.
type ModelRecord struct {
	Model     string             `json:"model"`
	TimeUnit  string             `json:"time_unit"`
	Customers float64            `json:"customers"`
	Converged bool               `json:"converged"`
	LogLik    nullable.Float     `json:"log_likelihood"`
	Params    map[string]float64 `json:"parameters"`
	StdErrs   map[string]float64 `json:"std_errors"`
	Error     string             `json:"error,omitempty"`
}

// ValueData is the manifest's record of the check of the purchase
// histories before the value models are fitted (scoring.CheckData), as of
// End: the figures, the limits (times in weeks) and the problems, if any.
type ValueData struct {
	End             string   `json:"end"`
	Customers       float64  `json:"customers"`
	RepeatBuyers    float64  `json:"repeat_buyers"`
	SpanWeeks       float64  `json:"span_weeks"`
	DistinctX       int      `json:"distinct_repeat_counts"`
	StartShare      float64  `json:"first_week_share"`
	MinCustomers    float64  `json:"min_customers"`
	MinRepeatBuyers float64  `json:"min_repeat_buyers"`
	MinSpanWeeks    float64  `json:"min_span_weeks"`
	MinDistinctX    int      `json:"min_distinct_repeat_counts"`
	MaxStartShare   float64  `json:"max_first_week_share"`
	Sufficient      bool     `json:"sufficient"`
	Problems        []string `json:"problems,omitempty"`
}

// BandError is the manifest's record of the model error the targets'
// P10-P90 bands take from the backtest: the relative standard deviation of
// forecast totals beyond what chance and the calibration fit's parameter
// uncertainty explain (scoring.CalibrateModelError), pooled over this run's
// segments and the recency-frequency groups of the calibration histories
// (scoring.ErrorGroup), and each group's own.
type BandError struct {
	Purchases float64          `json:"purchases"`
	Active    float64          `json:"active_customers"`
	Revenue   float64          `json:"revenue"`
	Groups    []BandErrorGroup `json:"groups"`
}

// BandErrorGroup is one recency-frequency group's forecast error in the
// holdout beyond chance and parameter uncertainty, relative to its
// forecast.
type BandErrorGroup struct {
	Group     int     `json:"group"`
	Label     string  `json:"label"`
	Customers float64 `json:"customers"`
	Purchases float64 `json:"purchases"`
	Active    float64 `json:"active_customers"`
	Revenue   float64 `json:"revenue"`
}

// Backtest is the manifest's record of the customer-value backtest: the
// models refitted on the purchases up to CalibrationEnd and their
// predictions for the holdout (CalibrationEnd, HoldoutEnd] against what
// the customers did.
type Backtest struct {
	Holdout            string        `json:"holdout"` // as configured, e.g. 39w
	CalibrationEnd     string        `json:"calibration_end"`
	HoldoutEnd         string        `json:"holdout_end"` // as_of
	HoldoutWeeks       float64       `json:"holdout_weeks"`
	Customers          int64         `json:"customers"` // customers with a purchase by calibration_end
	ActualPurchases    int64         `json:"actual_purchases"`
	PredictedPurchases float64       `json:"predicted_purchases"`
	ActualRevenue      float64       `json:"actual_revenue"`
	PredictedRevenue   float64       `json:"predicted_revenue"`
	Models             []ModelRecord `json:"models"`
	// BandError is the model error the targets' bands take from the
	// backtest (see calibrateBands).
	BandError *BandError `json:"band_error,omitempty"`
	Error     string     `json:"error,omitempty"`
	// Model is the purchase model of the figures above and of
	// model_backtest (value.model, or the one auto chose); Compared holds
	// the holdout figures of every purchase model, that one first, so that
	// the backtest can inform the choice, or make it.
	Model    string          `json:"model"`
	Compared []ModelBacktest `json:"compared"`
	// SpendModel is the spend model of the revenue figures above and of
	// model_backtest (value.spend_model, or the one auto chose);
	// SpendCompared holds the holdout revenue of every spend model, with
	// the purchase model in use, that one first.
	SpendModel    string          `json:"spend_model"`
	SpendCompared []SpendBacktest `json:"spend_compared"`
	// Data is the check of the calibration histories.
	Data *ValueData `json:"data,omitempty"`
}

// ModelBacktest is one purchase model's prediction of the holdout, with
// Gamma-Gamma's spend per purchase, against what happened: errors are
// predicted / actual - 1 (null when undefined or when the model was not
// used, Error saying why).
type ModelBacktest struct {
	Model              string         `json:"model"`
	LogLik             nullable.Float `json:"log_likelihood"`
	PredictedPurchases nullable.Float `json:"predicted_purchases"`
	PredictedRevenue   nullable.Float `json:"predicted_revenue"`
	PurchasesError     nullable.Float `json:"purchases_error"`
	RevenueError       nullable.Float `json:"revenue_error"`
	Error              string         `json:"error,omitempty"`
}

// ModelChoice is the manifest's record of value.model: auto: the purchase
// model the backtest chose, by which of the backtest's figures (Measure,
// of ModelBacktest), each candidate's error by it and the reason.
type ModelChoice struct {
	Model      string           `json:"model"`
	Measure    string           `json:"measure"`
	Reason     string           `json:"reason"`
	Candidates []ModelCandidate `json:"candidates"`
}

// ModelCandidate is one purchase model auto chose from: its holdout error,
// the absolute value of its PurchasesError, or, when it has none, why.
type ModelCandidate struct {
	Model        string         `json:"model"`
	HoldoutError nullable.Float `json:"holdout_error"`
	Error        string         `json:"error,omitempty"`
}

// MarshalJSON writes the holdout's customers, purchases and revenue as
// null when the backtest was not possible (Error set): zeros would read as
// a forecast of nothing against nothing.
func (b Backtest) MarshalJSON() ([]byte, error) {
	type plain Backtest
	out := struct {
		plain
		Customers          *int64   `json:"customers"`
		ActualPurchases    *int64   `json:"actual_purchases"`
		PredictedPurchases *float64 `json:"predicted_purchases"`
		ActualRevenue      *float64 `json:"actual_revenue"`
		PredictedRevenue   *float64 `json:"predicted_revenue"`
	}{plain: plain(b)}
	if b.Error == "" {
		out.Customers, out.ActualPurchases = &b.Customers, &b.ActualPurchases
		out.PredictedPurchases, out.ActualRevenue, out.PredictedRevenue = &b.PredictedPurchases, &b.ActualRevenue, &b.PredictedRevenue
	}
	return json.Marshal(out)
}

// Manifest describes one run: what went in, with which settings, what came
// out, and how well it went. It is written as manifest.json in the run's
// directory.
type Manifest struct {
	RunID string `json:"run_id"`
	// PreviousRunID is the run the delta and migration compare with (the
	// output root's latest when this run segmented); empty for a first run.
	PreviousRunID string        `json:"previous_run_id,omitempty"`
	Status        string        `json:"status"`
	AsOf          string        `json:"as_of"`
	StartedAt     string        `json:"started_at"`
	Seed          uint64        `json:"seed"`
	Inputs        []Input       `json:"inputs"`
	Outputs       []Output      `json:"outputs"`
	Model         *File         `json:"model,omitempty"` // the segmentation model, model.json
	Models        []ModelRecord `json:"models"`          // the customer-value models
	Backtest      *Backtest     `json:"backtest,omitempty"`
	ValueData     *ValueData    `json:"value_data,omitempty"` // the check of the histories before the value models
	// SpendFrequency is the check of Gamma-Gamma's assumption that a
	// repeat buyer's spend per purchase does not go with how often the
	// buyer purchases; nil when Gamma-Gamma was not fitted.
	SpendFrequency *SpendFrequency `json:"spend_frequency,omitempty"`
	Quality        Quality         `json:"quality"`
	// ModelChoice records how value.model: auto chose the purchase model;
	// nil when the configuration names it.
	ModelChoice *ModelChoice `json:"model_choice,omitempty"`
	// SpendModel is the spend model in use (value.spend_model's, or
	// auto's choice) with per_segment's fits; nil when the value models
	// were not reached.
	SpendModel *SpendModel `json:"spend_model,omitempty"`
	// SpendModelChoice records how value.spend_model: auto chose the spend
	// model; nil when the configuration names it.
	SpendModelChoice *ModelChoice `json:"spend_model_choice,omitempty"`
	// Windows say how much of each metric window the data covers;
	// MetricsLeftOut the metrics not published, and why.
	Windows        []WindowCoverage  `json:"windows"`
	MetricsLeftOut []MetricLeftOut   `json:"metrics_left_out"`
	Timings        []Timing          `json:"timings"`
	Versions       map[string]string `json:"versions"`
	Config         config.Config     `json:"config"`

	// PeakRSSBytes is the process's peak resident memory in bytes from its
	// start to the end of the run's last stage (getrusage's maxrss, kept
	// across the per-stage resets); 0 where it is not measured. It is at
	// least every stage's PeakRSSBytes.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// StagePeakRSS says what each timing's PeakRSSBytes is: "stage", the
	// stage's own peak (Linux, VmHWM reset at the stage's start); or
	// "run_so_far", the process's peak up to the stage's end, where VmHWM
	// cannot be reset; or "not_measured".
	StagePeakRSS string `json:"stage_peak_rss"`

	// Scorecard summarises the run's segment_scorecard; nil when no plan
	// of record covers as_of.
	Scorecard *Scorecard `json:"scorecard,omitempty"`

	// SegmentIDFloor is the highest segment ID the output root had given
	// when the run segmented: a segment new in the run is numbered above
	// it. An experiment on the run numbers its new segments as the run did.
	SegmentIDFloor int `json:"segment_id_floor"`
	// Experiment is set when the run is an experiment (crmseg experiment
	// run); nil for a run.
	Experiment *Experiment `json:"experiment,omitempty"`
}

// Experiment is the manifest's record of an experiment: a variant
// configuration run on exactly the inputs of a published run (BaseRunID),
// written under experiments/<Name>/ of the output root. It never moves
// latest and writes no customer_segments_delta.
type Experiment struct {
	Name      string `json:"name"`
	BaseRunID string `json:"base_run_id"`
	// Variant is the variant configuration file as given; its text is
	// kept beside the tables as variant.yaml.
	Variant string `json:"variant"`
}

// Scorecard is the manifest's record of the run's scorecard
// (segment_scorecard): the plan of record whose horizon holds as_of, how far
// into the horizon the run is, the customers measured, and the plan's
// targets by status (a target without a status, whose figure is undefined
// to date, is in Rows only).
type Scorecard struct {
	PlanID       int    `json:"plan_id"`
	PlanRunID    string `json:"plan_run_id"`
	HorizonStart string `json:"horizon_start"`
	HorizonEnd   string `json:"horizon_end"`
	DaysElapsed  int64  `json:"days_elapsed"`
	// Customers are those in the plan's segments: the customers of the
	// plan's run still in this run, and AddedCustomers, those new since,
	// given a segment by the plan's model. UnassignedCustomers are new
	// customers the model could not assign (its features are not the
	// run's), left out.
	Customers           int64 `json:"customers"`
	AddedCustomers      int64 `json:"added_customers"`
	UnassignedCustomers int64 `json:"unassigned_customers"`
	Rows                int64 `json:"rows"`
	Ahead               int64 `json:"ahead"`
	OnTrack             int64 `json:"on_track"`
	AtRisk              int64 `json:"at_risk"`
	Behind              int64 `json:"behind"`
}

// Input is one input file as read.
type Input struct {
	Table  string `json:"table"`
	Path   string `json:"path"`
	Format string `json:"format"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Output is one output table and its files.
type Output struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
	Files []File `json:"files"`
}

// File is one written file, relative to the run's directory.
type File struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Quality holds the run's data-quality and model-quality figures.
type Quality struct {
	TransactionsRead     int64 `json:"transactions_read"`
	TransactionsAccepted int64 `json:"transactions_accepted"`
	// TransactionsAfterAsOf are the rows dated after an explicit as_of:
	// outside the run's window, neither accepted nor rejected, and not in
	// the reject share. CustomersAfterAsOf are the customers left out as not
	// yet customers on as_of (signed up later, no transaction up to it).
	TransactionsAfterAsOf int64         `json:"transactions_after_as_of"`
	CustomersAfterAsOf    int64         `json:"customers_after_as_of"`
	Rejects               []RejectCount `json:"rejects"`
	// ValuesSetToNull are the values of kept customers that cannot be right
	// (a signup_date in the future, a birth_date out of range), per column
	// and reason: the value is null in the run, the customer is kept. The
	// example's column names the field.
	ValuesSetToNull []RejectCount `json:"values_set_to_null"`
	// SeparatedBlock is a block of transaction days at one end of the data,
	// beyond a wide gap, too large to reject as stray (a warning); nil when
	// there is none.
	SeparatedBlock *SeparatedBlock     `json:"separated_block,omitempty"`
	Segmentation   SegmentationQuality `json:"segmentation"`
	Delta          DeltaCounts         `json:"delta"`
}

// DeltaCounts are the rows of customer_segments_delta by change.
type DeltaCounts struct {
	New     int64 `json:"new"`
	Changed int64 `json:"changed"`
	Exit    int64 `json:"exit"`
}

// SeparatedBlock is Rows of the Of accepted transaction rows (by day),
// dated From to To, separated from the rest by a gap of GapDays days, wider
// than BlockGapDays, the widest gap within a block.
type SeparatedBlock struct {
	Rows         int64  `json:"rows"`
	Of           int64  `json:"of"`
	GapDays      int64  `json:"gap_days"`
	From         string `json:"from"`
	To           string `json:"to"`
	BlockGapDays int64  `json:"block_gap_days"`
}

// String is the warning as the log and crmseg validate show it.
func (b *SeparatedBlock) String() string {
	return fmt.Sprintf("%d rows (%.2f%%) dated %s to %s lie in a block separated from the rest by a gap of %d days",
		b.Rows, 100*float64(b.Rows)/float64(max(b.Of, 1)), b.From, b.To, b.GapDays)
}

// RejectCount is the number of rows of a table rejected for one reason.
type RejectCount struct {
	Table  string `json:"table"`
	Reason string `json:"reason"`
	Rows   int64  `json:"rows"`
	// Example is the first rejected row of the reason (by file and row);
	// nil in the run history, which keeps the counts only.
	Example *RejectExample `json:"example,omitempty"`
}

// RejectExample is one rejected row: where it is, its rejected column and
// that column's value as found (empty when missing).
type RejectExample struct {
	File   string `json:"file"`
	Row    int64  `json:"row"`
	Column string `json:"column"`
	Value  string `json:"value"`
}

// String is the example as the log and crmseg validate show it.
func (e *RejectExample) String() string {
	return fmt.Sprintf("%s row %d, %s %q", e.File, e.Row, e.Column, e.Value)
}

// SegmentationQuality records the k-means fit.
type SegmentationQuality struct {
	K          int     `json:"k"`
	Customers  int     `json:"customers"`
	Features   int     `json:"features"`
	Inertia    float64 `json:"inertia"`
	Iterations int     `json:"iterations"`
	Converged  bool    `json:"converged"`
	Restarts   int     `json:"restarts"`
	Algorithm  string  `json:"algorithm"`
	// Source says where the segments came from: trained (first training),
	// retrained (matched to the previous run's model), model (assigned
	// with a given model file, no training) or assignments (the
	// segmentation.assignments file).
	Source     string         `json:"source"`
	Silhouette nullable.Float `json:"silhouette"` // null when undefined (one segment)
	// ChangedShare is the share of the customers present in both this and
	// the previous run whose segment changed; Compared is their number
	// (0 when there is no previous run).
	ChangedShare float64 `json:"changed_share"`
	Compared     int64   `json:"compared"`
	// HysteresisKept counts the customers segmentation.hysteresis kept in
	// their previous segment although another centroid was nearer.
	HysteresisKept int64 `json:"hysteresis_kept"`
	// WarmStart reports whether the fit kept the start from the previous
	// run's centroids (segmentation.warm_start).
	WarmStart bool `json:"warm_start"`
	// SampleRows is the number of customers the restarts ran on before the
	// best was finished on all of them (segmentation.sample_size); 0 when
	// the segments were assigned with a model.
	SampleRows int `json:"sample_rows"`
	// Lifecycle is the windows a segment's status (new, active, lapsing,
	// lapsed) is judged over, from the history the data holds.
	Lifecycle Lifecycle `json:"lifecycle"`
	// Dissolved are the clusters a training found smaller than
	// segmentation.min_size, smallest first: their customers went to the
	// nearest of the other clusters, which were then fitted again.
	Dissolved []DissolvedCluster `json:"dissolved,omitempty"`
	// OutlierClip is segmentation.outlier_clip as the training used it
	// (the model's, when assigning); Clipped counts, per feature, the
	// customers whose scaled value it bounded (features with none left
	// out).
	OutlierClip float64          `json:"outlier_clip"`
	Clipped     []ClippedFeature `json:"clipped,omitempty"`
	// Assignments, with segmentation.assignments, counts what the file and
	// the run's customers do not share.
	Assignments *AssignmentsQuality `json:"assignments,omitempty"`
}

// AssignmentsQuality is how a segmentation.assignments file meets the
// run's customers.
type AssignmentsQuality struct {
	File string `json:"file"`
	// FileCustomers are the customers the file holds; NotInRun those of
	// them the run does not have, left out.
	FileCustomers int64 `json:"file_customers"`
	NotInRun      int64 `json:"not_in_run"`
	// Unassigned are the run's customers the file does not hold: the
	// segment Unassigned.
	Unassigned int64 `json:"unassigned"`
}

// ClippedFeature is a feature on which some customers lay beyond
// segmentation.outlier_clip.
type ClippedFeature struct {
	Feature   string `json:"feature"`
	Customers int    `json:"customers"`
}

// Lifecycle is how a segment's status is judged: a customer is new when
// the first order falls in the last NewDays days up to as_of, active when
// an order does in the last ActiveDays; both are at most a year and shrink
// with a shorter history (HistoryDays, from the first order in the data to
// as_of), so that in a one-year export not every customer is new.
type Lifecycle struct {
	HistoryDays int `json:"history_days"`
	NewDays     int `json:"new_days"`
	ActiveDays  int `json:"active_days"`
}

// DissolvedCluster is a cluster too small to be a segment.
type DissolvedCluster struct {
	Customers int     `json:"customers"`
	Share     float64 `json:"share"`
}

// Timing is the wall time and peak resident memory of one stage.
type Timing struct {
	Stage   string  `json:"stage"`
	Seconds float64 `json:"seconds"`
	// PeakRSSBytes is the stage's peak resident memory in bytes, as
	// Manifest.StagePeakRSS says; 0 (left out) where not measured, and in
	// runs recorded before the history kept it.
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
}

// WindowCoverage is how much of a metric window the data covers: the days
// of the window from the date of the first accepted order to that of the
// last, both included.
type WindowCoverage struct {
	Window      string  `json:"window"` // last_12m or previous_12m
	Start       string  `json:"start"`  // first day, inclusive
	End         string  `json:"end"`    // last day, inclusive
	Days        int64   `json:"days"`
	CoveredDays int64   `json:"covered_days"`
	Coverage    float64 `json:"coverage"` // CoveredDays / Days
}

// MetricLeftOut is a metric of segment_metrics and segment_targets that a run
// does not publish, and why.
type MetricLeftOut struct {
	Metric string `json:"metric"`
	Reason string `json:"reason"`
}

// Stages are the stages of a run in order, as Timings names them: a failed
// run stopped in the first stage it has no timing for.
var Stages = []string{"inspect", "ingest", "features", "segment", "score", "targets", "scorecard", "publish", "report"}

// SpendFrequency is the Pearson correlation, over the repeat buyers the
// spend model is fitted on, between their repeat purchases and their mean
// spend per repeat purchase (scoring.SpendFrequencyCorrelation);
// Independent when it lies within Limit either way.
type SpendFrequency struct {
	Correlation nullable.Float `json:"correlation"`
	Customers   float64        `json:"customers"`
	Limit       float64        `json:"limit"`
	Independent bool           `json:"independent"`
}

// SpendModel is the spend model in use: gamma_gamma, first_order or
// per_segment (value.spend_model, or what auto chose). Under per_segment,
// Segments holds each segment's Gamma-Gamma fit (gamma_gamma_segment_ID);
// one with an error was not used, its customers taking the fit on every
// customer (the models' gamma_gamma).
type SpendModel struct {
	Model    string        `json:"model"`
	Segments []ModelRecord `json:"segments,omitempty"`
}

// SpendBacktest is one spend model's forecast of the backtest's holdout
// revenue: predicted revenue is the purchase model in use's forecast times
// the spend model's expected spend; SpendError, what value.spend_model:
// auto chooses by, is the spend model's own error: the customers'
// holdout purchases times their expected spend per purchase against their
// revenue, |difference| summed over the frequency rows of model_backtest,
// over the holdout's revenue. Null when undefined or the model was not
// used (Error saying why).
type SpendBacktest struct {
	Model            string         `json:"model"`
	PredictedRevenue nullable.Float `json:"predicted_revenue"`
	RevenueError     nullable.Float `json:"revenue_error"`
	SpendError       nullable.Float `json:"spend_error"`
	Error            string         `json:"error,omitempty"`
}
