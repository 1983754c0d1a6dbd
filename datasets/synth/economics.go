package synth

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ChannelEconomics is what the generator's parameters imply for the
// customers acquired through one acquisition channel: the ground truth of
// the engine's customer economics (acquisition_value). Each acquisition
// channel draws its customers from the groups in its own mix, so it
// differs from the others in value by that mix, and in cost by its mean
// acquisition cost.
type ChannelEconomics struct {
	Channel string `json:"channel"`
	// Share is the share of all customers acquired through the channel.
	Share float64 `json:"share"`
	// CAC is the mean acquisition_cost of its customers: the channel's
	// mean cost, which each customer's cost scatters around by a
	// log-normal factor of mean 1.
	CAC float64 `json:"cac"`
	// GroupMix is P(group | channel), over Groups(separation).
	GroupMix []float64 `json:"group_mix"`
	// ValueToDate is the expected net spend of one of its customers from
	// signup to the end of the history, over the ages the customers reach
	// by then as the generator spreads their signups (acquisition doubling
	// over the history). HorizonValue adds the spend of the months after
	// the end up to the given horizon, had the customers gone on as the
	// model says, each month's discounted at the given monthly rate as the
	// engine's predicted value is.
	ValueToDate  float64 `json:"value_to_date"`
	HorizonValue float64 `json:"horizon_value"`
}

// Acquisition returns the ground truth of every acquisition channel
// (AcquisitionChannels, in that order) for the generator's configuration
// cfg (Separation and Years; 0 means their defaults), with HorizonValue
// taken horizonMonths months after the end of the history and discounted
// at monthlyDiscount per month.
//
// A customer of group g makes a first order at signup and then buys as
// BG/NBD says (Fader, Hardie & Lee 2005): given the purchase rate λ and the
// dropout probability p, the expected repeat orders in the t weeks after
// signup are E[X(t) | λ, p] = (1 − e^{−λpt}) / p, so over λ ~ Gamma(r, α),
// E[X(t) | p] = (1 − (α / (α + pt))^r) / p, taken here over p ~ Beta(a, b)
// by the midpoint rule on its quantiles. An order is worth
// E[z] = p_GG · γ / (q − 1) (Gamma-Gamma: z ~ Gamma(p_GG, ν), ν ~ Gamma(q, γ)),
// less the share of lines returned. So a customer's expected net spend over
// t weeks is (1 + E[X(t)]) · E[z] · (1 − return chance), averaged over the
// ages at the end of the history and over the channel's group mix.
func Acquisition(cfg Config, horizonMonths int, monthlyDiscount float64) []ChannelEconomics {
	years := cfg.Years
	if years == 0 {
		years = 3
	}
	groups := Groups(cfg.Separation)
	const (
		weeksPerYear  = 365.25 / 7
		weeksPerMonth = weeksPerYear / 12
		quantiles     = 1000 // of the dropout probability p
		ages          = 200  // of the customers' ages at the end
	)
	// Each group's expected net spend to date and to the horizon, averaged
	// over the ages: a customer signs up at the fraction log2(1 + u) of
	// the history, u uniform, so acquisition doubles over it.
	toDate := make([]float64, len(groups))
	toHorizon := make([]float64, len(groups))
	for gi, g := range groups {
		ps := make([]float64, quantiles)
		beta := distuv.Beta{Alpha: g.A, Beta: g.B}
		for i := range ps {
			ps[i] = beta.Quantile((float64(i) + 0.5) / quantiles)
		}
		repeats := func(t float64) float64 {
			var sum float64
			for _, p := range ps {
				// (1 − (α/(α+pt))^r) / p without cancellation for small p.
				sum += -math.Expm1(-g.R*math.Log1p(p*t/g.Alpha)) / p
			}
			return sum / quantiles
		}
		order := g.P * g.Gamma / (g.Q - 1) * (1 - g.ReturnChance)
		for i := range ages {
			u := (float64(i) + 0.5) / ages
			age := (1 - math.Log2(1+u)) * years * weeksPerYear
			before := repeats(age)
			value, discount := 1+before, 1.0
			toDate[gi] += value * order / ages
			for m := 1; m <= horizonMonths; m++ {
				after := repeats(age + float64(m)*weeksPerMonth)
				discount /= 1 + monthlyDiscount
				value += (after - before) * discount
				before = after
			}
			toHorizon[gi] += value * order / ages
		}
	}
	out := make([]ChannelEconomics, len(AcquisitionChannels))
	for c, name := range AcquisitionChannels {
		e := ChannelEconomics{Channel: name, CAC: acquisitionCost[c], GroupMix: make([]float64, len(groups))}
		for gi, g := range groups {
			e.GroupMix[gi] = g.Share * g.Acquisition[c]
			e.Share += e.GroupMix[gi]
		}
		for gi := range groups {
			e.GroupMix[gi] /= e.Share
			e.ValueToDate += e.GroupMix[gi] * toDate[gi]
			e.HorizonValue += e.GroupMix[gi] * toHorizon[gi]
		}
		out[c] = e
	}
	return out
}
