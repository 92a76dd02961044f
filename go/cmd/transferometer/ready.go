package main

import (
	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/config"
)

// readyUsage is the rpcd plugin's usage before any core: the settings read
// for db_dir and the lock's PID file, then the running daemon's ready
// reply if it answers the query (account.ReadyUsage holds when it does).
func readyUsage(q account.UsageQuery) ([]byte, bool) {
	s, err := config.Load(config.Dir())
	if err != nil {
		return nil, false // the core's path reports it
	}
	return account.ReadyUsage(s, q)
}
