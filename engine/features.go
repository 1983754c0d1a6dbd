package engine

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/segmentation"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/segment"
)

// profileCols are the extra per-customer figures read with the features
// (FeatureMatrix.NetRevenue, Active and New): the SQL of each, in which
// new_days and active_days are the lifecycle windows.
var profileCols = []string{
	"net_revenue",
	"coalesce(date_diff('day', last_order_date, (SELECT as_of FROM params)) < active_days, false)",
	"coalesce(date_diff('day', first_order_date, (SELECT as_of FROM params)) < new_days, false)",
}

// features returns the numeric clustering features (numericFeatures),
// and logs the default ones the data cannot supply.
func (r *run) features(data supply) ([]segment.FeatureSpec, error) {
	out, err := numericFeatures(&r.cfg, data, func(f segment.FeatureSpec, need string) {
		r.log.Info("default feature left out", "feature", f.Name, "missing_column", need, "reason", data.missingData(need))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// numericFeatures returns the numeric clustering features: the configured
// ones, each checked against the inputs' columns (a *config.ConfigError
// naming every one the inputs cannot supply), or the defaults the data can
// supply, calling leftOut on each of the others with the column it needs.
// What the data supplies is known from the inputs' columns before the rows
// are read (supply.filled nil), from the accepted lines too after.
func numericFeatures(cfg *config.Config, data supply, leftOut func(f segment.FeatureSpec, need string)) ([]segment.FeatureSpec, error) {
	explicit := len(cfg.Segmentation.Features) > 0
	specs := cfg.Segmentation.Features
	if !explicit {
		specs = config.DefaultFeatures
	}
	var out []segment.FeatureSpec
	var problems []string
	for _, f := range specs {
		if need := config.CustomerFeatures[f.Name]; need != "" && !data.hasColumn(need) && explicit {
			problems = append(problems, fmt.Sprintf("segmentation.features: %s needs input column %s, which the inputs do not have", f.Name, need))
			continue
		}
		if need := config.CustomerFeatures[f.Name]; need != "" && !explicit && !data.hasData(need) {
			if leftOut != nil {
				leftOut(f, need)
			}
			continue
		}
		out = append(out, f)
	}
	if len(problems) > 0 {
		return nil, &config.ConfigError{Problems: problems}
	}
	return out, nil
}

// sparseWeight is the clustering weight of a sparse feature dimension.
func (r *run) sparseWeight(dimension string) float64 {
	sg := r.cfg.Segmentation
	switch dimension {
	case "category":
		return sg.CategoryMixWeight
	case "channel":
		return sg.ChannelMixWeight
	}
	for _, d := range sg.Demographics {
		if d == dimension {
			return sg.DemographicWeight
		}
	}
	return 0
}

// buildMatrix reads the features of every customer from customer_features
// and customer_sparse through Arrow into a dense matrix. A numeric feature
// with missing values (age without a birth date) takes the median of the
// others; one with no value at all, NaN or Inf is an error naming it.
func (s *session) buildMatrix(ctx context.Context, numeric []segment.FeatureSpec, sparseWeight func(dimension string) float64) (fm *segmentation.FeatureMatrix, err error) {
	n, err := s.queryInt(ctx, "SELECT count(*) FROM customer_features")
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, &RejectedError{Msg: "no customers left after validation: nothing to segment"}
	}

	sparse, err := s.sparseColumns(ctx, sparseWeight)
	if err != nil {
		return nil, err
	}

	d := len(numeric) + len(sparse)
	if d == 0 {
		return nil, &config.ConfigError{Problems: []string{"segmentation: no features to cluster on (no numeric feature and every mix or demographic weight is 0)"}}
	}
	fm = &segmentation.FeatureMatrix{
		Specs:      make([]segment.FeatureSpec, 0, d),
		X:          mat.NewDense(int(n), d, nil),
		Numeric:    len(numeric),
		NetRevenue: make([]float64, n),
		Active:     make([]float64, n),
		New:        make([]float64, n),
	}
	history, err := s.queryInt(ctx, "SELECT coalesce(date_diff('day', min(first_order_date), (SELECT as_of FROM params)), 0) FROM customer_features")
	if err != nil {
		return nil, err
	}
	fm.Lifecycle = segmentation.LifecycleWindows(int(history))
	// While Go holds the matrix, DuckDB's share of memory_limit shrinks by
	// its size (down to goPhaseMemory), so that the two together stay
	// within the limit; the limit comes back when the matrix is filled.
	if limit, ok := config.MemoryBytes(s.memoryLimit); ok {
		floor, _ := config.MemoryBytes(s.goPhaseMemory())
		share := max(limit-n*int64(d+3)*8, floor)
		restore, lerr := s.lowerMemoryLimit(ctx, strconv.FormatInt(share>>20, 10)+"MiB")
		if lerr != nil {
			return nil, lerr
		}
		defer func() { err = errors.Join(err, restore()) }()
	}
	fm.Specs = append(fm.Specs, numeric...)
	for _, c := range sparse {
		fm.Specs = append(fm.Specs, segment.FeatureSpec{Name: c.dimension + "=" + c.value, Method: "none", Weight: sparseWeight(c.dimension)})
	}

	// Numeric features, in one columnar read.
	var q strings.Builder
	q.WriteString("SELECT cust_idx::BIGINT AS cust_idx")
	windows := strings.NewReplacer("new_days", strconv.Itoa(fm.Lifecycle.NewDays), "active_days", strconv.Itoa(fm.Lifecycle.ActiveDays))
	for i, c := range profileCols {
		fmt.Fprintf(&q, ", (%s)::DOUBLE AS profile_%d", windows.Replace(c), i)
	}
	for _, f := range numeric {
		fmt.Fprintf(&q, ", %s AS %s", numericFeatureSQL(f.Name), sqlquote.Ident(f.Name))
	}
	q.WriteString(" FROM customer_features ORDER BY cust_idx")
	raw := fm.X.RawMatrix()
	profile := [][]float64{fm.NetRevenue, fm.Active, fm.New}
	err = s.arrowQuery(ctx, q.String(), func(rdr array.RecordReader) error {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			idx, ok := rec.Column(0).(*array.Int64)
			if !ok {
				return fmt.Errorf("cust_idx: unexpected Arrow type %s", rec.Column(0).DataType())
			}
			for c := 1; c < int(rec.NumCols()); c++ {
				name := rec.ColumnName(c)
				col, ok := rec.Column(c).(*array.Float64)
				if !ok {
					return fmt.Errorf("feature %s: unexpected Arrow type %s", name, rec.Column(c).DataType())
				}
				vals := col.Float64Values()
				for i, v := range vals {
					if col.IsNull(i) || math.IsNaN(v) || math.IsInf(v, 0) {
						return featureValueError(name, col.IsNull(i), v)
					}
					row := int(idx.Value(i)) - 1
					if c <= len(profileCols) {
						profile[c-1][row] = v
					} else {
						raw.Data[row*raw.Stride+c-1-len(profileCols)] = v
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	if len(sparse) == 0 {
		return fm, nil
	}
	if err := s.createTable(ctx, "ddl/sparse_columns"); err != nil {
		return nil, err
	}
	colRows := make([][]driver.Value, len(sparse))
	for i, c := range sparse {
		colRows[i] = []driver.Value{c.dimension, c.value, int32(i)}
	}
	if err := s.appendRows("sparse_columns", colRows); err != nil {
		return nil, err
	}
	base := len(numeric)
	sparseQuery, err := modelSQL("reads/sparse_features")
	if err != nil {
		return nil, err
	}
	err = s.arrowQuery(ctx, sparseQuery, func(rdr array.RecordReader) error {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			idx, ok1 := rec.Column(0).(*array.Int64)
			col, ok2 := rec.Column(1).(*array.Int32)
			val, ok3 := rec.Column(2).(*array.Float64)
			if !ok1 || !ok2 || !ok3 {
				return fmt.Errorf("sparse features: unexpected Arrow types %s", rec.Schema())
			}
			for i := 0; i < idx.Len(); i++ {
				v := val.Value(i)
				if val.IsNull(i) || math.IsNaN(v) || math.IsInf(v, 0) {
					return featureValueError(fm.Specs[base+int(col.Value(i))].Name, val.IsNull(i), v)
				}
				raw.Data[(int(idx.Value(i))-1)*raw.Stride+base+int(col.Value(i))] = v
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return fm, nil
}

// numericFeatureSQL is the SQL of a numeric feature's value as it is
// clustered, read from customer_features: a customer without one (age
// without a birth date) takes the median of the others.
func numericFeatureSQL(name string) string {
	id := sqlquote.Ident(name)
	return fmt.Sprintf("coalesce(%s, (SELECT median(%s) FROM customer_features))::DOUBLE", id, id)
}

// featureMatrixRelation is the view of the published customer_features
// (publishedFrom): the matrix that was clustered, in original units.
const featureMatrixRelation = "customer_feature_matrix"

// createFeatureMatrixView makes featureMatrixRelation: one row per
// customer with customer_id, segment_id and one DOUBLE column per feature
// of specs (the model's features, or the run's without a model), named as
// there: a numeric feature as numericFeatureSQL reads it, a spend share or
// one-hot column ("dimension=value") from customer_sparse, 0 where the
// customer has none. It is a view: the table is computed by the COPY that
// publishes it, in DuckDB, with no copy of the matrix in Go.
func (s *session) createFeatureMatrixView(ctx context.Context, specs []segment.FeatureSpec) error {
	var cols, pivot, sparseCols []string
	for _, f := range specs {
		id := sqlquote.Ident(f.Name)
		dim, value, isSparse := strings.Cut(f.Name, "=")
		if !isSparse {
			cols = append(cols, numericFeatureSQL(f.Name)+" AS "+id)
			continue
		}
		i := len(sparseCols)
		sparseCols = append(sparseCols, fmt.Sprintf("(%s, %s, %d)", sqlquote.Literal(dim), sqlquote.Literal(value), i))
		pivot = append(pivot, fmt.Sprintf("max(customer_sparse.x) FILTER (WHERE cols.col = %d) AS %s", i, id))
		cols = append(cols, fmt.Sprintf("coalesce(sparse.%s, 0)::DOUBLE AS %s", id, id))
	}
	var q strings.Builder
	q.WriteString("CREATE OR REPLACE VIEW " + sqlquote.Ident(featureMatrixRelation) + " AS ")
	if len(pivot) > 0 {
		fmt.Fprintf(&q, "WITH cols(dimension, value, col) AS (VALUES %s), "+
			"sparse AS (SELECT customer_sparse.cust_idx, %s FROM customer_sparse "+
			"JOIN cols ON customer_sparse.dimension = cols.dimension AND customer_sparse.value = cols.value "+
			"GROUP BY customer_sparse.cust_idx) ", strings.Join(sparseCols, ", "), strings.Join(pivot, ", "))
	}
	q.WriteString("SELECT customer_features.customer_id, customer_segment_map.segment_id")
	for _, c := range cols {
		q.WriteString(", " + c)
	}
	q.WriteString(" FROM customer_features JOIN customer_segment_map ON customer_features.cust_idx = customer_segment_map.cust_idx")
	if len(pivot) > 0 {
		q.WriteString(" LEFT JOIN sparse ON customer_features.cust_idx = sparse.cust_idx")
	}
	return s.exec(ctx, q.String())
}

// sparseCol is a sparse clustering feature: a value of a dimension
// (category, channel, or a demographic).
type sparseCol struct{ dimension, value string }

// sparseColumns returns the distinct (dimension, value) pairs of
// customer_sparse with a weight, refusing a demographic of more levels
// than config.MaxDemographicLevels (checkDemographicLevels).
func (s *session) sparseColumns(ctx context.Context, sparseWeight func(dimension string) float64) ([]sparseCol, error) {
	var sparse []sparseCol
	rows, err := s.conn.QueryContext(ctx, "SELECT dimension, value FROM customer_sparse GROUP BY dimension, value ORDER BY dimension, value")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var c sparseCol
		if err := rows.Scan(&c.dimension, &c.value); err != nil {
			rows.Close()
			return nil, err
		}
		if sparseWeight(c.dimension) > 0 {
			sparse = append(sparse, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	levels := map[string]int{}
	for _, c := range sparse {
		if c.dimension != "category" && c.dimension != "channel" {
			levels[c.dimension]++
		}
	}
	if err := checkDemographicLevels(levels); err != nil {
		return nil, err
	}
	return sparse, nil
}

// checkDemographicLevels refuses a demographic with more distinct values
// (levels, by demographic) than config.MaxDemographicLevels, naming each
// one: every value would be a one-hot column of its own.
func checkDemographicLevels(levels map[string]int) error {
	var problems []string
	for _, dim := range slices.Sorted(maps.Keys(levels)) {
		if n := levels[dim]; n > config.MaxDemographicLevels {
			problems = append(problems, fmt.Sprintf("segmentation.demographics: %s has %d distinct values, more than the %d a demographic may have "+
				"(each value becomes a one-hot column of its own): bin it into a few bands in the customers file (as income_band is), "+
				"or take it off segmentation.demographics; a number such as a cost or an amount is no demographic",
				dim, n, config.MaxDemographicLevels))
		}
	}
	if len(problems) > 0 {
		return &config.ConfigError{Problems: problems}
	}
	return nil
}

func featureValueError(name string, null bool, v float64) error {
	if null {
		return fmt.Errorf("feature %s has no value for any customer: its input column is missing or empty; remove it from segmentation.features", name)
	}
	return fmt.Errorf("feature %s: value %v is not finite", name, v)
}

// assignmentReader turns the cluster assignment into an Arrow record reader
// (cust_idx, segment_id, distance) for DuckDB to scan without a row-by-row
// copy through database/sql. The caller releases the reader.
func assignmentReader(mem memory.Allocator, segmentOf []int32, dist []float64) (array.RecordReader, error) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "cust_idx", Type: arrow.PrimitiveTypes.Int64},
		{Name: "segment_id", Type: arrow.PrimitiveTypes.Int32},
		{Name: "distance", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	n := len(segmentOf)
	idx := b.Field(0).(*array.Int64Builder)
	idx.Reserve(n)
	for i := range n {
		idx.UnsafeAppend(int64(i + 1))
	}
	b.Field(1).(*array.Int32Builder).AppendValues(segmentOf, nil)
	b.Field(2).(*array.Float64Builder).AppendValues(dist, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewRecordReader(schema, []arrow.RecordBatch{rec})
}
