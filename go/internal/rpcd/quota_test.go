package rpcd

import (
	"errors"
	"strings"
	"testing"
)

func TestQuotaArgs(t *testing.T) {
	for in, want := range map[string]Args{
		`{"name":"kids","bytes":500000000}`:                {Name: "kids", Bytes: 500000000},
		`{"name":"kids","bytes":"5MB"}`:                    {Name: "kids", Bytes: 5000000},
		`{"name":"kids","bytes":"18446744073709551615"}`:   {Name: "kids", Bytes: 1<<64 - 1},
		`{"name":"kids","bytes":1e6}`:                      {Name: "kids", Bytes: 1000000},
		`{"name":"kids","bytes":1,"ubus_rpc_session":"x"}`: {Name: "kids", Bytes: 1},
	} {
		got, err := ParseArgs("quota_extra", strings.NewReader(in))
		if err != nil || got.Name != want.Name || got.Bytes != want.Bytes || got.MAC != nil {
			t.Errorf("%s: %+v, %v; want %+v", in, got, err, want)
		}
	}
	got, err := ParseArgs("quota_lift", strings.NewReader(`{"name":"each","mac":"02:00:00:00:00:0A"}`))
	if err != nil || got.Name != "each" || got.MAC == nil || got.MAC.String() != "02:00:00:00:00:0a" {
		t.Errorf("quota_lift with mac: %+v, %v", got, err)
	}
	for _, c := range []struct{ method, in, msg string }{
		{"quota_lift", `{}`, "name (the quota) is required"},
		{"quota_lift", `{"name":null}`, "name must be"},
		{"quota_lift", `{"name":7}`, "name must be"},
		{"quota_lift", `{"name":""}`, "name must be"},
		{"quota_lift", `{"name":"` + strings.Repeat("a", 33) + `"}`, "name must be"},
		{"quota_lift", `{"name":"kids","mac":"zz"}`, "mac:"},
		{"quota_extra", `{"name":"kids"}`, "bytes (the extra allowance) is required"},
		{"quota_extra", `{"name":"kids","bytes":0}`, "is zero"},
		{"quota_extra", `{"name":"kids","bytes":-5}`, "bytes -5"},
		{"quota_extra", `{"name":"kids","bytes":1.5}`, "bytes 1.5"},
		{"quota_extra", `{"name":"kids","bytes":"lots"}`, "is not a size"},
		{"quota_extra", `{"name":"kids","bytes":null}`, "bytes null"},
		{"quota_extra", `{"name":"kids","bytes":true}`, "bytes true"},
		{"quota_extra", `{"name":"kids","bytes":1e30}`, "bytes 1e30"},
	} {
		_, err := ParseArgs(c.method, strings.NewReader(c.in))
		var e *Error
		if !errors.As(err, &e) || e.Code != "invalid_argument" || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%s %s: %v, want invalid_argument saying %q", c.method, c.in, err, c.msg)
		}
	}
}
