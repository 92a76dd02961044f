// Package adb writes apk-tools 3's ADB format: the container of OpenWrt
// 25.12's .apk packages and of their repository index (packages.adb).
//
// The format, as apk-tools documents it (doc/apk-v3.5, src/adb.h,
// src/apk_adb.h of alpinelinux/apk-tools):
//
//   - A file starts with the magic "ADB." and a little-endian schema id
//     ("pckg" for a package, "indx" for an index), then blocks. A
//     compressed file is "ADBd" followed by the whole uncompressed file,
//     magic included, as a raw deflate stream.
//   - A block is a 32-bit little-endian word, 2 bits of type (ADB 0, SIG 1,
//     DATA 2) above 30 bits of size (the word included), then the payload,
//     zero-padded to a multiple of 8. One ADB block comes first, then
//     optional SIG blocks, then DATA blocks.
//   - The ADB block holds a 4-byte header (compat version 0, version 0, 2
//     reserved bytes), the root value, then the values it points to.
//   - A value is a 32-bit word: 4 bits of type, 28 of payload. NULL is 0;
//     small integers (< 2^28) are inline (type 1); larger ones are stored
//     4-aligned as 32 (type 2) or 64 bits (type 3), the payload being
//     their offset in the ADB block. Blobs are stored behind a length of 1,
//     2 or 4 bytes (types 8, 9, 10; aligned to the length's size). Objects
//     (type 14) and arrays (type 13) are 4-aligned runs of values whose
//     first slot is the number of slots, itself included; trailing NULL
//     slots are left off, and an object or array with no slots is NULL.
//   - Fields are numbered from 1 by each schema (apk_adb.h); which field
//     holds what is the schema's business, not the wire format's.
//
// Everything here is deterministic: the same values give the same bytes.
package adb

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
)

// Val is one ADB value word.
type Val uint32

// Value types (the top 4 bits of a Val).
const (
	typeInt    = 0x10000000
	typeInt32  = 0x20000000
	typeInt64  = 0x30000000
	typeBlob8  = 0x80000000
	typeBlob16 = 0x90000000
	typeBlob32 = 0xa0000000
	typeArray  = 0xd0000000
	typeObject = 0xe0000000
	valueMask  = 0x0fffffff
)

// Null is the absent value.
const Null Val = 0

// Schema ids of the file header (apk_adb.h), little-endian ASCII.
const (
	SchemaPackage uint32 = 0x676b6370 // "pckg"
	SchemaIndex   uint32 = 0x78646e69 // "indx"
)

// Block types.
const (
	BlockADB  = 0
	BlockSig  = 1
	BlockData = 2
)

const blockAlign = 8

// Builder lays out the payload of an ADB block. Values are appended as they
// are made, so children are made before the object that holds them.
type Builder struct {
	buf []byte
	err error
}

// NewBuilder starts an ADB block: the header with a NULL root.
func NewBuilder() *Builder {
	return &Builder{buf: make([]byte, 8)}
}

func (b *Builder) fail(err error) Val {
	if b.err == nil {
		b.err = err
	}
	return Null
}

// put appends p at the next multiple of align and returns its offset.
func (b *Builder) put(align int, p ...[]byte) (uint32, bool) {
	for len(b.buf)%align != 0 {
		b.buf = append(b.buf, 0)
	}
	off := len(b.buf)
	if off > valueMask {
		b.fail(fmt.Errorf("adb: block larger than %d bytes", valueMask))
		return 0, false
	}
	for _, q := range p {
		b.buf = append(b.buf, q...)
	}
	return uint32(off), true
}

// Blob stores bytes; an empty blob is NULL, as apk-tools writes it.
func (b *Builder) Blob(p []byte) Val {
	var hdr []byte
	var typ uint32
	switch n := len(p); {
	case n == 0:
		return Null
	case n <= 0xff:
		hdr, typ = []byte{byte(n)}, typeBlob8
	case n <= 0xffff:
		hdr, typ = binary.LittleEndian.AppendUint16(nil, uint16(n)), typeBlob16
	default:
		hdr, typ = binary.LittleEndian.AppendUint32(nil, uint32(n)), typeBlob32
	}
	off, ok := b.put(len(hdr), hdr, p)
	if !ok {
		return Null
	}
	return Val(typ | off)
}

// String stores a string as a blob.
func (b *Builder) String(s string) Val { return b.Blob([]byte(s)) }

// Int stores an integer: inline below 2^28, else as 32 or 64 bits.
func (b *Builder) Int(v uint64) Val {
	switch {
	case v < 0x10000000:
		return Val(typeInt | uint32(v))
	case v < 0x100000000:
		off, ok := b.put(4, binary.LittleEndian.AppendUint32(nil, uint32(v)))
		if !ok {
			return Null
		}
		return Val(typeInt32 | off)
	default:
		off, ok := b.put(4, binary.LittleEndian.AppendUint64(nil, v))
		if !ok {
			return Null
		}
		return Val(typeInt64 | off)
	}
}

func (b *Builder) slots(typ uint32, vals []Val) Val {
	n := len(vals)
	for n > 0 && vals[n-1] == Null {
		n--
	}
	if n == 0 {
		return Null
	}
	p := binary.LittleEndian.AppendUint32(nil, uint32(n+1))
	for _, v := range vals[:n] {
		p = binary.LittleEndian.AppendUint32(p, uint32(v))
	}
	off, ok := b.put(4, p)
	if !ok {
		return Null
	}
	return Val(typ | off)
}

// Object stores an object whose field i (numbered from 1) is fields[i-1].
func (b *Builder) Object(fields ...Val) Val { return b.slots(typeObject, fields) }

// Array stores an array of the non-NULL items, in the order given.
func (b *Builder) Array(items []Val) Val {
	var kept []Val
	for _, v := range items {
		if v != Null {
			kept = append(kept, v)
		}
	}
	return b.slots(typeArray, kept)
}

// SetRoot sets the block's root value.
func (b *Builder) SetRoot(v Val) {
	binary.LittleEndian.PutUint32(b.buf[4:8], uint32(v))
}

// Payload returns the ADB block's payload, or the first error met.
func (b *Builder) Payload() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	return b.buf, nil
}

// Patch overwrites bytes at an offset of the payload (the package's
// unique id is filled in after the block is laid out).
func (b *Builder) Patch(off int, p []byte) {
	copy(b.buf[off:], p)
}

// BlobOffset is where a blob value's bytes start in the payload.
func BlobOffset(v Val) int {
	off := int(uint32(v) & valueMask)
	switch uint32(v) &^ valueMask {
	case typeBlob8:
		return off + 1
	case typeBlob16:
		return off + 2
	case typeBlob32:
		return off + 4
	}
	return -1
}

// AppendBlock appends one block: its header word, payload and padding.
func AppendBlock(dst []byte, typ uint32, payload ...[]byte) ([]byte, error) {
	n := 4
	for _, p := range payload {
		n += len(p)
	}
	if n > 0x3fffffff {
		return nil, fmt.Errorf("adb: block of %d bytes: too large for a plain block", n)
	}
	dst = binary.LittleEndian.AppendUint32(dst, typ<<30|uint32(n))
	for _, p := range payload {
		dst = append(dst, p...)
	}
	for n%blockAlign != 0 {
		dst = append(dst, 0)
		n++
	}
	return dst, nil
}

// File is an ADB file's content before compression: the schema id and the
// blocks that follow it.
type File struct {
	Schema uint32
	ADB    []byte   // the ADB block's payload
	Sigs   [][]byte // SIG block payloads
	Data   [][]byte // DATA block payloads
}

// Bytes is the file uncompressed ("ADB." header).
func (f *File) Bytes() ([]byte, error) {
	out := []byte("ADB.")
	body, err := f.body()
	if err != nil {
		return nil, err
	}
	return append(out, body...), nil
}

func (f *File) body() ([]byte, error) {
	out := binary.LittleEndian.AppendUint32(nil, f.Schema)
	var err error
	if out, err = AppendBlock(out, BlockADB, f.ADB); err != nil {
		return nil, err
	}
	for _, s := range f.Sigs {
		if out, err = AppendBlock(out, BlockSig, s); err != nil {
			return nil, err
		}
	}
	for _, d := range f.Data {
		if out, err = AppendBlock(out, BlockData, d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Deflated is the file compressed as apk-tools compresses by default:
// "ADBd", then the uncompressed file as a raw deflate stream (level 9).
func (f *File) Deflated() ([]byte, error) {
	body, err := f.Bytes()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("ADBd")
	zw, err := flate.NewWriter(&out, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, bytes.NewReader(body)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
