package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/ledger"
)

// backupRestore runs `backup FILE` (the whole ledger, no size limit but
// MaxBackupFile) and `restore FILE`; FILE "-" is stdout or stdin.
func backupRestore(ctx context.Context, cmd string, rest []string, stdin io.Reader, stdout io.Writer) error {
	if len(rest) != 1 || rest[0] == "" || (rest[0] != "-" && rest[0][0] == '-') || len(rest[0]) > 4096 {
		return badUsage("usage: transferometer %s FILE (- for std%s)", cmd, map[string]string{"backup": "out", "restore": "in"}[cmd])
	}
	file := rest[0]
	core, err := openCore()
	if err != nil {
		return err
	}
	if cmd == "backup" {
		b, err := core.Backup(ctx, 0)
		if err != nil {
			return err
		}
		if len(b.Data) > account.MaxBackupFile {
			return fmt.Errorf("backup: %d bytes, more than a restore takes (%d)", len(b.Data), account.MaxBackupFile)
		}
		if file == "-" {
			_, err := stdout.Write(b.Data)
			return err
		}
		abs, err := filepath.Abs(file)
		if err != nil {
			return err
		}
		if err := ledger.WriteAtomic(abs, b.Data, ledger.FileMode); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "backup of %d bytes written to %s\n", len(b.Data), abs)
		return err
	}
	var r io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return badUsage("restore: %v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, account.MaxBackupFile+1))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	res, err := core.Restore(ctx, data)
	if errors.Is(err, account.ErrBadBackup) {
		return badUsage("restore: %v; nothing was changed", err)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "restored %d devices, %d days and %d periods from the backup of %s\n", res.Devices, res.Days, res.Periods, res.From)
	return err
}
