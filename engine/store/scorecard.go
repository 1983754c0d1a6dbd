package store

import "context"

// PlanCovering returns the plan among plans whose horizon holds day
// (YYYY-MM-DD, both ends included), nil when none does. The horizons of
// the active plans never overlap (CommitPlan supersedes every plan a new
// one shares a day with), so among them at most one does; among others,
// the first one does.
func PlanCovering(plans []Plan, day string) *Plan {
	for i, p := range plans {
		// ISO dates compare as strings.
		if p.HorizonStart <= day && day <= p.HorizonEnd {
			return &plans[i]
		}
	}
	return nil
}

// activePlans reads the active plans of the attached history, with their
// targets.
func activePlans(ctx context.Context, q querier) ([]Plan, error) {
	plans, err := queryPlans(ctx, q, "WHERE superseded_by IS NULL")
	if err != nil {
		return nil, err
	}
	for i := range plans {
		if err := readPlanTargets(ctx, q, &plans[i]); err != nil {
			return nil, err
		}
	}
	return plans, nil
}
