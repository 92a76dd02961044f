// Package lmo writes and reads LuCI's translation catalogues (.lmo), the
// files luci-base's po2lmo makes from a .po file and LuCI's dispatcher
// serves to the browser as window.TR. Compile is byte-compatible with
// po2lmo (modules/luci-base/src/po2lmo.c): the same reading of the .po,
// the same keys, the same layout.
//
// Layout: the translations, each padded with NULs to a multiple of 4 bytes,
// in the order of the .po; then the index, 16 bytes per entry (key hash,
// number of plural forms, offset, length; big-endian), sorted by key; then
// the index's offset (big-endian). A key is the SuperFastHash of the msgid,
// of "msgctxt\x01msgid" with a context, and of "msgid\x02N" for plural form
// N. The Plural-Forms header is the entry with key 0.
package lmo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Hash is LuCI's sfh_hash(data, len, len): Paul Hsieh's SuperFastHash
// seeded with the length, as po2lmo, lmo.c and cbi.js compute it (the
// tail bytes sign-extended, as C's signed char).
func Hash(data []byte) uint32 {
	n := len(data)
	if n == 0 {
		return 0
	}
	h := uint32(n)
	get16 := func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 }
	rem := n & 3
	for i := n >> 2; i > 0; i-- {
		h += get16(data)
		tmp := get16(data[2:])<<11 ^ h
		h = h<<16 ^ tmp
		data = data[4:]
		h += h >> 11
	}
	switch rem {
	case 3:
		h += get16(data)
		h ^= h << 16
		h ^= uint32(int32(int8(data[2])) << 18)
		h += h >> 11
	case 2:
		h += get16(data)
		h ^= h << 11
		h += h >> 17
	case 1:
		h += uint32(int32(int8(data[0])))
		h ^= h << 10
		h += h >> 1
	}
	h ^= h << 3
	h += h >> 5
	h ^= h << 4
	h += h >> 17
	h ^= h << 25
	h += h >> 6
	return h
}

// Entry is one translation of a catalogue.
type Entry struct {
	Key    uint32 // Hash of the lookup key; 0 for the Plural-Forms header
	Forms  uint32 // plural forms of its message (1 for a plain one; 0 for the header)
	Offset uint32
	Value  string
}

// po2lmo reads lines with fgets into 4096 bytes and builds keys in 4096
// bytes: longer ones it would split or cut, so they are refused here.
const maxLine = 4095

type msg struct {
	pluralNum      int
	ctxt, id, idPl *string
	val            [10]*string
	cur            **string
}

// Compile is po2lmo: the .lmo of a .po. It reads the .po exactly as po2lmo
// does (which is laxer than gettext: flags such as fuzzy are not looked
// at, and escapes other than \" and \\ stay as written); a message whose
// translation hashes like its key (one left in English) is left out. A .po
// with no translation gives an empty result (po2lmo then writes no file).
func Compile(po []byte) ([]byte, error) {
	var (
		data    bytes.Buffer
		entries []Entry
	)
	add := func(key, forms uint32, val string) {
		entries = append(entries, Entry{Key: key, Forms: forms, Offset: uint32(data.Len()), Value: val})
		data.WriteString(val)
		for data.Len()%4 != 0 {
			data.WriteByte(0)
		}
	}
	flush := func(m *msg) error {
		if m.id != nil && m.val[0] != nil {
			for i := 0; i <= m.pluralNum; i++ {
				if m.val[i] == nil {
					continue
				}
				var key string
				switch {
				case m.ctxt != nil && m.idPl != nil:
					key = *m.ctxt + "\x01" + *m.id + "\x02" + strconv.Itoa(i)
				case m.ctxt != nil:
					key = *m.ctxt + "\x01" + *m.id
				case m.idPl != nil:
					key = *m.id + "\x02" + strconv.Itoa(i)
				default:
					key = *m.id
				}
				if len(key) >= 4096 {
					return fmt.Errorf("msgid %.40q...: key longer than po2lmo's 4095 bytes", *m.id)
				}
				// po2lmo's strlen: a NUL ends the string.
				val := cString(*m.val[i])
				k, v := Hash([]byte(cString(key))), Hash([]byte(val))
				if k != v {
					add(k, uint32(m.pluralNum+1), val)
				}
			}
		} else if m.val[0] != nil {
			// po2lmo's walk over the header: fields end at a "\n" escape
			// (kept as two characters), an escape pair is skipped whole.
			h := *m.val[0]
			field, esc := 0, false
			for p := 0; p < len(h); p++ {
				if esc {
					if h[p] == 'n' {
						f := h[field : p-1]
						if len(f) >= 14 && strings.EqualFold(f[:14], "Plural-Forms: ") {
							add(0, 0, f[14:])
							break
						}
						field = p + 1
					}
					esc = false
				} else if h[p] == '\\' {
					esc = true
				}
			}
		}
		*m = msg{}
		return nil
	}

	m := msg{pluralNum: -1}
	sc := bufio.NewScanner(bytes.NewReader(po))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	sc.Split(scanLinesKeepEOL)
	n := 0
	for {
		line, eof := "", !sc.Scan()
		if !eof {
			line = sc.Text()
			n++
			if len(line) > maxLine {
				return nil, fmt.Errorf("line %d: longer than po2lmo's %d bytes", n, maxLine)
			}
		}
		switch {
		case strings.HasPrefix(line, "msgctxt \""):
			if m.id != nil || m.val[0] != nil {
				if err := flush(&m); err != nil {
					return nil, err
				}
			}
			m.ctxt = nil
			m.cur = &m.ctxt
		case eof || strings.HasPrefix(line, "msgid \""):
			if m.id != nil || m.val[0] != nil {
				if err := flush(&m); err != nil {
					return nil, err
				}
			}
			m.id = nil
			m.cur = &m.id
		case strings.HasPrefix(line, "msgid_plural \""):
			m.idPl = nil
			m.cur = &m.idPl
		case strings.HasPrefix(line, "msgstr \"") || strings.HasPrefix(line, "msgstr["):
			m.pluralNum = 0
			if line[6] == '[' {
				m.pluralNum = leadingUint(line[7:])
			}
			if m.pluralNum >= 10 {
				return nil, fmt.Errorf("line %d: too many plural forms", n)
			}
			m.val[m.pluralNum] = nil
			m.cur = &m.val[m.pluralNum]
		}
		if eof {
			break
		}
		if m.cur != nil {
			if s, ok := extractString(line); ok && s != "" {
				if *m.cur == nil {
					*m.cur = new(string)
				}
				**m.cur += s
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if data.Len() == 0 {
		return nil, nil
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	out := data
	idx := uint32(out.Len())
	var b [16]byte
	for _, e := range entries {
		binary.BigEndian.PutUint32(b[0:], e.Key)
		binary.BigEndian.PutUint32(b[4:], e.Forms)
		binary.BigEndian.PutUint32(b[8:], e.Offset)
		binary.BigEndian.PutUint32(b[12:], uint32(len(e.Value)))
		out.Write(b[:])
	}
	binary.BigEndian.PutUint32(b[0:], idx)
	out.Write(b[:4])
	return out.Bytes(), nil
}

// extractString is po2lmo's extract_string: the text between the first
// quote and the next unescaped one, with \" and \\ unescaped and every other
// escape kept as written. Comment lines and lines without a quote give !ok.
func extractString(line string) (string, bool) {
	if strings.HasPrefix(line, "#") {
		return "", false
	}
	start := strings.IndexByte(line, '"')
	if start < 0 {
		return "", false
	}
	var b strings.Builder
	esc := false
	for i := start + 1; i < len(line); i++ {
		c := line[i]
		switch {
		case esc:
			if c != '"' && c != '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			return cString(b.String()), true
		default:
			b.WriteByte(c)
		}
	}
	// No closing quote: po2lmo reads on to the end of the line (its
	// newline included), leaving a pending backslash in place.
	if esc {
		b.WriteByte('\\')
	}
	return cString(b.String()), true
}

func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// leadingUint is strtoul(s, NULL, 10) for the index of msgstr[N].
func leadingUint(s string) int {
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n >= 10 {
			return n
		}
	}
	return n
}

// scanLinesKeepEOL splits like fgets: each line with its newline.
func scanLinesKeepEOL(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// Decode reads a catalogue as lmo.c's lmo_open does: the entries in index
// order with their values.
func Decode(b []byte) ([]Entry, error) {
	if len(b) < 4 {
		return nil, errors.New("lmo: too short")
	}
	idx := binary.BigEndian.Uint32(b[len(b)-4:])
	if uint64(idx) >= uint64(len(b)) || (len(b)-4-int(idx))%16 != 0 {
		return nil, fmt.Errorf("lmo: bad index offset %d of %d bytes", idx, len(b))
	}
	var out []Entry
	for p := int(idx); p < len(b)-4; p += 16 {
		e := Entry{
			Key:    binary.BigEndian.Uint32(b[p:]),
			Forms:  binary.BigEndian.Uint32(b[p+4:]),
			Offset: binary.BigEndian.Uint32(b[p+8:]),
		}
		n := binary.BigEndian.Uint32(b[p+12:])
		if uint64(e.Offset)+uint64(n) > uint64(idx) {
			return nil, fmt.Errorf("lmo: entry %08x outside the data", e.Key)
		}
		e.Value = string(b[e.Offset : e.Offset+n])
		out = append(out, e)
	}
	return out, nil
}
