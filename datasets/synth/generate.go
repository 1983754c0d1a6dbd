// Package synth is crmseg's seeded synthetic generator of customer and
// transaction exports: the demo data (crmseg generate, crmseg demo) and the
// test data of the engine's tests, with the ground truth of every customer
// beside it. The files it writes satisfy the input contract of package
// datasets; it does not import that package (its tests check the files
// against the contract).
//
// Parquet: the generator writes its files with parquet-go
// (github.com/parquet-go/parquet-go), the stack of package datasets, from Go
// structs with parquet tags. It needs no SQL engine, so the generator and its
// tests do not link DuckDB, and the same seed gives byte-identical files.
//
// # The generator
//
// Generate simulates the customers of a retailer over a span of years, drawn
// from a handful of latent groups that differ in demographics, acquisition
// channel and cost, purchase rate, dropout, spend, category preferences and
// channel use. Within a group, every customer follows the stories of the
// standard customer-base models, so that fitted models can be checked
// against the truth:
//
//   - Purchases follow BG/NBD (Fader, Hardie & Lee 2005, "Counting your
//     customers the easy way", Marketing Science 24(2)): the customer's
//     purchase rate λ ~ Gamma(r, α) per week and dropout probability
//     p ~ Beta(a, b); the customer makes a first order at signup, further
//     orders at Exponential(λ) intervals while alive, and after each repeat
//     order drops out with probability p.
//   - Order values follow Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma
//     model of monetary value"; Colombo & Jiang 1999): ν ~ Gamma(q, γ) per
//     customer, each order's value z ~ Gamma(p, ν).
//
// An order is split into one to three lines in different categories, the
// next line's category drawn from a category affinity (cross-buying) or the
// group's preferences. A line is returned, with some group-dependent chance,
// as a negative line 1 to 30 days later. The true group and parameters of
// every customer go to truth/, never into the inputs; Acquisition gives
// what the parameters imply for each acquisition channel (its cost, its
// customers' value), the truth of the engine's customer economics.
//
// Separation scales how different the groups are: 1 gives realistic
// overlap; larger values sharpen categorical preferences (p ∝ p^s) and push
// rates, spend and ages away from the common value (geometrically for rates
// and money), so that tests can ask for recoverable groups.
package synth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/crmseg/crmseg/internal/durable"
)

// Config configures Generate. The zero value of every field is a default.
type Config struct {
	Customers  int       `json:"customers"`  // 0 means 20000
	Seed       uint64    `json:"seed"`       // the same seed gives byte-identical files
	End        time.Time `json:"end"`        // end of the simulated history (exclusive); zero means 2026-07-01 UTC
	Years      float64   `json:"years"`      // length of the history; 0 means 3
	Separation float64   `json:"separation"` // 0 means 1 (realistic overlap between groups)
	Threads    int       `json:"-"`          // 0 means GOMAXPROCS; the output is the same for every value
	// Progress, when set, is called after each chunk of customers is
	// written with the chunks done and their total, for progress displays.
	Progress func(done, total int) `json:"-"`
}

// Summary counts what Generate wrote.
type Summary struct {
	Customers, Orders, Lines, Returns, Products int
	Files                                       []string
	FirstTS, LastTS                             time.Time
}

// Group is one latent customer group of the generator and its parameters.
type Group struct {
	Name  string  `json:"name"`
	Share float64 `json:"share"`
	// BG/NBD, rates per week.
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
	// Gamma-Gamma.
	P     float64 `json:"p"`
	Q     float64 `json:"q"`
	Gamma float64 `json:"gamma"`

	AgeMean      float64   `json:"age_mean"`
	Gender       []float64 `json:"gender"`               // over Genders
	Regions      []float64 `json:"regions"`              // over Regions
	Income       []float64 `json:"income_bands"`         // over IncomeBands
	Acquisition  []float64 `json:"acquisition_channels"` // over AcquisitionChannels
	Categories   []float64 `json:"categories"`           // over Categories
	Channels     []float64 `json:"channels"`             // over Channels
	ReturnChance float64   `json:"return_chance"`        // per line
}

// Value sets of the generated columns.
var (
	Genders             = []string{"F", "M", "X"}
	Regions             = []string{"North", "South", "East", "West", "Central"}
	IncomeBands         = []string{"low", "middle", "high", "very_high"}
	AcquisitionChannels = []string{"organic", "paid_search", "social", "referral", "affiliate", "email"}
	Categories          = []string{"grocery", "home", "electronics", "fashion", "beauty", "sports", "books", "garden"}
	Channels            = []string{"web", "app", "store", "phone"}
)

// acquisitionCost is the mean cost of a customer per acquisition channel.
var acquisitionCost = []float64{0, 28, 16, 12, 22, 6}

// categoryMargin and categoryPrice are the gross margin and typical list
// price of each category.
var (
	categoryMargin = []float64{0.22, 0.38, 0.18, 0.55, 0.6, 0.4, 0.3, 0.42}
	categoryPrice  = []float64{6, 35, 120, 40, 18, 45, 14, 30}
)

// affinity is the category a line most often leads to in the same order.
var affinity = []int{1, 7, 6, 4, 3, 3, 2, 1}

const productsPerCategory = 30

// baseGroups are the groups at Separation 1.
var baseGroups = []Group{
	{Name: "loyal high value", Share: 0.15, R: 1.2, Alpha: 5, A: 0.5, B: 10, P: 6, Q: 4, Gamma: 40,
		AgeMean: 48, Gender: []float64{0.5, 0.48, 0.02}, Regions: []float64{0.3, 0.15, 0.2, 0.15, 0.2},
		Income: []float64{0.05, 0.25, 0.45, 0.25}, Acquisition: []float64{0.35, 0.1, 0.05, 0.3, 0.05, 0.15},
		Categories: []float64{0.1, 0.25, 0.2, 0.05, 0.05, 0.05, 0.25, 0.05}, Channels: []float64{0.5, 0.15, 0.3, 0.05},
		ReturnChance: 0.03},
	{Name: "frequent bargain hunters", Share: 0.25, R: 1.5, Alpha: 4, A: 0.8, B: 6, P: 5, Q: 5, Gamma: 12,
		AgeMean: 36, Gender: []float64{0.6, 0.38, 0.02}, Regions: []float64{0.15, 0.3, 0.2, 0.2, 0.15},
		Income: []float64{0.4, 0.45, 0.12, 0.03}, Acquisition: []float64{0.1, 0.35, 0.1, 0.05, 0.35, 0.05},
		Categories: []float64{0.4, 0.2, 0.02, 0.08, 0.2, 0.05, 0.02, 0.03}, Channels: []float64{0.35, 0.5, 0.1, 0.05},
		ReturnChance: 0.05},
	{Name: "occasional big spenders", Share: 0.15, R: 0.6, Alpha: 8, A: 0.6, B: 5, P: 4, Q: 3, Gamma: 100,
		AgeMean: 55, Gender: []float64{0.4, 0.58, 0.02}, Regions: []float64{0.2, 0.2, 0.15, 0.15, 0.3},
		Income: []float64{0.02, 0.13, 0.35, 0.5}, Acquisition: []float64{0.3, 0.1, 0.02, 0.45, 0.03, 0.1},
		Categories: []float64{0.02, 0.15, 0.4, 0.05, 0.02, 0.16, 0.05, 0.15}, Channels: []float64{0.25, 0.05, 0.5, 0.2},
		ReturnChance: 0.06},
	{Name: "young digital", Share: 0.25, R: 0.9, Alpha: 5, A: 1, B: 4, P: 6, Q: 4, Gamma: 15,
		AgeMean: 25, Gender: []float64{0.55, 0.4, 0.05}, Regions: []float64{0.15, 0.15, 0.3, 0.3, 0.1},
		Income: []float64{0.35, 0.45, 0.15, 0.05}, Acquisition: []float64{0.1, 0.15, 0.6, 0.05, 0.05, 0.05},
		Categories: []float64{0.03, 0.05, 0.12, 0.35, 0.25, 0.15, 0.03, 0.02}, Channels: []float64{0.25, 0.7, 0.04, 0.01},
		ReturnChance: 0.1},
	{Name: "one-and-done", Share: 0.2, R: 0.3, Alpha: 10, A: 2, B: 2, P: 4, Q: 4, Gamma: 10,
		AgeMean: 42, Gender: []float64{0.5, 0.47, 0.03}, Regions: []float64{0.2, 0.2, 0.2, 0.2, 0.2},
		Income: []float64{0.3, 0.4, 0.2, 0.1}, Acquisition: []float64{0.05, 0.4, 0.15, 0.05, 0.3, 0.05},
		Categories: []float64{0.3, 0.2, 0.05, 0.2, 0.1, 0.05, 0.05, 0.05}, Channels: []float64{0.55, 0.1, 0.1, 0.25},
		ReturnChance: 0.04},
}

// Groups returns the latent groups at the given separation (0 means 1).
func Groups(separation float64) []Group {
	if separation == 0 {
		separation = 1
	}
	n := float64(len(baseGroups))
	// Common values: geometric means for rates and money, arithmetic for age.
	var lr, la, lg, age float64
	for _, g := range baseGroups {
		lr += math.Log(g.R / g.Alpha)
		la += math.Log(g.A / (g.A + g.B))
		lg += math.Log(g.Gamma)
		age += g.AgeMean
	}
	lr, la, lg, age = lr/n, la/n, lg/n, age/n
	out := make([]Group, len(baseGroups))
	for i, g := range baseGroups {
		s := separation
		// Push the mean purchase rate r/α and the spend scale γ away from
		// the common value; the shapes stay, so each group keeps its story.
		rate := math.Exp(lr + s*(math.Log(g.R/g.Alpha)-lr))
		g.Alpha = g.R / rate
		g.Gamma = math.Exp(lg + s*(math.Log(g.Gamma)-lg))
		drop := math.Exp(la + s*(math.Log(g.A/(g.A+g.B))-la))
		drop = math.Min(drop, 0.9)
		conc := g.A + g.B
		g.A, g.B = drop*conc, (1-drop)*conc
		g.AgeMean = math.Min(math.Max(age+s*(g.AgeMean-age), 20), 75)
		g.Gender = sharpen(g.Gender, s)
		g.Regions = sharpen(g.Regions, s)
		g.Income = sharpen(g.Income, s)
		g.Acquisition = sharpen(g.Acquisition, s)
		g.Categories = sharpen(g.Categories, s)
		g.Channels = sharpen(g.Channels, s)
		out[i] = g
	}
	return out
}

// sharpen raises probabilities to the power s and renormalises.
func sharpen(p []float64, s float64) []float64 {
	out := make([]float64, len(p))
	var sum float64
	for i, v := range p {
		out[i] = math.Pow(v, s)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// Rows of the generated files.
type customerRow struct {
	CustomerID         string  `parquet:"customer_id"`
	SignupDate         int32   `parquet:"signup_date,date"`
	BirthDate          *int32  `parquet:"birth_date,date"`
	Gender             string  `parquet:"gender"`
	Region             string  `parquet:"region"`
	IncomeBand         string  `parquet:"income_band"`
	AcquisitionChannel string  `parquet:"acquisition_channel"`
	AcquisitionCost    float64 `parquet:"acquisition_cost"`
}

type transactionRow struct {
	TransactionID int64   `parquet:"transaction_id"`
	OrderID       int64   `parquet:"order_id"`
	CustomerID    string  `parquet:"customer_id"`
	TS            int64   `parquet:"ts,timestamp(microsecond:local)"`
	Amount        float64 `parquet:"amount"`
	Quantity      int32   `parquet:"quantity"`
	Category      string  `parquet:"category"`
	ProductID     string  `parquet:"product_id"`
	Channel       string  `parquet:"channel"`
	Cost          float64 `parquet:"cost"`
}

type productRow struct {
	ProductID string  `parquet:"product_id"`
	Category  string  `parquet:"category"`
	Name      string  `parquet:"name"`
	ListPrice float64 `parquet:"list_price"`
}

type truthRow struct {
	CustomerID   string  `parquet:"customer_id"`
	Group        int32   `parquet:"group"`
	GroupName    string  `parquet:"group_name"`
	Lambda       float64 `parquet:"lambda"` // purchases per week
	P            float64 `parquet:"p"`      // dropout chance after each repeat order
	Nu           float64 `parquet:"nu"`     // Gamma-Gamma rate
	DropoutTS    *int64  `parquet:"dropout_ts,timestamp(microsecond:local)"`
	RepeatOrders int32   `parquet:"repeat_orders"`
}

// Truth is the content of truth/truth.json.
type Truth struct {
	Config     Config    `json:"config"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	TimeUnit   string    `json:"time_unit"`
	Groups     []Group   `json:"groups"`
	Customers  []int     `json:"customers_per_group"`
	Orders     int       `json:"orders"`
	Lines      int       `json:"lines"`
	Returns    int       `json:"returns"`
	Categories []string  `json:"categories"`
}

// chunkCustomers is the fixed number of customers generated from one random
// stream; chunks are generated in parallel and written in order.
const chunkCustomers = 4096

// chunk is the output of one chunk of customers; ids are assigned at write time.
type chunk struct {
	customers []customerRow
	lines     []transactionRow // OrderID holds the order's index within the chunk
	truth     []truthRow
	orders    int
	returns   int
	perGroup  []int
	first     int64
	last      int64
}

// Generate writes dir/customers.parquet, dir/transactions.parquet,
// dir/products.parquet and the ground truth dir/truth/truth.json and
// dir/truth/customers_truth.parquet. Each file is written under a temporary
// name and renamed when complete.
func Generate(ctx context.Context, cfg Config, dir string) (*Summary, error) {
	if cfg.Customers < 0 {
		return nil, fmt.Errorf("synth: Customers = %d, want 0 (default) or more", cfg.Customers)
	}
	if cfg.Years < 0 || cfg.Separation < 0 {
		return nil, fmt.Errorf("synth: Years (%g) and Separation (%g) must not be negative", cfg.Years, cfg.Separation)
	}
	if cfg.Customers == 0 {
		cfg.Customers = 20000
	}
	if cfg.End.IsZero() {
		cfg.End = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Years == 0 {
		cfg.Years = 3
	}
	if cfg.Separation == 0 {
		cfg.Separation = 1
	}
	threads := cfg.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if err := os.MkdirAll(filepath.Join(dir, "truth"), 0o755); err != nil {
		return nil, err
	}
	g := &generator{cfg: cfg, groups: Groups(cfg.Separation)}
	g.end = cfg.End.UTC()
	g.start = g.end.Add(-time.Duration(cfg.Years * 365.25 * 24 * float64(time.Hour)))
	g.products = makeProducts()

	sum := &Summary{Customers: cfg.Customers, Products: len(g.products)}
	paths := map[string]string{
		"customers":    filepath.Join(dir, "customers.parquet"),
		"transactions": filepath.Join(dir, "transactions.parquet"),
		"products":     filepath.Join(dir, "products.parquet"),
		"truth":        filepath.Join(dir, "truth", "customers_truth.parquet"),
		"truth.json":   filepath.Join(dir, "truth", "truth.json"),
	}
	if err := writeParquet(paths["products"], g.products); err != nil {
		return nil, err
	}

	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	for _, name := range []string{"customers", "transactions", "truth"} {
		f, err := os.CreateTemp(filepath.Dir(paths[name]), "."+filepath.Base(paths[name])+".tmp-")
		if err != nil {
			return nil, err
		}
		files[name] = f
	}
	opts := []parquet.WriterOption{parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(1 << 20)}
	cw := parquet.NewGenericWriter[customerRow](files["customers"], opts...)
	tw := parquet.NewGenericWriter[transactionRow](files["transactions"], opts...)
	gw := parquet.NewGenericWriter[truthRow](files["truth"], opts...)

	nChunks := (cfg.Customers + chunkCustomers - 1) / chunkCustomers
	// Chunks are generated ahead by a bounded window of workers and written
	// strictly in chunk order.
	results := make([]chan *chunk, nChunks)
	for i := range results {
		results[i] = make(chan *chunk, 1)
	}
	window := make(chan struct{}, 2*threads)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	next := make(chan int)
	for range threads {
		wg.Go(func() {
			for c := range next {
				results[c] <- g.chunk(c)
			}
		})
	}
	go func() {
		defer close(next)
		for c := range nChunks {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- c:
			case <-ctx.Done():
				return
			}
		}
	}()

	truth := Truth{Config: cfg, Start: g.start, End: g.end, TimeUnit: "week", Groups: g.groups,
		Customers: make([]int, len(g.groups)), Categories: Categories}
	var txID, orderID int64
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	var werr error
	for c := range nChunks {
		var ch *chunk
		select {
		case ch = <-results[c]:
		case <-ctx.Done():
			werr = ctx.Err()
		}
		if werr != nil {
			break
		}
		<-window
		orderBase := orderID
		for i := range ch.lines {
			txID++
			ch.lines[i].TransactionID = txID
			ch.lines[i].OrderID += orderBase + 1
		}
		orderID += int64(ch.orders)
		if _, err := cw.Write(ch.customers); err != nil {
			werr = err
			break
		}
		if _, err := tw.Write(ch.lines); err != nil {
			werr = err
			break
		}
		if _, err := gw.Write(ch.truth); err != nil {
			werr = err
			break
		}
		sum.Orders += ch.orders
		sum.Lines += len(ch.lines)
		sum.Returns += ch.returns
		for i, n := range ch.perGroup {
			truth.Customers[i] += n
		}
		first, last = min(first, ch.first), max(last, ch.last)
		if cfg.Progress != nil {
			cfg.Progress(c+1, nChunks)
		}
	}
	// Stop the dispatcher; workers finish their chunk into its buffered
	// result and exit.
	cancel()
	wg.Wait()
	if werr != nil {
		return nil, werr
	}
	for name, w := range map[string]io.Closer{"customers": cw, "transactions": tw, "truth": gw} {
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("%s: %w", paths[name], err)
		}
	}
	for _, name := range []string{"customers", "transactions", "truth"} {
		f := files[name]
		if err := errors.Join(f.Chmod(0o644), f.Sync(), f.Close()); err != nil {
			return nil, fmt.Errorf("%s: %w", paths[name], err)
		}
		if err := os.Rename(f.Name(), paths[name]); err != nil {
			return nil, err
		}
		delete(files, name)
	}
	truth.Orders, truth.Lines, truth.Returns = sum.Orders, sum.Lines, sum.Returns
	b, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := durable.WriteFile(paths["truth.json"], append(b, '\n')); err != nil {
		return nil, err
	}
	sum.FirstTS, sum.LastTS = time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
	sum.Files = []string{paths["customers"], paths["transactions"], paths["products"], paths["truth"], paths["truth.json"]}
	return sum, nil
}

type generator struct {
	cfg        Config
	groups     []Group
	start, end time.Time
	products   []productRow
}

func makeProducts() []productRow {
	rng := rand.New(rand.NewPCG(0x5eed, 1)) // the catalogue is the same for every seed
	var out []productRow
	for c, cat := range Categories {
		for i := range productsPerCategory {
			price := math.Round(categoryPrice[c]*math.Exp(0.6*rng.NormFloat64())*100) / 100
			out = append(out, productRow{
				ProductID: fmt.Sprintf("P%d%03d", c+1, i+1),
				Category:  cat,
				Name:      fmt.Sprintf("%s item %d", cat, i+1),
				ListPrice: math.Max(price, 0.99),
			})
		}
	}
	return out
}

const (
	microsPerDay  = int64(24 * time.Hour / time.Microsecond)
	microsPerWeek = 7 * microsPerDay
)

// chunk generates the customers of chunk c from its own random stream.
func (g *generator) chunk(c int) *chunk {
	rng := rand.New(rand.NewPCG(g.cfg.Seed, uint64(c)+1))
	lo := c * chunkCustomers
	hi := min(lo+chunkCustomers, g.cfg.Customers)
	out := &chunk{perGroup: make([]int, len(g.groups)), first: math.MaxInt64, last: math.MinInt64}
	out.customers = make([]customerRow, 0, hi-lo)
	out.truth = make([]truthRow, 0, hi-lo)
	out.lines = make([]transactionRow, 0, (hi-lo)*16)
	startUS, endUS := g.start.UnixMicro(), g.end.UnixMicro()
	span := float64(endUS - startUS)
	growth := math.Ln2 / g.cfg.Years // acquisition doubles over the history
	shares := make([]float64, len(g.groups))
	for i, gr := range g.groups {
		shares[i] = gr.Share
	}
	for i := lo; i < hi; i++ {
		gi := pick(rng, shares)
		gr := &g.groups[gi]
		out.perGroup[gi]++
		id := fmt.Sprintf("C%08d", i+1)

		// Signup time with density growing exponentially over the history.
		u := rng.Float64()
		frac := math.Log1p(u*(math.Exp(growth*g.cfg.Years)-1)) / (growth * g.cfg.Years)
		signup := startUS + int64(frac*span)
		signup = signup - signup%microsPerDay + int64(8*3600+rng.IntN(14*3600))*1_000_000
		if signup >= endUS {
			signup = endUS - 1_000_000
		}

		cust := customerRow{
			CustomerID:         id,
			SignupDate:         int32(signup / microsPerDay),
			Gender:             Genders[pick(rng, gr.Gender)],
			Region:             Regions[pick(rng, gr.Regions)],
			IncomeBand:         IncomeBands[pick(rng, gr.Income)],
			AcquisitionChannel: AcquisitionChannels[pick(rng, gr.Acquisition)],
		}
		if rng.Float64() >= 0.03 {
			age := math.Min(math.Max(gr.AgeMean+9*rng.NormFloat64(), 18), 90)
			bd := int32((endUS-int64(age*365.25*float64(microsPerDay)))/microsPerDay) - int32(rng.IntN(365))
			cust.BirthDate = &bd
		}
		for k, name := range AcquisitionChannels {
			if name == cust.AcquisitionChannel {
				cust.AcquisitionCost = math.Round(acquisitionCost[k]*math.Exp(0.4*rng.NormFloat64()-0.08)*100) / 100
			}
		}
		out.customers = append(out.customers, cust)

		// BG/NBD: λ ~ Gamma(r, α) per week, p ~ Beta(a, b).
		lambda := distuv.Gamma{Alpha: gr.R, Beta: gr.Alpha, Src: rng}.Rand()
		p := distuv.Beta{Alpha: gr.A, Beta: gr.B, Src: rng}.Rand()
		// Gamma-Gamma: ν ~ Gamma(q, γ); z ~ Gamma(p, ν).
		nu := distuv.Gamma{Alpha: gr.Q, Beta: gr.Gamma, Src: rng}.Rand()
		spend := distuv.Gamma{Alpha: gr.P, Beta: nu, Src: rng}

		tr := truthRow{CustomerID: id, Group: int32(gi), GroupName: gr.Name, Lambda: lambda, P: p, Nu: nu}
		t := signup
		repeats := int32(0)
		for {
			g.order(rng, out, gr, id, t, spend.Rand(), endUS)
			if t != signup {
				repeats++
				if rng.Float64() < p {
					drop := t
					tr.DropoutTS = &drop
					break
				}
			}
			if lambda <= 0 {
				break
			}
			gap := rng.ExpFloat64() / lambda * float64(microsPerWeek)
			if gap >= float64(endUS-t) {
				break
			}
			t += int64(gap)
			if t >= endUS {
				break
			}
		}
		tr.RepeatOrders = repeats
		out.truth = append(out.truth, tr)
	}
	return out
}

// order appends the lines of one order of value z at time ts, and their returns.
func (g *generator) order(rng *rand.Rand, out *chunk, gr *Group, id string, ts int64, z float64, endUS int64) {
	cents := int64(math.Round(math.Max(z, 1) * 100))
	nLines := 1
	switch u := rng.Float64(); {
	case u < 0.15:
		nLines = 3
	case u < 0.45:
		nLines = 2
	}
	if cents < int64(nLines) {
		nLines = 1
	}
	channel := Channels[pick(rng, gr.Channels)]
	var cats [3]int
	cats[0] = pick(rng, gr.Categories)
	for l := 1; l < nLines; l++ {
		next := affinity[cats[l-1]]
		if rng.Float64() >= 0.5 {
			next = pick(rng, gr.Categories)
		}
		cats[l] = next
	}
	var weights [3]float64
	var wsum float64
	for l := range nLines {
		weights[l] = rng.ExpFloat64() + 0.2
		wsum += weights[l]
	}
	orderIdx := int64(out.orders)
	out.orders++
	remaining := cents
	for l := range nLines {
		lc := remaining
		if l < nLines-1 {
			lc = max(1, min(int64(math.Round(float64(cents)*weights[l]/wsum)), remaining-int64(nLines-1-l)))
		}
		remaining -= lc
		cat := cats[l]
		prod := g.products[cat*productsPerCategory+rng.IntN(productsPerCategory)]
		amount := float64(lc) / 100
		qty := int32(max(1, math.Round(amount/prod.ListPrice)))
		cost := math.Round(amount*(1-categoryMargin[cat])*(1+0.05*rng.NormFloat64())*100) / 100
		line := transactionRow{OrderID: orderIdx, CustomerID: id, TS: ts, Amount: amount, Quantity: qty,
			Category: prod.Category, ProductID: prod.ProductID, Channel: channel, Cost: cost}
		out.lines = append(out.lines, line)
		out.first, out.last = min(out.first, ts), max(out.last, ts)
		if rng.Float64() < gr.ReturnChance {
			rts := ts + int64(1+rng.IntN(30))*microsPerDay
			if rts < endUS {
				ret := line
				ret.TS, ret.Amount, ret.Quantity, ret.Cost = rts, -line.Amount, -line.Quantity, -line.Cost
				out.lines = append(out.lines, ret)
				out.returns++
				out.last = max(out.last, rts)
			}
		}
	}
}

// pick draws an index with the given probabilities.
func pick(rng *rand.Rand, probs []float64) int {
	u := rng.Float64()
	for i, p := range probs {
		if u < p {
			return i
		}
		u -= p
	}
	return len(probs) - 1
}

func writeParquet[T any](path string, rows []T) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd))
	if _, err := w.Write(rows); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := errors.Join(w.Close(), f.Chmod(0o644), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}
