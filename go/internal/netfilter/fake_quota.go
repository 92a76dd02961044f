package netfilter

import (
	"context"
	"sort"
)

// The fake enforces nothing: it keeps the rules it was given and objects
// as the kernel would start and keep them (QuotaConsume stands for the
// packets), so the core's planning can be tested.

// SyncQuotas implements QuotaEnforcer.
func (f *Fake) SyncQuotas(ctx context.Context, rules []QuotaRule) (QuotaChanges, error) {
	return f.PlanQuotas(ctx, func(map[string]QuotaObject) []QuotaRule { return rules })
}

// PlanQuotas implements QuotaEnforcer.
func (f *Fake) PlanQuotas(_ context.Context, plan func(map[string]QuotaObject) []QuotaRule) (QuotaChanges, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ch QuotaChanges
	have := map[string]QuotaObject{}
	for k, v := range f.quotas {
		have[k] = v
	}
	rules := plan(have)
	if f.FailSync != nil {
		err := f.FailSync
		f.FailSync = nil
		return ch, err
	}
	if _, err := planQuotas(rules); err != nil {
		return ch, err
	}
	objs := map[string]QuotaObject{}
	for _, r := range rules {
		// As in the kernel, an object that stays keeps its own count.
		if o, ok := f.quotas[r.Name]; ok && !r.Fresh && o.Bytes == r.Bytes {
			objs[r.Name] = o
			continue
		}
		objs[r.Name] = QuotaObject{Bytes: r.Bytes, Consumed: startCount(r, f.quotas)}
	}
	f.quotas = objs
	f.QuotaRules = append([]QuotaRule(nil), rules...)
	sort.Slice(f.QuotaRules, func(i, j int) bool { return f.QuotaRules[i].Name < f.QuotaRules[j].Name })
	ch.Batches = 1
	return ch, nil
}

// QuotaObjects implements QuotaEnforcer.
func (f *Fake) QuotaObjects(context.Context) (map[string]QuotaObject, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]QuotaObject{}
	for k, v := range f.quotas {
		out[k] = v
	}
	return out, nil
}

// TeardownQuotas implements QuotaEnforcer.
func (f *Fake) TeardownQuotas(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.quotas, f.QuotaRules = nil, nil
	return nil
}

// QuotaConsume adds bytes to a quota object, as the packet path would.
func (f *Fake) QuotaConsume(name string, bytes uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.quotas[name]; ok {
		o.Consumed += bytes
		f.quotas[name] = o
	}
}
