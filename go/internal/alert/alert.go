// Package alert delivers what the core decided to tell the admin: a quota
// threshold crossed, a quota blocking or throttling a device, a device
// seen for the first time. Deciding *when* is the core's (internal/account);
// this package keeps the decided alerts in a bounded outbox in db_dir and
// hands each one to three channels: a ubus event (transferometer.alert),
// OpenWrt's hotplug convention for user scripts (/sbin/hotplug-call
// transferometer runs /etc/hotplug.d/transferometer/*), and an optional
// HTTP(S) webhook. Nothing here is ever run through a shell by us, and no
// delivery ever happens inside a counting cycle.
package alert

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/transferometer/transferometer/internal/macaddr"
)

// The kinds of alert; a hotplug script sees the kind as ACTION.
const (
	KindThreshold = "threshold"
	KindBlocked   = "blocked"
	KindThrottled = "throttled"
	KindNewDevice = "new_device"
	// KindTest is `transferometer alerts test`: a try of the channels.
	KindTest = "test"
)

// Alert is one thing to tell. Its JSON form (snake_case keys, every key
// always present) is the ubus event's and the webhook's body.
type Alert struct {
	// ID names the alert uniquely (the same decision keeps its ID through
	// retries and a restore from flash), so that a receiver can drop a
	// repeat: delivery is at least once.
	ID      string
	Kind    string // KindThreshold | KindBlocked | KindThrottled | KindNewDevice
	Quota   string // quota name ("" for new_device)
	MAC     macaddr.MAC
	Name    string // the device's shown name (given name, else its hostname)
	IP      string // new_device: an address the device has, if known
	Percent int    // threshold only
	Limit   uint64 // bytes
	Used    uint64 // bytes
	Per     string // "period" | "day" ("" for new_device)
	Period  string // the key of the period or day it belongs to, e.g. "2026-12-01"
	Time    time.Time
}

// wire is the JSON form.
type wire struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Quota   string `json:"quota"`
	MAC     string `json:"mac"`
	Name    string `json:"name"`
	IP      string `json:"ip"`
	Percent int    `json:"percent"`
	Limit   uint64 `json:"limit"`
	Used    uint64 `json:"used"`
	Per     string `json:"per"`
	Period  string `json:"period"`
	Time    int64  `json:"time"`
	Message string `json:"message"`
}

func (a Alert) wire() wire {
	w := wire{ID: a.ID, Kind: a.Kind, Quota: a.Quota, Name: a.Name, IP: a.IP, Percent: a.Percent,
		Limit: a.Limit, Used: a.Used, Per: a.Per, Period: a.Period, Time: a.Time.Unix(), Message: a.Message()}
	if !a.MAC.IsZero() {
		w.MAC = a.MAC.String()
	}
	return w
}

// MarshalJSON writes the alert's wire form.
func (a Alert) MarshalJSON() ([]byte, error) { return json.Marshal(a.wire()) }

// UnmarshalJSON reads the wire form back (the outbox).
func (a *Alert) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var mac macaddr.MAC
	if w.MAC != "" {
		m, err := macaddr.Parse(w.MAC)
		if err != nil {
			return err
		}
		mac = m
	}
	*a = Alert{ID: w.ID, Kind: w.Kind, Quota: w.Quota, MAC: mac, Name: w.Name, IP: w.IP, Percent: w.Percent,
		Limit: w.Limit, Used: w.Used, Per: w.Per, Period: w.Period, Time: time.Unix(w.Time, 0)}
	return nil
}

// Message says the alert in one line of English, for scripts that only
// forward text (an e-mail subject, a push notification).
func (a Alert) Message() string {
	who := a.Name
	if who == "" && !a.MAC.IsZero() {
		who = a.MAC.String()
	} else if who != "" && !a.MAC.IsZero() {
		who += " (" + a.MAC.String() + ")"
	}
	span := "period"
	if a.Per == "day" {
		span = "day"
	}
	var s string
	switch a.Kind {
	case KindThreshold:
		s = fmt.Sprintf("quota %s: %d%% used (%s of %s this %s)", a.Quota, a.Percent, Bytes(a.Used), Bytes(a.Limit), span)
	case KindBlocked, KindThrottled:
		s = fmt.Sprintf("quota %s: limit of %s reached (%s used); %s until the %s ends", a.Quota, Bytes(a.Limit), Bytes(a.Used), a.Kind, span)
	case KindTest:
		s = "test alert from transferometer"
	case KindNewDevice:
		s = "new device"
		if a.IP != "" {
			who += " at " + a.IP
		}
	default:
		s = a.Kind
	}
	if who != "" {
		s += ": " + who
	}
	return s
}

// Bytes writes n in the decimal units the quota settings take (kB, MB,
// GB, TB), with one decimal.
func Bytes(n uint64) string {
	units := []string{"kB", "MB", "GB", "TB"}
	if n < 1000 {
		return strconv.FormatUint(n, 10) + " B"
	}
	v := float64(n)
	u := ""
	for _, x := range units {
		if v < 1000 {
			break
		}
		v /= 1000
		u = x
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + u
}

// Env is the environment a hotplug script gets (besides PATH): ACTION is
// the kind, and every field is a TRANSFEROMETER_* variable; _JSON holds
// the whole alert. Values are data: names passed the one rule for shown
// text (no control characters), quota names are [a-z0-9_].
func (a Alert) Env() []string {
	w := a.wire()
	body, _ := json.Marshal(w)
	return []string{
		"ACTION=" + w.Kind,
		"TRANSFEROMETER_ID=" + w.ID,
		"TRANSFEROMETER_KIND=" + w.Kind,
		"TRANSFEROMETER_QUOTA=" + w.Quota,
		"TRANSFEROMETER_MAC=" + w.MAC,
		"TRANSFEROMETER_NAME=" + w.Name,
		"TRANSFEROMETER_IP=" + w.IP,
		"TRANSFEROMETER_PERCENT=" + strconv.Itoa(w.Percent),
		"TRANSFEROMETER_LIMIT=" + strconv.FormatUint(w.Limit, 10),
		"TRANSFEROMETER_USED=" + strconv.FormatUint(w.Used, 10),
		"TRANSFEROMETER_PER=" + w.Per,
		"TRANSFEROMETER_PERIOD=" + w.Period,
		"TRANSFEROMETER_TIME=" + strconv.FormatInt(w.Time, 10),
		"TRANSFEROMETER_MESSAGE=" + w.Message,
		"TRANSFEROMETER_JSON=" + string(body),
	}
}
