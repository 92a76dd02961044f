package adb

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
)

// hashSHA512 is apk-tools' APK_DIGEST_SHA512.
const hashSHA512 = 4

// KeyID is apk-tools' identity of a key: the first 16 bytes of the SHA-512
// of the public key as OpenSSL's i2d_PublicKey writes it (the uncompressed
// point for EC keys, PKCS#1 for RSA). A SIG block names its key by this id.
func KeyID(pub crypto.PublicKey) ([16]byte, error) {
	var der []byte
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ek, err := k.ECDH()
		if err != nil {
			return [16]byte{}, fmt.Errorf("adb: EC key: %w", err)
		}
		der = ek.Bytes()
	case *rsa.PublicKey:
		der = x509.MarshalPKCS1PublicKey(k)
	default:
		return [16]byte{}, fmt.Errorf("adb: key type %T: want ECDSA or RSA", pub)
	}
	sum := sha512.Sum512(der)
	var id [16]byte
	copy(id[:], sum[:16])
	return id, nil
}

// ParsePrivateKey reads a PEM private key as `apk` and OpenWrt's usign
// successor keep them: EC (SEC 1 or PKCS#8) or RSA (PKCS#1 or PKCS#8).
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	for rest := pemBytes; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, fmt.Errorf("adb: no PEM private key found")
		}
		switch blk.Type {
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("adb: PKCS#8 key of type %T cannot sign", k)
			}
			switch s.(type) {
			case *ecdsa.PrivateKey, *rsa.PrivateKey:
				return s, nil
			}
			return nil, fmt.Errorf("adb: key type %T: want ECDSA or RSA", k)
		}
	}
}

// Sign makes the payload of a SIG block (signature version 0) over an ADB
// block, as adb_trust_write_signatures does: the ADB payload is hashed with
// SHA-512, and the key signs (SHA-512 again, by the signature scheme) the
// schema id, the 18-byte signature header (version 0, hash SHA-512, key id)
// and that hash.
func Sign(schema uint32, adbPayload []byte, key crypto.Signer) ([]byte, error) {
	id, err := KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	hdr := append([]byte{0, hashSHA512}, id[:]...)
	md := sha512.Sum512(adbPayload)
	msg := binary.LittleEndian.AppendUint32(nil, schema)
	msg = append(msg, hdr...)
	msg = append(msg, md[:]...)
	digest := sha512.Sum512(msg)
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		sig, err = ecdsa.SignASN1(rand.Reader, k, digest[:])
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA512, digest[:])
	default:
		return nil, fmt.Errorf("adb: key type %T: want ECDSA or RSA", key)
	}
	if err != nil {
		return nil, fmt.Errorf("adb: signing: %w", err)
	}
	return append(hdr, sig...), nil
}
