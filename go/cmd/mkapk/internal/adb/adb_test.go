package adb

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"io"
	"testing"
)

// TestValues: each value as apk-v3.5 lays it out (type in the top 4 bits,
// inline integers, length-prefixed aligned blobs, counted objects).
func TestValues(t *testing.T) {
	b := NewBuilder()
	if v := b.Int(5); v != 0x10000005 {
		t.Errorf("Int(5) = %#x, want inline 0x10000005", v)
	}
	if v := b.Int(0x0fffffff); v != 0x1fffffff {
		t.Errorf("Int(2^28-1) = %#x, want inline", v)
	}
	if b.String("") != Null || b.Blob(nil) != Null {
		t.Error("an empty blob must be NULL")
	}
	v32 := b.Int(0x10000000)
	b8 := b.String("abc")
	v64 := b.Int(1 << 40)
	b16 := b.Blob(bytes.Repeat([]byte{'x'}, 300))
	obj := b.Object(b8, Null, v32, Null, Null)
	arr := b.Array([]Val{Null, b8, Null})
	payload, err := b.Payload()
	if err != nil {
		t.Fatal(err)
	}
	at := func(v Val) int { return int(uint32(v) & valueMask) }
	if uint32(v32)>>28 != 2 || at(v32)%4 != 0 || binary.LittleEndian.Uint32(payload[at(v32):]) != 0x10000000 {
		t.Errorf("Int(2^28): %#x, want a 4-aligned 32-bit value", v32)
	}
	if uint32(v64)>>28 != 3 || at(v64)%4 != 0 || binary.LittleEndian.Uint64(payload[at(v64):]) != 1<<40 {
		t.Errorf("Int(2^40): %#x, want a 4-aligned 64-bit value", v64)
	}
	if uint32(b8)>>28 != 8 || payload[at(b8)] != 3 || string(payload[at(b8)+1:at(b8)+4]) != "abc" {
		t.Errorf("blob8: %#x", b8)
	}
	if uint32(b16)>>28 != 9 || at(b16)%2 != 0 || binary.LittleEndian.Uint16(payload[at(b16):]) != 300 {
		t.Errorf("blob16: %#x", b16)
	}
	// Trailing NULL fields are left off; the first slot counts itself.
	if uint32(obj)>>28 != 0xe || at(obj)%4 != 0 {
		t.Fatalf("object: %#x", obj)
	}
	if n := binary.LittleEndian.Uint32(payload[at(obj):]); n != 4 {
		t.Errorf("object slots %d, want 4 (count, b8, NULL, v32)", n)
	}
	if got := binary.LittleEndian.Uint32(payload[at(obj)+12:]); got != uint32(v32) {
		t.Errorf("object field 3 = %#x, want %#x", got, v32)
	}
	// Arrays keep only non-NULL items.
	if uint32(arr)>>28 != 0xd || binary.LittleEndian.Uint32(payload[at(arr):]) != 2 {
		t.Errorf("array: %#x", arr)
	}
	if b.Object(Null, Null) != Null || b.Array(nil) != Null {
		t.Error("an object or array without values must be NULL")
	}
}

// TestFile: header, 8-aligned blocks with their type and size, and the
// deflated form ("ADBd" + raw deflate of the whole uncompressed file).
func TestFile(t *testing.T) {
	b := NewBuilder()
	b.SetRoot(b.Object(b.String("x")))
	adbp, err := b.Payload()
	if err != nil {
		t.Fatal(err)
	}
	f := &File{Schema: SchemaPackage, ADB: adbp, Data: [][]byte{[]byte("hello")}}
	raw, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if string(raw[:4]) != "ADB." || binary.LittleEndian.Uint32(raw[4:]) != 0x676b6370 || string(raw[4:8]) != "pckg" {
		t.Fatalf("header % x", raw[:8])
	}
	off := 8
	for i, want := range []struct {
		typ     uint32
		payload []byte
	}{{BlockADB, adbp}, {BlockData, []byte("hello")}} {
		w := binary.LittleEndian.Uint32(raw[off:])
		size := int(w & 0x3fffffff)
		if w>>30 != want.typ || size != 4+len(want.payload) || !bytes.Equal(raw[off+4:off+size], want.payload) {
			t.Errorf("block %d: type %d size %d", i, w>>30, size)
		}
		off += (size + 7) &^ 7
	}
	if off != len(raw) {
		t.Errorf("file is %d bytes, blocks end at %d", len(raw), off)
	}
	z, err := f.Deflated()
	if err != nil {
		t.Fatal(err)
	}
	if string(z[:4]) != "ADBd" {
		t.Fatalf("deflated magic %q", z[:4])
	}
	back, err := io.ReadAll(flate.NewReader(bytes.NewReader(z[4:])))
	if err != nil || !bytes.Equal(back, raw) {
		t.Errorf("deflated form does not inflate to the file: %v", err)
	}
	z2, _ := f.Deflated()
	if !bytes.Equal(z, z2) {
		t.Error("the same file deflates to different bytes")
	}
}

// TestSign: the SIG payload is version 0, SHA-512, the key's id, and an
// ECDSA signature over SHA-512(schema, header, SHA-512(ADB block)).
func TestSign(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	adbp := []byte("\x00\x00\x00\x00\x00\x00\x00\x00")
	sig, err := Sign(SchemaIndex, adbp, k)
	if err != nil {
		t.Fatal(err)
	}
	id, err := KeyID(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if sig[0] != 0 || sig[1] != hashSHA512 || !bytes.Equal(sig[2:18], id[:]) {
		t.Fatalf("signature header % x", sig[:18])
	}
	md := sha512.Sum512(adbp)
	msg := binary.LittleEndian.AppendUint32(nil, SchemaIndex)
	msg = append(append(msg, sig[:18]...), md[:]...)
	d := sha512.Sum512(msg)
	if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig[18:]) {
		t.Error("signature does not verify")
	}
	if _, err := ParsePrivateKey([]byte("not a key")); err == nil {
		t.Error("ParsePrivateKey accepted garbage")
	}
}
