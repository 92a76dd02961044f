package account

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/lock"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/period"
)

// The history method gives the page what its charts draw: a period's days
// (the current one from transfer.db, past ones from history.db), today's
// hours, the periods with their totals and the one before. Totals are those
// of the devices listed, as in usage (devices the ledger let go are in
// usage's expired entry, not here).

// HistoryQuery asks for the history of one period.
type HistoryQuery struct {
	// MAC narrows every number to one device; nil means every device.
	MAC *macaddr.MAC
	// Period is "" or "current", or a period's first day.
	Period string
}

// HistoryPeriod is the period a reply covers.
type HistoryPeriod struct {
	Key     string `json:"key"`
	Start   string `json:"start"`
	End     string `json:"end"` // its last day
	Current bool   `json:"current"`
	ByteSums
	// RemainingDays counts the days after today until the period ends
	// (0 for a past period).
	RemainingDays int `json:"remaining_days"`
}

// ByteSums are download and upload bytes.
type ByteSums struct {
	Download uint64 `json:"download"`
	Upload   uint64 `json:"upload"`
}

// PreviousPeriod is the period before the one a reply covers.
type PreviousPeriod struct {
	Key   string `json:"key"`
	Start string `json:"start"`
	End   string `json:"end"`
	ByteSums
}

// PeriodSum is one period's totals.
type PeriodSum struct {
	Key string `json:"key"`
	ByteSums
}

// HistoryDay is one day: totals and, per device with traffic, [down, up].
type HistoryDay struct {
	Date string `json:"date"`
	ByteSums
	Devices map[string][2]uint64 `json:"devices"`
}

// HistoryHour is one hour of today, named "YYYY-MM-DDTHH" in local time
// (on the day daylight-saving time ends, two hours have the same name;
// Start tells them apart).
type HistoryHour struct {
	Hour  string `json:"hour"`
	Start int64  `json:"start"`
	ByteSums
	Devices map[string][2]uint64 `json:"devices"`
}

// DeviceNames is how the page shows a device.
type DeviceNames struct {
	Name     string `json:"name"`
	Group    string `json:"group"`
	Hostname string `json:"hostname"`
}

// HistoryReply is what ubus history returns.
type HistoryReply struct {
	Period   HistoryPeriod          `json:"period"`
	Previous *PreviousPeriod        `json:"previous"`
	Periods  []PeriodSum            `json:"periods"`
	Days     []HistoryDay           `json:"days"`
	Hours    []HistoryHour          `json:"hours"`
	Names    map[string]DeviceNames `json:"names"`
	Warnings []Warning              `json:"warnings"`
}

// History answers a history query by usage's policy: from the saved ledger
// while the daemon runs (it collected at most refresh_interval ago),
// otherwise after collecting; the saved numbers with a warning when the
// lock cannot be had in time. A period that is neither current nor in
// history.db is ErrNoPeriod.
func (c *Core) History(ctx context.Context, q HistoryQuery) (*HistoryReply, error) {
	now := c.now()
	spec := c.periods()
	cur := spec.Containing(now)
	sel := q.Period
	if sel == "" || sel == "current" {
		sel = cur.Key()
	}
	if sel == "all" || !period.ValidSelector(sel) {
		return nil, fmt.Errorf("%w %q (want current or a period's first day)", ErrNoPeriod, sel)
	}
	h, err := c.store.PeekHistory()
	if err != nil {
		return nil, err
	}
	if _, ok := h.Periods[sel]; !ok && sel != cur.Key() {
		keys := append([]string{cur.Key()}, h.PeriodKeys()...)
		return nil, fmt.Errorf("%w %q (have: %s)", ErrNoPeriod, sel, strings.Join(keys, ", "))
	}
	out := &HistoryReply{Warnings: []Warning{}}
	var hosts *ledger.Hosts
	var transfer *ledger.Transfer
	if c.settings.Enabled && !c.resident && !c.DaemonRunning() {
		tx, err := c.transact(ctx, nil)
		switch {
		case err == nil:
			hosts, transfer = tx.hosts, tx.transfer
			out.Warnings = append(out.Warnings, txWarnings(tx)...)
			if h, err = c.store.PeekHistory(); err != nil { // a rollover may have written it
				return nil, err
			}
		case errors.Is(err, lock.ErrTimeout):
			out.Warnings = append(out.Warnings, Warning{Code: "lock_timeout", Message: err.Error() + "; showing the last saved numbers"})
		default:
			return nil, err
		}
	}
	if !c.settings.Enabled {
		out.Warnings = append(out.Warnings, Warning{Code: "disabled", Message: ErrDisabled.Error() + "; nothing is being counted"})
	}
	if hosts == nil {
		if hosts, transfer, err = c.peek(); err != nil {
			return nil, err
		}
	}
	hl, err := c.store.PeekHours()
	if err != nil {
		return nil, err
	}
	c.fillHistory(out, now, q.MAC, sel, hosts, transfer, h, hl.Hours)
	return out, nil
}

// fillHistory completes r for the period sel from the ledger.
func (c *Core) fillHistory(r *HistoryReply, now time.Time, only *macaddr.MAC, sel string, hosts *ledger.Hosts, transfer *ledger.Transfer, h *ledger.History, closedHours ledger.Hours) {
	spec := c.periods()
	cur := spec.Containing(now)
	today := period.DayKey(now)
	want := func(m macaddr.MAC) bool {
		return m != ledger.ExpiredKey && (only == nil || m == *only)
	}
	sum := func(b map[macaddr.MAC]ledger.Usage) ByteSums {
		var s ByteSums
		for m, u := range b {
			if want(m) {
				s.Download += u.DownloadBytes
				s.Upload += u.UploadBytes
			}
		}
		return s
	}
	named := map[macaddr.MAC]bool{}
	periodUsage := func(key string) (map[macaddr.MAC]ledger.Usage, bool) {
		if key == cur.Key() {
			if transfer.Period.Key == key {
				return transfer.Period.Usage, true
			}
			return nil, true
		}
		b, ok := h.Periods[key]
		return b, ok
	}
	dayUsage := func(key string) map[macaddr.MAC]ledger.Usage {
		if key == today && transfer.Day.Key == today {
			return transfer.Day.Usage
		}
		return h.Days[key]
	}

	start, _ := period.ParseKey(sel, now.Location())
	p := spec.Containing(start.Add(12 * time.Hour))
	b, _ := periodUsage(sel)
	last := p.End.AddDate(0, 0, -1)
	r.Period = HistoryPeriod{Key: sel, Start: p.Key(), End: period.DayKey(last), Current: sel == cur.Key(), ByteSums: sum(b)}
	if r.Period.Current {
		r.Period.RemainingDays = period.DaysBetween(now, last)
	}
	prev := spec.Previous(p)
	if pb, ok := periodUsage(prev.Key()); ok && prev.Key() != cur.Key() {
		r.Previous = &PreviousPeriod{Key: prev.Key(), Start: prev.Key(), End: period.DayKey(prev.End.AddDate(0, 0, -1)), ByteSums: sum(pb)}
	}
	keys := append([]string{cur.Key()}, h.PeriodKeys()...)
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	r.Periods = []PeriodSum{}
	for i, k := range keys {
		if i > 0 && k == keys[i-1] {
			continue
		}
		pb, _ := periodUsage(k)
		r.Periods = append(r.Periods, PeriodSum{Key: k, ByteSums: sum(pb)})
	}

	// Every day of the period up to today (all of a past one), zeros
	// included, so that the chart's axis has no gaps.
	r.Days = []HistoryDay{}
	for d := p.Start; d.Before(p.End); d = d.AddDate(0, 0, 1) {
		key := period.DayKey(d)
		if r.Period.Current && key > today {
			break
		}
		day := HistoryDay{Date: key, Devices: map[string][2]uint64{}}
		for m, u := range dayUsage(key) {
			if !want(m) || (u.DownloadBytes == 0 && u.UploadBytes == 0) {
				continue
			}
			day.Devices[m.String()] = [2]uint64{u.DownloadBytes, u.UploadBytes}
			day.Download += u.DownloadBytes
			day.Upload += u.UploadBytes
			named[m] = true
		}
		r.Days = append(r.Days, day)
	}

	// Today's hours so far, in the current period only. Hours follow
	// each other every 3600 s whatever the wall clock does.
	r.Hours = []HistoryHour{}
	if r.Period.Current {
		var hours ledger.Hours
		if transfer.Day.Key == today {
			hours = transfer.TodayHours(closedHours)
		}
		midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
		for s := ledger.HourStart(midnight); s <= ledger.HourStart(now); s += 3600 {
			hr := HistoryHour{Hour: time.Unix(s, 0).In(now.Location()).Format("2006-01-02T15"), Start: s, Devices: map[string][2]uint64{}}
			if period.DayKey(time.Unix(s, 0).In(now.Location())) != today {
				continue // a midnight that does not exist (a zone that skips it)
			}
			for m, v := range hours[s] {
				if !want(m) || v == (ledger.HourBytes{}) {
					continue
				}
				hr.Devices[m.String()] = [2]uint64{v[0], v[1]}
				hr.Download += v[0]
				hr.Upload += v[1]
				named[m] = true
			}
			r.Hours = append(r.Hours, hr)
		}
	}

	if only != nil {
		named[*only] = true
	}
	r.Names = map[string]DeviceNames{}
	shown := c.shownNames(hosts)
	for m := range named {
		n := DeviceNames{Name: shown(m), Group: c.settings.Names[m].Group}
		if d := hosts.Devices[m]; d != nil {
			n.Hostname = d.Hostname
		}
		r.Names[m.String()] = n
	}
}

// closedDays reports whether a day or a period closed (history.db's part;
// an hour alone leaves that file as it is).
func closedDays(cl []ledger.Closed) bool {
	for _, c := range cl {
		if c.Day != nil || c.Period != nil {
			return true
		}
	}
	return false
}

// archiveHours moves hours that closed into hours.db, with the edits
// transfer.db recorded since the last hour closed; the edits go once the
// file is written (transfer.db is saved after it).
func (c *Core) archiveHours(tx *txn) error {
	closed := ledger.Hours{}
	for _, cl := range tx.closed {
		for k, m := range cl.Hours {
			closed[k] = m
		}
	}
	if len(closed) == 0 {
		return nil
	}
	l, rec, err := c.store.LoadHours(c.now())
	if err != nil {
		return err
	}
	if rec != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "ledger_recovered", Message: rec.String()})
	}
	l.Put(closed, tx.transfer.HourEdits)
	if err := c.store.SaveHours(l); err != nil {
		return err
	}
	tx.transfer.HourEdits = nil
	return nil
}

// commitHours copies hours.db to persist_dir, never a damaged one over the
// one there.
func (c *Core) commitHours(tx *txn, st ledger.Store) error {
	if !c.store.HasHours() {
		return nil
	}
	l, err := c.store.ReadHours()
	if errors.Is(err, ledger.ErrDamaged) {
		tx.warnings = append(tx.warnings, Warning{Code: "history_damaged", Message: err.Error() + "; the hours on flash were kept as they were"})
		return nil
	}
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := st.SaveHours(l); err != nil {
		return fmt.Errorf("commit: %w", storageHint(err, "persist_dir", c.settings.PersistDir))
	}
	return nil
}
