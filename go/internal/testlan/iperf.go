package testlan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// IperfGbps runs one iperf3 client in namespace ns against a server on
// Internet4, port 5201, with streams parallel streams for 4 s after 1 s of
// slow start omitted, and returns Gbit/s received. It retries while the
// server is not up yet, and fails t after 5 failures.
func (l *LAN) IperfGbps(t testing.TB, ns string, streams int) float64 {
	t.Helper()
	var last string
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := l.Exec(ctx, ns, "iperf3", "-c", l.Internet4.String(), "-p", "5201",
			"-t", "4", "-O", "1", "-J", "-P", strconv.Itoa(streams))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		var rep struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
			Error string `json:"error"`
		}
		if jerr := json.Unmarshal(out, &rep); err == nil && jerr == nil && rep.Error == "" && rep.End.SumReceived.BitsPerSecond > 0 {
			return rep.End.SumReceived.BitsPerSecond / 1e9
		}
		last = fmt.Sprintf("%v: %s %s", err, out, stderr.Bytes())
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("iperf3 failed 5 times: %s", last)
	return 0
}
