package scoring

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// This file holds the maximum-likelihood machinery shared by the CLV models:
// the parallel, deterministic reduction over customer groups, the optimiser
// driver (BFGS on log-parameters from several deterministic starting points,
// Nelder-Mead when BFGS fails) and the standard errors.

// clvChunk is the number of groups one task of a likelihood evaluation
// covers. The chunks, and so the order of every floating-point addition,
// depend only on the number of groups; the partial sums are added in chunk
// order. The result is therefore bit-for-bit the same whatever GOMAXPROCS.
const clvChunk = 2048

// chunkReduce calls fn(lo, hi, acc) for consecutive chunks of [0, n), with
// acc a zeroed slice of width values private to the chunk, running chunks in
// parallel, and returns the element-wise sum of the chunks' acc in chunk
// order.
func chunkReduce(n, width int, fn func(lo, hi int, acc []float64)) []float64 {
	nc := (n + clvChunk - 1) / clvChunk
	parts := make([]float64, nc*width)
	run := func(c int) {
		lo := c * clvChunk
		fn(lo, min(lo+clvChunk, n), parts[c*width:(c+1)*width])
	}
	workers := min(runtime.GOMAXPROCS(0), nc)
	if workers <= 1 {
		for c := range nc {
			run(c)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					c := int(next.Add(1) - 1)
					if c >= nc {
						return
					}
					run(c)
				}
			})
		}
		wg.Wait()
	}
	total := make([]float64, width)
	for c := range nc {
		for k, v := range parts[c*width : (c+1)*width] {
			total[k] += v
		}
	}
	return total
}

// mleProblem is a log-likelihood to maximise over positive parameters.
type mleProblem struct {
	names  []string
	n      float64 // number of customers (sum of weights)
	groups int
	// logLik returns the weighted log-likelihood at the natural parameters
	// p; when grad is not nil and analytic is true it also stores the
	// gradient with respect to p in grad.
	logLik   func(p, grad []float64) float64
	analytic bool
	// starts are the starting points, natural parameters.
	starts [][]float64
	// shapes are the mixing distributions' concentrations, each the sum of
	// some parameters (BG/NBD's Beta: a + b; a Gamma: its shape): beyond
	// mleMaxShape the distribution has collapsed onto one value, every
	// customer alike, and the maximum lies on the edge of the parameter
	// space.
	shapes [][]int
}

const (
	// mleGradTol is the largest gradient (sup norm, with respect to the
	// log-parameters, of the log-likelihood divided by the number of
	// customers) at which a fit counts as converged.
	mleGradTol = 1e-5
	// mleLogBound bounds |log parameter|: beyond it the likelihood is
	// treated as undefined, and a maximum found beyond mleDegenerate means
	// a parameter runs off to 0 or infinity: the data do not identify it.
	mleLogBound   = 50
	mleDegenerate = 30
	// mleMaxShape bounds a mixing distribution's concentration (see
	// mleProblem.shapes). At 10,000 a Beta's standard deviation is at most
	// 0.005 and a Gamma's coefficient of variation 1%: the customers are
	// alike, and the likelihood runs on along a ridge towards the edge,
	// where the optimiser stops anywhere (10^5 to 10^7 on simulated data
	// with one dropout probability for all); the published fits' are below
	// 20 (CDNOW: a + b = 3.2, Gamma-Gamma's q = 3.7).
	mleMaxShape = 1e4
	// mleFDStep is the central-difference step on log-parameters for
	// models without an analytic gradient.
	mleFDStep = 1e-5
	// mleHessStep is the relative step of the numerical Hessian.
	mleHessStep = 1e-4
)

// objective evaluates f(θ) = -logLik(exp θ)/n and its gradient in θ,
// remembering the last point so that the optimiser's Func and Grad calls at
// the same point cost one evaluation.
type objective struct {
	prob   *mleProblem
	evals  int
	lastX  []float64
	lastF  float64
	lastG  []float64
	hasG   bool
	p, gp  []float64
	thetaB []float64
}

func newObjective(prob *mleProblem) *objective {
	d := len(prob.names)
	return &objective{prob: prob, p: make([]float64, d), gp: make([]float64, d), lastG: make([]float64, d), thetaB: make([]float64, d)}
}

func (o *objective) inDomain(theta []float64) bool {
	for _, t := range theta {
		if !(math.Abs(t) <= mleLogBound) {
			return false
		}
	}
	return true
}

// value returns the log-likelihood at θ (not scaled) and, for analytic
// models when withGrad, fills o.gp with its gradient in p.
func (o *objective) value(theta []float64, withGrad bool) float64 {
	if !o.inDomain(theta) {
		return math.Inf(-1)
	}
	for i, t := range theta {
		o.p[i] = math.Exp(t)
	}
	o.evals++
	var g []float64
	if withGrad && o.prob.analytic {
		g = o.gp
	}
	ll := o.prob.logLik(o.p, g)
	if math.IsNaN(ll) {
		return math.Inf(-1)
	}
	return ll
}

// gradTheta stores in g the gradient of logLik in θ.
func (o *objective) gradTheta(theta, g []float64) {
	if o.prob.analytic {
		o.value(theta, true)
		for i := range g {
			g[i] = o.gp[i] * o.p[i]
		}
		return
	}
	copy(o.thetaB, theta)
	for i := range g {
		o.thetaB[i] = theta[i] + mleFDStep
		fp := o.value(o.thetaB, false)
		o.thetaB[i] = theta[i] - mleFDStep
		fm := o.value(o.thetaB, false)
		o.thetaB[i] = theta[i]
		g[i] = (fp - fm) / (2 * mleFDStep)
	}
}

func (o *objective) eval(theta []float64) {
	if o.lastX != nil && slices.Equal(o.lastX, theta) {
		return
	}
	o.lastX = append(o.lastX[:0], theta...)
	if o.prob.analytic {
		ll := o.value(theta, true)
		o.lastF = -ll / o.prob.n
		for i := range o.lastG {
			o.lastG[i] = -o.gp[i] * o.p[i] / o.prob.n
		}
		o.hasG = !math.IsInf(ll, -1)
		return
	}
	o.lastF = -o.value(theta, false) / o.prob.n
	o.hasG = false
}

func (o *objective) problem() optimize.Problem {
	return optimize.Problem{
		Func: func(x []float64) float64 {
			o.eval(x)
			return o.lastF
		},
		Grad: func(grad, x []float64) {
			o.eval(x)
			if !o.hasG {
				if math.IsInf(o.lastF, 1) {
					for i := range grad {
						grad[i] = math.NaN()
					}
					return
				}
				o.gradTheta(x, o.lastG)
				for i := range o.lastG {
					o.lastG[i] /= -o.prob.n
				}
				o.hasG = true
			}
			copy(grad, o.lastG)
		},
	}
}

// gradNorm is the sup norm of the scaled gradient at θ.
func (o *objective) gradNorm(theta []float64) float64 {
	g := make([]float64, len(theta))
	o.gradTheta(theta, g)
	var m float64
	for _, v := range g {
		m = math.Max(m, math.Abs(v/o.prob.n))
	}
	if math.IsNaN(m) {
		return math.Inf(1)
	}
	return m
}

type mleRun struct {
	theta      []float64
	ll         float64
	iterations int
	evals      int
	method     string
}

func runBFGS(o *objective, theta0 []float64) (mleRun, bool) {
	theta := slices.Clone(theta0)
	var iters int
	for attempt := 0; attempt < 4; attempt++ {
		settings := &optimize.Settings{
			GradientThreshold: 1e-9,
			Converger:         &optimize.FunctionConverge{Absolute: 1e-14, Relative: 1e-14, Iterations: 20},
			MajorIterations:   1000,
		}
		res, err := optimize.Minimize(o.problem(), theta, settings, &optimize.BFGS{})
		if res == nil {
			return mleRun{}, false
		}
		iters += res.Stats.MajorIterations
		if math.IsInf(res.F, 1) || math.IsNaN(res.F) {
			return mleRun{}, false
		}
		moved := !slices.Equal(res.X, theta)
		theta = slices.Clone(res.X)
		if o.gradNorm(theta) <= mleGradTol {
			return mleRun{theta: theta, ll: -res.F * o.prob.n, iterations: iters, method: "BFGS"}, true
		}
		// A line search that failed, or convergence of the function value
		// with the gradient still large: restart from the point reached
		// with a fresh curvature estimate, while it still moves.
		if !moved || err != nil && res.Status != optimize.Failure {
			break
		}
	}
	return mleRun{theta: theta, iterations: iters, method: "BFGS"}, false
}

func runNelderMead(o *objective, theta0 []float64) (mleRun, bool) {
	settings := &optimize.Settings{
		Converger:       &optimize.FunctionConverge{Absolute: 1e-12, Relative: 1e-12, Iterations: 200},
		FuncEvaluations: 20000,
	}
	res, err := optimize.Minimize(optimize.Problem{Func: o.problem().Func}, slices.Clone(theta0), settings, &optimize.NelderMead{})
	if res == nil || err != nil && res.Status != optimize.FunctionConvergence {
		return mleRun{}, false
	}
	if math.IsInf(res.F, 1) || math.IsNaN(res.F) {
		return mleRun{}, false
	}
	// Polish with BFGS: the simplex stops short of the gradient tolerance.
	run, ok := runBFGS(o, res.X)
	run.iterations += res.Stats.MajorIterations
	run.method = "NelderMead+BFGS"
	return run, ok
}

// fitMLE maximises the likelihood from each starting point and keeps the
// best converged run. It stops early once two starting points reached the
// same maximum.
func fitMLE(prob *mleProblem) ([]float64, FitResult, error) {
	d := len(prob.names)
	res := FitResult{Names: slices.Clone(prob.names), N: prob.n, Groups: prob.groups, LogLik: math.NaN()}
	var best mleRun
	bestStart := -1
	agree := false
	for si, start := range prob.starts {
		theta0 := make([]float64, d)
		for i, v := range start {
			theta0[i] = math.Log(v)
		}
		o := newObjective(prob)
		run, ok := runBFGS(o, theta0)
		if !ok {
			run, ok = runNelderMead(o, theta0)
		}
		run.evals = o.evals
		if !ok {
			continue
		}
		if bestStart >= 0 && sameMaximum(run, best, prob.n) {
			agree = true
		}
		if bestStart < 0 || run.ll > best.ll {
			best, bestStart = run, si
		}
		if agree {
			break
		}
	}
	if bestStart < 0 {
		res.Converged = false
		return nil, res, fmt.Errorf("%w from any of %d starting points", ErrNotConverged, len(prob.starts))
	}
	p := make([]float64, d)
	for i, t := range best.theta {
		p[i] = math.Exp(t)
	}
	res.Params = p
	res.LogLik = best.ll
	res.Iterations = best.iterations
	res.Evaluations = best.evals
	res.Method = best.method
	res.Start = bestStart
	for _, t := range best.theta {
		if math.Abs(t) > mleDegenerate {
			res.StdErr = nanFloats(d)
			return p, res, fmt.Errorf("%w: a parameter runs to the boundary (%s = %g)", ErrDegenerate, prob.names[slices.Index(best.theta, t)], math.Exp(t))
		}
	}
	res.StdErr, res.Cov = stdErrors(prob, p)
	if res.Cov == nil {
		// The gradient vanishes but the likelihood is flat along some
		// direction: a maximum on the edge of the parameter space, reached
		// only in the limit (BG/NBD's a → 0 with b → ∞ when the data show no
		// dropout), where the parameters are not identified. Its
		// predictions are those of a simpler model, not of this one.
		return p, res, fmt.Errorf("%w: the maximum lies on the edge of the parameter space (%s): the likelihood is flat there (a singular Hessian, no standard errors)",
			ErrDegenerate, paramList(prob.names, p))
	}
	for _, idx := range prob.shapes {
		var sum float64
		names := make([]string, len(idx))
		for k, i := range idx {
			sum += p[i]
			names[k] = prob.names[i]
		}
		if sum > mleMaxShape {
			// The Hessian there is that of a point the optimiser stopped
			// at along a ridge: its inverse measures nothing, and a
			// degenerate fit has no standard errors.
			res.StdErr, res.Cov = nanFloats(d), nil
			return p, res, fmt.Errorf("%w: the maximum lies on the edge of the parameter space (%s): %s = %.3g, the Gamma or Beta distribution it shapes has collapsed onto one value (customers, or purchases, all alike), whose spread the data cannot identify",
				ErrDegenerate, paramList(prob.names, p), strings.Join(names, " + "), sum)
		}
	}
	res.Converged = true
	return p, res, nil
}

// paramList formats parameters as "r = 0.72, alpha = 9.4, ...".
func paramList(names []string, p []float64) string {
	parts := make([]string, len(p))
	for i, v := range p {
		parts[i] = fmt.Sprintf("%s = %.3g", names[i], v)
	}
	return strings.Join(parts, ", ")
}

// sameMaximum reports whether two converged runs ended at the same point:
// log-likelihoods within 1e-9 per customer and log-parameters within 1e-3.
func sameMaximum(a, b mleRun, n float64) bool {
	if math.Abs(a.ll-b.ll) > 1e-6+1e-9*n {
		return false
	}
	for i := range a.theta {
		if math.Abs(a.theta[i]-b.theta[i]) > 1e-3 {
			return false
		}
	}
	return true
}

func nanFloats(d int) []float64 {
	s := make([]float64, d)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}

// stdErrors returns the inverse of the Hessian of the negative
// log-likelihood in the natural parameters (the asymptotic covariance) and
// the square roots of its diagonal, differentiating the gradient
// numerically with relative steps mleHessStep; NaN standard errors and a
// nil covariance when the Hessian is not positive definite or is
// numerically singular. Definiteness and conditioning are judged on the
// Hessian in the log-parameters, D H D with D the diagonal of the
// parameters (at a maximum, where the gradient vanishes), so that the
// verdict does not depend on the units of the data: a scale parameter in
// the hundreds of billions (spend in a currency of small units) is as well
// determined as one near 1.
func stdErrors(prob *mleProblem, p []float64) ([]float64, [][]float64) {
	d := len(p)
	o := newObjective(prob)
	gradP := func(q []float64) []float64 {
		theta := make([]float64, d)
		for i, v := range q {
			theta[i] = math.Log(v)
		}
		g := make([]float64, d)
		o.gradTheta(theta, g)
		for i := range g {
			g[i] /= q[i] // d/dp = d/dθ / p
		}
		return g
	}
	h := mat.NewSymDense(d, nil)
	cols := make([][]float64, d)
	for j := range d {
		step := mleHessStep * p[j]
		q := slices.Clone(p)
		q[j] = p[j] + step
		gp := gradP(q)
		q[j] = p[j] - step
		gm := gradP(q)
		cols[j] = make([]float64, d)
		for i := range d {
			cols[j][i] = -(gp[i] - gm[i]) / (2 * step)
		}
	}
	for i := range d {
		for j := i; j < d; j++ {
			h.SetSym(i, j, (cols[j][i]+cols[i][j])/2*p[i]*p[j])
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(h) || chol.Cond() > 1e14 {
		return nanFloats(d), nil
	}
	var covTheta mat.SymDense
	if err := chol.InverseTo(&covTheta); err != nil {
		return nanFloats(d), nil
	}
	cov := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			cov.SetSym(i, j, covTheta.At(i, j)*p[i]*p[j])
		}
	}
	se := make([]float64, d)
	rows := make([][]float64, d)
	for i := range se {
		v := cov.At(i, i)
		if !(v > 0) || math.IsInf(v, 0) {
			return nanFloats(d), nil
		}
		se[i] = math.Sqrt(v)
		rows[i] = make([]float64, d)
		for j := range d {
			rows[i][j] = cov.At(i, j)
		}
	}
	return se, rows
}
