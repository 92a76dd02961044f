package account

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/names"
	"github.com/transferometer/transferometer/internal/period"
)

// A backup is one file: gzip-compressed JSON holding what the ledger
// counted — devices with their names and times, totals, the current day,
// period and hour, history.db, hours.db — and nothing of the kernel's state
// (addresses, counter baselines, the backend), which belongs to the router
// it runs on. A restore checks all of it first, then replaces the ledger
// under the lock, keeping the kernel state of now: the growth up to the
// restore was read and dropped with the old numbers, so the next collection
// credits only what comes after.

const (
	// BackupFormat and BackupVersion name the file's format.
	BackupFormat  = "transferometer-backup"
	BackupVersion = 1
	// MaxUbusBackup caps the file ubus backup returns: the page sends it
	// back as base64 inside one JSON-RPC POST to uhttpd, which takes at
	// most 65,536 bytes (uhttpd's UH_UBUS_MAX_POST_SIZE); 46,080 bytes are
	// 61,440 in base64, 4 KiB under that. A ledger that does not fit
	// leaves out its oldest history (said in the reply); the CLI's
	// backup has no such limit.
	MaxUbusBackup = 45 << 10
	// MaxBackupFile caps a backup file the CLI reads or writes.
	MaxBackupFile = 16 << 20
	// maxBackupJSON caps what a backup may decompress to (a small file
	// that inflates without end is refused, not followed).
	maxBackupJSON = 64 << 20
	// maxCount is above any plausible byte or packet count (64 PiB); a
	// larger one is damage, and sums of such could wrap.
	maxCount = 1 << 56
)

// ErrBadBackup marks a backup that is not one, or does not check.
var ErrBadBackup = errors.New("not a valid backup")

// ErrBackupTooLarge is a ledger that does not fit MaxUbusBackup even
// without its history's days.
var ErrBackupTooLarge = errors.New("backup too large")

type backupFile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Created is when it was made, RFC 3339 in the router's time zone.
	Created string `json:"created"`
	Host    string `json:"host"`
	// OmittedDays and OmittedHours count the oldest closed days and
	// hours left out to fit MaxUbusBackup.
	OmittedDays  int             `json:"omitted_days,omitempty"`
	OmittedHours int             `json:"omitted_hours,omitempty"`
	Hosts        json.RawMessage `json:"hosts"`
	Transfer     json.RawMessage `json:"transfer"`
	History      json.RawMessage `json:"history"`
	Hours        json.RawMessage `json:"hours,omitempty"`
}

// BackupResult is a backup made.
type BackupResult struct {
	File         string // a name to save it as
	Data         []byte // the file
	OmittedDays  int
	OmittedHours int
}

// RestoreResult says what a restore put in place.
type RestoreResult struct {
	Devices int    `json:"devices"`
	Days    int    `json:"days"`
	Periods int    `json:"periods"`
	From    string `json:"from"` // the backup's created time
}

// Backup collects, then writes the ledger as a backup file, in one locked
// cycle (with accounting off: the saved ledger). limit > 0 caps the file's
// size: the oldest closed hours, then days, are left out until it fits.
func (c *Core) Backup(ctx context.Context, limit int) (BackupResult, error) {
	var hosts *ledger.Hosts
	var transfer *ledger.Transfer
	var hist *ledger.History
	var hours *ledger.HourLog
	now := c.now()
	snapshot := func(hs *ledger.Hosts, tr *ledger.Transfer, closed []ledger.Closed) error {
		h, err := c.store.ReadHistory()
		if err != nil {
			return err
		}
		hl, err := c.store.ReadHours()
		if err != nil {
			return err
		}
		// Buckets this very cycle closed are written to history.db and
		// hours.db after it: take them from here, and the hours' edits
		// still to be done.
		for _, cl := range closed {
			h.Put(cl)
			hl.Put(cl.Hours.Clone(), nil)
		}
		hl.Put(nil, tr.HourEdits)
		hosts, transfer, hist, hours = backupHosts(hs), backupTransfer(tr), h, hl
		return nil
	}
	if c.settings.Enabled {
		if _, err := c.transact(ctx, func(tx *txn) error {
			now = tx.at
			return snapshot(tx.hosts, tx.transfer, tx.closed)
		}); err != nil {
			return BackupResult{}, err
		}
	} else {
		hs, tr, err := c.peek()
		if err != nil {
			return BackupResult{}, err
		}
		if err := snapshot(hs, tr, nil); err != nil {
			return BackupResult{}, err
		}
	}
	host, _ := os.Hostname()
	if _, err := names.Parse(host); err != nil {
		host = ""
	}
	bf := backupFile{Format: BackupFormat, Version: BackupVersion, Created: now.Format(time.RFC3339), Host: host}
	res := BackupResult{File: "transferometer-backup-" + now.Format("20060102-150405") + ".json.gz"}
	data, err := encodeBackup(bf, hosts, transfer, hist, hours)
	if err != nil || limit <= 0 || len(data) <= limit {
		res.Data = data
		return res, err
	}
	// Too large for ubus: closed hours go first, then the oldest days.
	res.OmittedHours, bf.OmittedHours = len(hours.Hours), len(hours.Hours)
	hours.Hours = ledger.Hours{}
	days := make([]string, 0, len(hist.Days))
	for k := range hist.Days {
		days = append(days, k)
	}
	sort.Strings(days)
	all := hist.Days
	try := func(drop int) ([]byte, error) {
		hist.Days = map[string]map[macaddr.MAC]ledger.Usage{}
		for _, k := range days[drop:] {
			hist.Days[k] = all[k]
		}
		bf.OmittedDays = drop
		return encodeBackup(bf, hosts, transfer, hist, hours)
	}
	// The fewest days left out that fit, found by bisection.
	lo, hi := 0, len(days)
	var best []byte
	bestDrop := -1
	for lo <= hi {
		mid := (lo + hi) / 2
		d, err := try(mid)
		if err != nil {
			return BackupResult{}, err
		}
		if len(d) <= limit {
			best, bestDrop, hi = d, mid, mid-1
		} else {
			lo = mid + 1
		}
	}
	if best == nil {
		return BackupResult{}, fmt.Errorf("%w: the ledger takes more than %d bytes even without its history's days; make one on the router with `transferometer backup FILE`", ErrBackupTooLarge, limit)
	}
	res.Data, res.OmittedDays = best, bestDrop
	return res, nil
}

// backupHosts is host.db without addresses: which device has which
// address is the LAN of now, not of the backup.
func backupHosts(h *ledger.Hosts) *ledger.Hosts {
	out := ledger.NewHosts()
	for m, d := range h.Devices {
		cp := *d
		out.Devices[m] = &cp
	}
	return out
}

// backupTransfer is transfer.db without the kernel's state; growth still
// waiting for an owner is unattributed in a backup, the hours' edits are
// done in the backup's hours.
func backupTransfer(t *ledger.Transfer) *ledger.Transfer {
	cp := *t
	cp.HourEdits = nil
	cp.Baselines = map[counter.Key]ledger.Baseline{}
	cp.Backend, cp.Retired, cp.BootID, cp.Restored, cp.SavedAt = "", nil, "", false, 0
	for _, p := range t.Pending {
		cp.Unattributed = cp.Unattributed.Add(p.Usage)
	}
	cp.Pending = nil
	return &cp
}

func encodeBackup(bf backupFile, h *ledger.Hosts, t *ledger.Transfer, hist *ledger.History, hours *ledger.HourLog) ([]byte, error) {
	var err error
	if bf.Hours, err = json.Marshal(hours); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if bf.Hosts, err = json.Marshal(h); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if bf.Transfer, err = json.Marshal(t); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if bf.History, err = json.Marshal(hist); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	raw, err := json.Marshal(bf)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return buf.Bytes(), nil
}

// parsedBackup is a backup that checked.
type parsedBackup struct {
	created  string
	hosts    *ledger.Hosts
	transfer *ledger.Transfer
	history  *ledger.History
	hours    *ledger.HourLog
}

// parseBackup checks a backup file whole: gzip or plain JSON of this
// format and no newer version, each ledger part decoded with nothing
// dropped, every MAC a device's, every count plausible, every name one
// that may be shown. now bounds the times in it.
func parseBackup(data []byte, now time.Time) (*parsedBackup, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadBackup, fmt.Sprintf(format, a...))
	}
	if len(data) > MaxBackupFile {
		return nil, bad("larger than %d bytes", MaxBackupFile)
	}
	raw := data
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, bad("%v", err)
		}
		zr.Multistream(false)
		raw, err = io.ReadAll(io.LimitReader(zr, maxBackupJSON+1))
		if err != nil {
			return nil, bad("damaged or truncated: %v", err)
		}
		if len(raw) > maxBackupJSON {
			return nil, bad("it inflates to more than %d bytes", maxBackupJSON)
		}
	}
	var bf backupFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&bf); err != nil {
		return nil, bad("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("data after the backup")
	}
	if bf.Format != BackupFormat {
		return nil, bad("format %q, want %q", truncate(bf.Format, 40), BackupFormat)
	}
	if bf.Version > BackupVersion {
		return nil, fmt.Errorf("backup format version %d: %w", bf.Version, ledger.ErrNewer)
	}
	if bf.Version < 1 {
		return nil, bad("format version %d", bf.Version)
	}
	created, err := time.Parse(time.RFC3339, bf.Created)
	if err != nil {
		return nil, bad("created %q: %v", truncate(bf.Created, 40), err)
	}
	p := &parsedBackup{created: bf.Created, hosts: ledger.NewHosts(), transfer: ledger.NewTransfer(), history: ledger.NewHistory(), hours: ledger.NewHourLog()}
	if len(bf.Hours) > 0 && string(bf.Hours) != "null" {
		if err := ledger.DecodeWhole(bf.Hours, p.hours); err != nil {
			if errors.Is(err, ledger.ErrNewer) {
				return nil, fmt.Errorf("backup's hours: %w", err)
			}
			return nil, bad("hours: %v", err)
		}
	}
	for _, part := range []struct {
		name string
		raw  json.RawMessage
		into any
	}{{"hosts", bf.Hosts, p.hosts}, {"transfer", bf.Transfer, p.transfer}, {"history", bf.History, p.history}} {
		if len(part.raw) == 0 || string(part.raw) == "null" {
			return nil, bad("no %s", part.name)
		}
		if err := ledger.DecodeWhole(part.raw, part.into); err != nil {
			if errors.Is(err, ledger.ErrNewer) {
				return nil, fmt.Errorf("backup's %s: %w", part.name, err)
			}
			return nil, bad("%s: %v", part.name, err)
		}
	}
	if err := checkBackup(p, created, now); err != nil {
		return nil, bad("%v", err)
	}
	return p, nil
}

// checkBackup holds a decoded backup to what the ledger itself could have
// written.
func checkBackup(p *parsedBackup, created, now time.Time) error {
	latest := now.Add(48 * time.Hour).Unix() // clocks differ; years ahead do not
	if created.Unix() > latest {
		return fmt.Errorf("created in the future (%s)", created.Format(time.RFC3339))
	}
	device := func(where string, m macaddr.MAC, expiredOK bool) error {
		if m.IsDevice() || (expiredOK && m == ledger.ExpiredKey) {
			return nil
		}
		return fmt.Errorf("%s: %s is not a device's MAC", where, m)
	}
	usage := func(where string, m macaddr.MAC, u ledger.Usage) error {
		if err := device(where, m, true); err != nil {
			return err
		}
		for _, n := range []uint64{u.DownloadBytes, u.UploadBytes, u.DownloadPackets, u.UploadPackets} {
			if n > maxCount {
				return fmt.Errorf("%s: %s: count %d is beyond any real traffic", where, m, n)
			}
		}
		return nil
	}
	buckets := func(where string, b map[macaddr.MAC]ledger.Usage) error {
		for m, u := range b {
			if err := usage(where, m, u); err != nil {
				return err
			}
		}
		return nil
	}
	hours := func(where string, h ledger.Hours) error {
		for k, hm := range h {
			if k > latest {
				return fmt.Errorf("%s: hour %d in the future", where, k)
			}
			for m, b := range hm {
				if err := usage(where, m, ledger.Usage{DownloadBytes: b[0], UploadBytes: b[1]}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if len(p.hosts.IPs) > 0 {
		return fmt.Errorf("hosts: addresses in a backup")
	}
	for m, d := range p.hosts.Devices {
		if err := device("hosts", m, false); err != nil {
			return err
		}
		if _, err := names.Parse(d.Hostname); err != nil {
			return fmt.Errorf("hosts: %s: %v", m, err)
		}
		if d.FirstSeen < 0 || d.LastSeen < 0 || d.FirstSeen > latest || d.LastSeen > latest {
			return fmt.Errorf("hosts: %s: times out of range", m)
		}
	}
	t := p.transfer
	if len(t.Baselines) > 0 || len(t.Pending) > 0 || t.Retired != nil || len(t.HourEdits) > 0 {
		return fmt.Errorf("transfer: counter state in a backup")
	}
	if t.ExpiredDevices < 0 {
		return fmt.Errorf("transfer: expired_devices %d", t.ExpiredDevices)
	}
	for _, c := range []struct {
		where string
		b     map[macaddr.MAC]ledger.Usage
	}{{"totals", t.Totals}, {"day", t.Day.Usage}, {"period", t.Period.Usage}} {
		if err := buckets(c.where, c.b); err != nil {
			return err
		}
	}
	for _, u := range []ledger.Usage{t.Unattributed, {DownloadBytes: t.Router.InputBytes, UploadBytes: t.Router.OutputBytes, DownloadPackets: t.Router.InputPackets, UploadPackets: t.Router.OutputPackets}} {
		if err := usage("transfer", ledger.ExpiredKey, u); err != nil {
			return err
		}
	}
	if err := hours("transfer hour", ledger.Hours{t.Hour.Start: t.Hour.Usage}); err != nil {
		return err
	}
	for _, k := range t.History {
		if _, err := time.Parse(period.DayLayout, k); err != nil {
			return fmt.Errorf("transfer: history key %q", truncate(k, 20))
		}
	}
	h := p.history
	for _, m := range []map[string]map[macaddr.MAC]ledger.Usage{h.Days, h.Periods} {
		for k, b := range m {
			if err := buckets("history "+k, b); err != nil {
				return err
			}
		}
	}
	if n := len(p.hours.Hours); n > ledger.HoursKept {
		return fmt.Errorf("hours: %d, at most %d are kept", n, ledger.HoursKept)
	}
	return hours("hours", p.hours.Hours)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Restore checks a backup whole, then in one locked cycle replaces the
// ledger with it and commits that to flash. Nothing changes unless all of
// it checks. The cycle first credits the counters' growth as every cycle
// does and so moves their baselines to now; the restored ledger keeps
// those baselines (and the addresses, the backend), so the kernel's
// counts up to the restore are neither credited again nor lost after it.
func (c *Core) Restore(ctx context.Context, data []byte) (RestoreResult, error) {
	if !c.settings.Enabled {
		return RestoreResult{}, ErrDisabled
	}
	p, err := parseBackup(data, c.now())
	if err != nil {
		return RestoreResult{}, err
	}
	var res RestoreResult
	_, err = c.transact(ctx, func(tx *txn) error {
		old := tx.transfer
		nt := p.transfer
		nt.Version = ledger.Version
		nt.Baselines, nt.Backend, nt.Retired, nt.BootID, nt.Restored = old.Baselines, old.Backend, old.Retired, old.BootID, old.Restored
		nt.SavedAt, nt.Pending = 0, nil
		// The backup's day and period may be over: into history with them.
		closed := nt.Roll(c.stamp(tx.at))
		nh := p.history
		nh.Put(closed)
		nhl := p.hours
		nhl.Put(closed.Hours, nil)
		nt.HourEdits = nil
		nh.Prune(c.periods().Oldest(tx.at, c.settings.Generations).Key())
		nt.History = nh.PeriodKeys()

		nhosts := ledger.NewHosts()
		nhosts.IPs = tx.hosts.IPs
		nhosts.Devices = p.hosts.Devices
		for _, e := range tx.hosts.IPs {
			if nhosts.Devices[e.MAC] == nil {
				if d := tx.hosts.Devices[e.MAC]; d != nil {
					cp := *d
					nhosts.Devices[e.MAC] = &cp
				} else {
					nhosts.Device(e.MAC, tx.now)
				}
			}
		}
		// history.db first, then host.db and transfer.db (the cycle
		// saves those): all under the lock, so no other door sees a mix.
		if err := c.store.SaveHistory(nh); err != nil {
			return c.dbError(err)
		}
		if err := c.store.SaveHours(nhl); err != nil {
			return c.dbError(err)
		}
		*tx.hosts, *tx.transfer = *nhosts, *nt
		tx.hostsDirty, tx.closed, tx.commit = true, nil, true

		res = RestoreResult{From: p.created, Periods: len(nh.Periods), Days: len(nh.Days)}
		if len(nt.Day.Usage) > 0 {
			res.Days++
		}
		if len(nt.Period.Usage) > 0 {
			res.Periods++
		}
		seen := map[macaddr.MAC]bool{}
		for m := range p.hosts.Devices {
			seen[m] = true
		}
		for m := range nt.Totals {
			if m != ledger.ExpiredKey {
				seen[m] = true
			}
		}
		res.Devices = len(seen)
		return nil
	})
	if err != nil {
		return RestoreResult{}, err
	}
	return res, nil
}
