package engine

import (
	"database/sql"
	"testing"
)

// TestPublicOnlineRetailCancelledOrder: Online Retail customer 16446 bought
// for 2.90 on 2011-05-18 and, on 2011-12-09, placed an order of 168,469.60
// that was cancelled twelve minutes later (invoice C581484). For the
// customer-value models the cancelled order is no purchase: 16446 is a
// one-time buyer of 2.90, valued like every one-time buyer (Gamma-Gamma's
// population mean spend per purchase), never among the most valuable
// customers.
func TestPublicOnlineRetailCancelledOrder(t *testing.T) {
	p := runPublic(t, "online_retail")
	var spend, clv sql.NullFloat64
	if err := p.db.QueryRow(`SELECT expected_spend, predicted_clv_12m FROM customer_segments WHERE customer_id = '16446'`).Scan(&spend, &clv); err != nil {
		t.Fatal(err)
	}
	// One-time buyers (one order in all history) share the population's
	// mean spend per purchase.
	oneTime := p.float(t, `SELECT max(expected_spend) FROM customer_segments WHERE frequency = 1`)
	if oneTime == 0 {
		t.Fatal("no one-time buyer with an expected spend")
	}
	if !spend.Valid || spend.Float64 > oneTime+0.005 {
		t.Errorf("16446: expected spend per purchase %v, want no more than a one-time buyer's %.2f", spend, oneTime)
	}
	if !clv.Valid {
		return // no prediction, as for a customer who never bought
	}
	valued := p.int(t, `SELECT count(predicted_clv_12m) FROM customer_segments`)
	higher := p.int(t, `SELECT count(*) FROM customer_segments WHERE predicted_clv_12m > ?`, clv.Float64)
	if higher < valued/10 {
		t.Errorf("16446: predicted CLV %.2f, the %d-th highest of %d customers; want it outside the top 10%%", clv.Float64, higher+1, valued)
	}
	if most := p.float(t, `SELECT max(predicted_clv_12m) FROM customer_segments WHERE frequency = 1`); clv.Float64 > most+0.005 {
		t.Errorf("16446: predicted CLV %.2f above every one-time buyer's (at most %.2f)", clv.Float64, most)
	}
}
