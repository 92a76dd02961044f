package rpcd

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/config"
)

// parseQuotaArgs reads quota_lift's and quota_extra's name (required, a
// quota section name) and quota_extra's bytes (required: a whole number
// above 0, as a JSON number or a string, which may carry a unit as the
// settings' sizes do).
func parseQuotaArgs(method string, obj map[string]json.RawMessage, a *Args) error {
	if method != "quota_lift" && method != "quota_extra" {
		return nil
	}
	raw, ok := obj["name"]
	if !ok {
		return fail("invalid_argument", "name (the quota) is required")
	}
	if err := json.Unmarshal(raw, &a.Name); err != nil || string(raw) == "null" || a.Name == "" || len(a.Name) > 32 {
		return fail("invalid_argument", "name must be a quota's name")
	}
	if method != "quota_extra" {
		return nil
	}
	raw, ok = obj["bytes"]
	if !ok {
		return fail("invalid_argument", "bytes (the extra allowance) is required")
	}
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return fail("invalid_argument", "bytes must be a number of bytes")
		}
	} else {
		s = string(raw)
	}
	n, err := config.ParseSize(s)
	if err != nil {
		// JSON numbers such as 1e6 or 5.0 are not whole-number digits.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(uint64(f)) || f <= 0 || f >= 1<<63 {
			return fail("invalid_argument", "bytes %s: %v", truncate(s, 32), err)
		}
		n = uint64(f)
	}
	a.Bytes = n
	return nil
}

// callQuota runs quota_lift or quota_extra; the reply is the instance's
// status afterwards.
func callQuota(ctx context.Context, core *account.Core, method string, args Args) (any, error) {
	var st account.QuotaStatus
	var err error
	if method == "quota_lift" {
		st, err = core.QuotaLift(ctx, args.Name, args.MAC)
	} else {
		st, err = core.QuotaExtra(ctx, args.Name, args.MAC, args.Bytes)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"quota": st}, nil
}
