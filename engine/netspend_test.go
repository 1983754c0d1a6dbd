package engine

import (
	"context"
	"database/sql"
	"math"
	"path/filepath"
	"testing"

	"github.com/crmseg/crmseg/internal/sqlquote"
)

// The customers added to generated data by TestCancelledOrdersAreNoPurchase,
// each with what the customer-value models must make of them.
//
//	cust  lines (order date amount)                                   for the models
//	Z1    9000001 2026-03-02 +50000; 9000002 2026-03-02 -50000        no purchase (a credit note of the same day)
//	Z2    9000003 2026-03-02 +50000 and -50000                        no purchase (cancelled within the order)
//	Z3    none (a customer on file)                                   no purchase
//	Z4    9000004 2025-09-01 +3; 9000005 2026-03-02 +50000;           one purchase of 3: the cancelled order is none
//	      9000006 2026-03-02 -50000
//	Z5    9000007 2025-09-01 +3                                       one purchase of 3
//	Z6    9000008 2025-09-01 +3; 9000009 2026-03-02 +50000,           one purchase of 3: a return filed under its
//	      returned under 9000009 on 2026-03-20                        order, days later, cancels that order
const cancelledCustomers = `
	('Z1', DATE '2025-01-05'), ('Z2', DATE '2025-01-05'), ('Z3', DATE '2025-01-05'),
	('Z4', DATE '2025-01-05'), ('Z5', DATE '2025-01-05'), ('Z6', DATE '2025-01-05')`

const cancelledTransactions = `
	(900000001, 9000001, 'Z1', TIMESTAMP '2026-03-02 10:00:00', 50000.00, 1),
	(900000002, 9000002, 'Z1', TIMESTAMP '2026-03-02 10:12:00', -50000.00, -1),
	(900000003, 9000003, 'Z2', TIMESTAMP '2026-03-02 10:00:00', 50000.00, 1),
	(900000004, 9000003, 'Z2', TIMESTAMP '2026-03-02 10:12:00', -50000.00, -1),
	(900000005, 9000004, 'Z4', TIMESTAMP '2025-09-01 10:00:00', 3.00, 1),
	(900000006, 9000005, 'Z4', TIMESTAMP '2026-03-02 10:00:00', 50000.00, 1),
	(900000007, 9000006, 'Z4', TIMESTAMP '2026-03-02 10:12:00', -50000.00, -1),
	(900000008, 9000007, 'Z5', TIMESTAMP '2025-09-01 10:00:00', 3.00, 1),
	(900000009, 9000008, 'Z6', TIMESTAMP '2025-09-01 10:00:00', 3.00, 1),
	(900000010, 9000009, 'Z6', TIMESTAMP '2026-03-02 10:00:00', 50000.00, 1),
	(900000011, 9000009, 'Z6', TIMESTAMP '2026-03-20 10:00:00', -50000.00, -1)`

// TestCancelledOrdersAreNoPurchase checks that the customer-value models see
// purchases net of what was returned of them: a customer whose only order
// was cancelled is valued as a customer who never bought, and an order
// cancelled the same day (by a credit note or within the order) or returned
// later under its own order number changes nothing of a customer's value.
func TestCancelledOrdersAreNoPurchase(t *testing.T) {
	data := generatedData(t, 2000, 0)
	dir := t.TempDir()
	db := memoryDB(t)
	customers := filepath.Join(dir, "customers.parquet")
	transactions := filepath.Join(dir, "transactions.parquet")
	genCust := sqlquote.Literal(filepath.Join(data, "customers.parquet"))
	genTx := sqlquote.Literal(filepath.Join(data, "transactions.parquet"))
	genProducts := sqlquote.Literal(filepath.Join(data, "products.parquet"))
	for _, q := range []string{
		`COPY (SELECT * FROM read_parquet(` + genCust + `)
			UNION ALL BY NAME SELECT * FROM (VALUES ` + cancelledCustomers + `) AS t(customer_id, signup_date))
			TO ` + sqlquote.Literal(customers) + ` (FORMAT parquet)`,
		`COPY (SELECT * FROM read_parquet(` + genTx + `)
			UNION ALL BY NAME
			SELECT transaction_id::BIGINT AS transaction_id, order_id::BIGINT AS order_id, customer_id, ts,
				amount::DOUBLE AS amount, quantity::INTEGER AS quantity,
				(SELECT min(product_id) FROM read_parquet(` + genProducts + `)) AS product_id, 'web' AS channel
			FROM (VALUES ` + cancelledTransactions + `) AS t(transaction_id, order_id, customer_id, ts, amount, quantity))
			TO ` + sqlquote.Literal(transactions) + ` (FORMAT parquet)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	cfg := generatedConfig(t, data, filepath.Join(dir, "out"))
	cfg.Inputs.Customers.Path, cfg.Inputs.Transactions.Path = customers, transactions
	cfg.Segmentation.K, cfg.Segmentation.NInit = 3, 1
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Manifest.Models {
		if m.Error != "" {
			t.Fatalf("model %s not fitted: %s", m.Model, m.Error)
		}
	}

	type value struct {
		purchases, spend, clv sql.NullFloat64
		historical            sql.NullFloat64
	}
	values := map[string]value{}
	rows := readTable(t, filepath.Join(res.Dir, "customer_segments.parquet"),
		`SELECT customer_id, expected_purchases_12m, expected_spend, predicted_clv_12m, historical_value::DOUBLE
		FROM $TABLE WHERE customer_id LIKE 'Z%'`)
	for rows.Next() {
		var id string
		var v value
		if err := rows.Scan(&id, &v.purchases, &v.spend, &v.clv, &v.historical); err != nil {
			t.Fatal(err)
		}
		values[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(values) != 6 {
		t.Fatalf("%d of the 6 added customers published: %v", len(values), values)
	}

	// noHigher reports whether a CLV is no higher than the never-buyer's:
	// no prediction when the never-buyer has none.
	never := values["Z3"].clv
	noHigher := func(c sql.NullFloat64) bool {
		if !never.Valid {
			return !c.Valid
		}
		return !c.Valid || c.Float64 <= never.Float64
	}
	for _, id := range []string{"Z1", "Z2"} {
		if v := values[id]; !noHigher(v.clv) || v.spend.Valid || v.purchases.Valid {
			t.Errorf("%s (only order cancelled the same day): expected purchases %v, spend %v, CLV %v; want no more than the never-buyer's (CLV %v)",
				id, v.purchases, v.spend, v.clv, never)
		}
	}

	// The cancelled order changes nothing: Z4 and Z6 are valued as Z5.
	twin := values["Z5"]
	if !twin.clv.Valid || !twin.spend.Valid {
		t.Fatalf("Z5 (one purchase of 3): no prediction %+v", twin)
	}
	for _, id := range []string{"Z4", "Z6"} {
		v := values[id]
		for _, f := range []struct {
			name      string
			got, want sql.NullFloat64
		}{{"expected purchases", v.purchases, twin.purchases}, {"expected spend", v.spend, twin.spend},
			{"CLV", v.clv, twin.clv}, {"historical value", v.historical, twin.historical}} {
			if f.got.Valid != f.want.Valid || math.Abs(f.got.Float64-f.want.Float64) > 0.005 {
				t.Errorf("%s (a purchase of 3 and a cancelled order of 50000): %s %v, want %v as for Z5 (the purchase of 3 alone)",
					id, f.name, f.got, f.want)
			}
		}
	}
	if v := values["Z4"]; v.spend.Float64 >= 50000 {
		t.Errorf("Z4: expected spend %v, the cancelled order's", v.spend.Float64)
	}
}
