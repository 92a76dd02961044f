package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/config"
)

// quotaCmd is `quota [--json]` (every quota instance from the saved
// ledger), `quota lift NAME [--mac MAC]` and `quota extra NAME SIZE [--mac
// MAC]`: the ubus methods quota_lift and quota_extra for the shell.
func quotaCmd(ctx context.Context, rest []string, stdout io.Writer) error {
	if len(rest) == 0 || rest[0] == "--json" {
		f, err := parseFlags("quota", rest, true, false)
		if err != nil {
			return err
		}
		core, err := openCore()
		if err != nil {
			return err
		}
		sts, err := core.Quotas()
		if err != nil {
			return err
		}
		if f.json {
			if sts == nil {
				sts = []account.QuotaStatus{}
			}
			return writeJSON(stdout, sts)
		}
		for _, s := range sts {
			dev := ""
			if s.Device != nil {
				dev = " " + s.Device.String()
			}
			fmt.Fprintf(stdout, "%s%s: %s of %s (%s, %s, %s) %s\n", s.Name, dev, human(s.Used), human(s.Allowance()), s.Per, s.Direction, s.Action, s.State)
		}
		return nil
	}
	op := rest[0]
	if op != "lift" && op != "extra" {
		return badUsage("quota: %q: want lift or extra (try --help)", op)
	}
	need := 2
	if op == "extra" {
		need = 3
	}
	if len(rest) < need {
		return badUsage("quota %s: needs NAME%s", op, map[bool]string{true: " SIZE", false: ""}[op == "extra"])
	}
	f, err := parseFlags("quota", rest[need:], false, true)
	if err != nil {
		return err
	}
	var bytes uint64
	if op == "extra" {
		if bytes, err = config.ParseSize(rest[2]); err != nil {
			return badUsage("quota extra: %q %v", rest[2], err)
		}
	}
	core, err := openCore()
	if err != nil {
		return err
	}
	var st account.QuotaStatus
	if op == "lift" {
		st, err = core.QuotaLift(ctx, rest[1], f.mac)
	} else {
		st, err = core.QuotaExtra(ctx, rest[1], f.mac, bytes)
	}
	if errors.Is(err, account.ErrNoQuota) || errors.Is(err, account.ErrQuotaArgument) {
		return badUsage("quota %s: %v", op, err)
	}
	if err != nil {
		return err
	}
	return writeJSON(stdout, st)
}
