package config

import (
	"errors"
	"net/url"
	"strings"
)

// Alerts are the alert options of `config transferometer 'main'`.
type Alerts struct {
	// Webhook is an http or https URL every alert is POSTed to as JSON
	// (alert_webhook; "" none).
	Webhook string
	// NewDevice says whether a device seen for the first time is an
	// alert (alert_new_device, default on).
	NewDevice bool
}

// maxWebhook bounds the URL (a token in its path or query is the longest
// part of real ones).
const maxWebhook = 2048

// alertSpecs are the alert options, reported after the others.
func alertSpecs() []spec {
	return []spec{
		{
			name:   "alert_webhook",
			parse:  parseWebhook,
			format: func(s Settings) any { return s.Alerts.Webhook },
			secret: true,
		},
		{
			name:   "alert_new_device",
			parse:  func(s *Settings, v string) (err error) { s.Alerts.NewDevice, err = parseBool(v); return },
			format: func(s Settings) any { return formatBool(s.Alerts.NewDevice) },
		},
	}
}

// parseWebhook takes an absolute http or https URL with a host: nothing
// else (no file:, no relative URL, no spaces or control characters, no
// fragment). Its errors never show the value, which may hold a token.
func parseWebhook(s *Settings, v string) error {
	if len(v) > maxWebhook {
		return errors.New("is too long for a webhook URL")
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] == 0x7f {
			return errors.New("is not a URL (spaces or control characters)")
		}
	}
	u, err := url.Parse(v)
	if err != nil {
		return errors.New("is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("is not an http:// or https:// URL")
	case u.Host == "" || u.Opaque != "" || strings.HasPrefix(u.Host, ":"):
		return errors.New("is not a URL with a host (http://HOST/...)")
	case u.Fragment != "" || strings.Contains(v, "#"):
		return errors.New("has a fragment (#...), which is never sent")
	}
	if p := u.Port(); p != "" {
		if _, err := parseInt(p, 1, 65535); err != nil {
			return errors.New("has a bad port")
		}
	}
	s.Alerts.Webhook = v
	return nil
}
