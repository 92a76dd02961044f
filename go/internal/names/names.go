// Package names holds the one rule for the text a device is shown by: a
// DHCP hostname (chosen by the client) or a name or group the admin gave it.
// Such text reaches the LuCI page, CSV exports and logs, so it is refused
// when it could mislead or break what shows it: control characters (C0
// and C1), markup and quotes, invalid UTF-8, and the invisible characters
// that reorder or hide text (bidi overrides and isolates, directional
// marks, zero-width characters).
package names

import (
	"fmt"
	"unicode/utf8"
)

// MaxLen is the longest name in bytes (a DNS name's limit).
const MaxLen = 253

// Parse returns s if it is a name that may be shown.
func Parse(s string) (string, error) {
	if len(s) > MaxLen {
		return "", fmt.Errorf("name too long (%d bytes, at most %d)", len(s), MaxLen)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("name %q is not valid UTF-8", s)
	}
	for _, r := range s {
		if !allowed(r) {
			return "", fmt.Errorf("name %q has a character that is not allowed (%U)", s, r)
		}
	}
	return s, nil
}

func allowed(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f: // C0, DEL, C1
		return false
	case r == '<', r == '>', r == '"', r == '\'', r == '&', r == '\\':
		return false
	case r == 0x061c, r == 0x200e, r == 0x200f, // directional marks
		r >= 0x202a && r <= 0x202e,                           // bidi embeddings and overrides
		r >= 0x2066 && r <= 0x2069,                           // bidi isolates
		r >= 0x200b && r <= 0x200d, r == 0x2060, r == 0xfeff: // zero width
		return false
	}
	return true
}
