package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"gonum.org/v1/gonum/mathext"

	"github.com/crmseg/crmseg/datasets"
)

func generate(t *testing.T, cfg Config) (string, *Summary) {
	t.Helper()
	dir := t.TempDir()
	sum, err := Generate(context.Background(), cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, sum
}

func readRows[T any](t *testing.T, path string) []T {
	t.Helper()
	rows, err := parquet.ReadFile[T](path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, _ := generate(t, Config{Customers: 9000, Seed: 5, Threads: 1})
	b, _ := generate(t, Config{Customers: 9000, Seed: 5, Threads: 3})
	c, _ := generate(t, Config{Customers: 9000, Seed: 6, Threads: 1})
	for _, f := range []string{"customers.parquet", "transactions.parquet", "products.parquet", "truth/customers_truth.parquet", "truth/truth.json"} {
		fa, _ := os.ReadFile(filepath.Join(a, f))
		fb, _ := os.ReadFile(filepath.Join(b, f))
		if len(fa) == 0 || !bytes.Equal(fa, fb) {
			t.Errorf("%s differs between 1 and 3 threads (or is empty)", f)
		}
		fc, _ := os.ReadFile(filepath.Join(c, f))
		if f == "transactions.parquet" && bytes.Equal(fa, fc) {
			t.Errorf("%s is the same for seeds 5 and 6", f)
		}
	}
}

// TestGeneratedSchema checks the files against the input contract with the
// same footer inspection the pipeline uses.
func TestGeneratedSchema(t *testing.T) {
	dir, _ := generate(t, Config{Customers: 500, Seed: 1})
	want := map[string]map[string]string{
		"customers.parquet": {"customer_id": "string", "signup_date": "date", "birth_date": "date", "gender": "string",
			"region": "string", "income_band": "string", "acquisition_channel": "string", "acquisition_cost": "float"},
		"transactions.parquet": {"transaction_id": "integer", "order_id": "integer", "customer_id": "string", "ts": "timestamp",
			"amount": "float", "quantity": "integer", "category": "string", "product_id": "string", "channel": "string", "cost": "float"},
		"products.parquet": {"product_id": "string", "category": "string", "name": "string", "list_price": "float"},
	}
	tables := map[string]datasets.Table{"customers.parquet": datasets.Customers, "transactions.parquet": datasets.Transactions, "products.parquet": datasets.Products}
	for file, cols := range want {
		got, _, err := datasets.InspectParquet(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(cols) {
			t.Errorf("%s: %d columns, want %d", file, len(got), len(cols))
		}
		for _, c := range got {
			if cols[c.Name] != c.Family {
				t.Errorf("%s: column %s is %s (%s), want %s", file, c.Name, c.Family, c.Type, cols[c.Name])
			}
			lc, ok := tables[file].Column(c.Name)
			if !ok || !lc.Kind.Accepts(c.Family) {
				t.Errorf("%s: column %s (%s) is not accepted by the input contract", file, c.Name, c.Family)
			}
		}
	}
}

func TestGeneratedInvariants(t *testing.T) {
	cfg := Config{Customers: 3000, Seed: 2}
	dir, sum := generate(t, cfg)
	end := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	customers := readRows[customerRow](t, filepath.Join(dir, "customers.parquet"))
	lines := readRows[transactionRow](t, filepath.Join(dir, "transactions.parquet"))
	if len(customers) != 3000 || len(lines) != sum.Lines {
		t.Fatalf("%d customers, %d lines; summary says %d, %d", len(customers), len(lines), sum.Customers, sum.Lines)
	}
	signup := map[string]int32{}
	for _, c := range customers {
		signup[c.CustomerID] = c.SignupDate
	}
	ids := map[int64]bool{}
	firstOrder := map[string]int64{}
	orderTotal := map[int64]int64{} // cents of the positive lines
	orderTS := map[int64]int64{}
	returns := 0
	for _, l := range lines {
		if ids[l.TransactionID] {
			t.Fatalf("transaction_id %d repeated", l.TransactionID)
		}
		ids[l.TransactionID] = true
		if _, ok := signup[l.CustomerID]; !ok {
			t.Fatalf("line %d of unknown customer %s", l.TransactionID, l.CustomerID)
		}
		if l.TS >= end.UnixMicro() {
			t.Fatalf("line %d at %v, after the end", l.TransactionID, time.UnixMicro(l.TS))
		}
		if l.Amount == 0 || math.Abs(l.Amount*100-math.Round(l.Amount*100)) > 1e-6 {
			t.Fatalf("line %d amount %v: zero or not in cents", l.TransactionID, l.Amount)
		}
		if l.Amount < 0 {
			returns++
			if l.Quantity >= 0 || l.TS <= orderTS[l.OrderID] {
				t.Fatalf("return %d: quantity %d, at %v not after its order", l.TransactionID, l.Quantity, time.UnixMicro(l.TS))
			}
			continue
		}
		if l.Quantity < 1 {
			t.Fatalf("line %d quantity %d", l.TransactionID, l.Quantity)
		}
		orderTotal[l.OrderID] += int64(math.Round(l.Amount * 100))
		orderTS[l.OrderID] = l.TS
		if f, ok := firstOrder[l.CustomerID]; !ok || l.TS < f {
			firstOrder[l.CustomerID] = l.TS
		}
	}
	if returns != sum.Returns || returns == 0 {
		t.Errorf("%d returns, summary says %d", returns, sum.Returns)
	}
	if len(orderTotal) != sum.Orders {
		t.Errorf("%d orders, summary says %d", len(orderTotal), sum.Orders)
	}
	for id, d := range signup {
		f, ok := firstOrder[id]
		if !ok {
			t.Fatalf("customer %s has no order", id)
		}
		if int32(f/microsPerDay) != d {
			t.Fatalf("customer %s: first order on day %d, signup on day %d", id, f/microsPerDay, d)
		}
	}
	for id, cents := range orderTotal {
		if cents < 100 {
			t.Fatalf("order %d totals %d cents, below the 1.00 floor", id, cents)
		}
	}
}

// TestGeneratedModelStories checks each group's simulated customers against
// the closed forms of the models they follow. Within a group every customer
// has its own horizon T (signup to end); the BG/NBD expectation of repeat
// purchases in (0, T] (Fader, Hardie & Lee 2005, eq. 9),
//
//	E[X(T)] = (a+b−1)/(a−1) · [1 − (α/(α+T))^r · 2F1(r, b; a+b−1; T/(α+T))],
//
// averaged over the group's customers, must match the mean number of repeat
// orders within four standard errors. Likewise the mean order value must
// match the Gamma-Gamma mean pγ/(q−1), and group shares their setting.
func TestGeneratedModelStories(t *testing.T) {
	cfg := Config{Customers: 40000, Seed: 3}
	dir, _ := generate(t, cfg)
	var truth Truth
	b, err := os.ReadFile(filepath.Join(dir, "truth", "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	customers := readRows[customerRow](t, filepath.Join(dir, "customers.parquet"))
	truthRows := readRows[truthRow](t, filepath.Join(dir, "truth", "customers_truth.parquet"))
	lines := readRows[transactionRow](t, filepath.Join(dir, "transactions.parquet"))
	endUS := truth.End.UnixMicro()

	k := len(truth.Groups)
	expected, sumX, sumX2, n := make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
	groupOf := map[string]int{}
	for i, c := range customers {
		tr := truthRows[i]
		if tr.CustomerID != c.CustomerID {
			t.Fatalf("truth row %d is %s, customer %s", i, tr.CustomerID, c.CustomerID)
		}
		g := int(tr.Group)
		groupOf[c.CustomerID] = g
		n[g]++
		x := float64(tr.RepeatOrders)
		sumX[g] += x
		sumX2[g] += x * x
	}
	firstTS := map[string]int64{}
	orderValue := map[int64]float64{}
	orderGroup := map[int64]int{}
	for _, l := range lines {
		if f, ok := firstTS[l.CustomerID]; !ok || l.TS < f {
			firstTS[l.CustomerID] = l.TS
		}
		if l.Amount > 0 {
			orderValue[l.OrderID] += l.Amount
			orderGroup[l.OrderID] = groupOf[l.CustomerID]
		}
	}
	for _, c := range customers {
		g := groupOf[c.CustomerID]
		gr := truth.Groups[g]
		T := float64(endUS-firstTS[c.CustomerID]) / float64(microsPerWeek)
		expected[g] += bgnbdExpected(gr.R, gr.Alpha, gr.A, gr.B, T)
	}
	for g, gr := range truth.Groups {
		mean := sumX[g] / n[g]
		se := math.Sqrt((sumX2[g]/n[g] - mean*mean) / n[g])
		want := expected[g] / n[g]
		if math.Abs(mean-want) > 4*se {
			t.Errorf("%s: %.4f repeat orders per customer, BG/NBD expects %.4f (se %.4f)", gr.Name, mean, want, se)
		}
		if share := n[g] / float64(len(customers)); math.Abs(share-gr.Share) > 4*math.Sqrt(gr.Share*(1-gr.Share)/float64(len(customers))) {
			t.Errorf("%s: share %.4f, want %.4f", gr.Name, share, gr.Share)
		}
	}
	// Order values: mean within 4 standard errors of pγ/(q−1), after the
	// 1.00 floor, which moves the mean by far less than the tolerance here.
	vs, vs2, vn := make([]float64, k), make([]float64, k), make([]float64, k)
	for id, v := range orderValue {
		g := orderGroup[id]
		vs[g] += v
		vs2[g] += v * v
		vn[g]++
	}
	for g, gr := range truth.Groups {
		mean := vs[g] / vn[g]
		se := math.Sqrt((vs2[g]/vn[g] - mean*mean) / vn[g])
		want := gr.P * gr.Gamma / (gr.Q - 1)
		if math.Abs(mean-want) > 4*se+0.01*want {
			t.Errorf("%s: mean order value %.2f, Gamma-Gamma expects %.2f (se %.2f)", gr.Name, mean, want, se)
		}
	}
}

// bgnbdExpected is E[X(t)] of BG/NBD.
func bgnbdExpected(r, alpha, a, b, t float64) float64 {
	z := t / (alpha + t)
	return (a + b - 1) / (a - 1) * (1 - math.Pow(alpha/(alpha+t), r)*mathext.Hypergeo(r, b, a+b-1, z))
}

func TestGroupsSeparation(t *testing.T) {
	base, wide := Groups(1), Groups(3)
	for i := range base {
		if base[i].Name != baseGroups[i].Name || math.Abs(base[i].Categories[0]-baseGroups[i].Categories[0]) > 1e-12 ||
			math.Abs(base[i].Alpha-baseGroups[i].Alpha) > 1e-9 || math.Abs(base[i].Gamma-baseGroups[i].Gamma) > 1e-9 {
			t.Errorf("separation 1 changed group %s", base[i].Name)
		}
		var maxBase, maxWide float64
		for j := range base[i].Categories {
			maxBase, maxWide = math.Max(maxBase, base[i].Categories[j]), math.Max(maxWide, wide[i].Categories[j])
		}
		if maxWide <= maxBase {
			t.Errorf("%s: separation 3 does not sharpen category preferences (%.2f vs %.2f)", base[i].Name, maxWide, maxBase)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, cfg := range []Config{{Customers: -1}, {Years: -2}, {Separation: -1}} {
		if _, err := Generate(context.Background(), cfg, t.TempDir()); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(context.Background(), Config{Customers: 10000, Seed: 1}, dir); err != nil {
			b.Fatal(err)
		}
	}
}
