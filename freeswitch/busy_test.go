package freeswitch

import (
	"os"
	"strings"
	"testing"
)

func TestShowChannelsLikeRefusesAllButANumber(t *testing.T) {
	if got, err := ShowChannelsLike("+1001"); err != nil || got != "show channels like +1001 as json" {
		t.Errorf("ShowChannelsLike(+1001) = %q, %v", got, err)
	}
	for _, bad := range []string{"", "1", "1001 as json", "1001\nshow calls", "10%", "1001'", "user/1001"} {
		if got, err := ShowChannelsLike(bad); err == nil {
			t.Errorf("ShowChannelsLike(%q) = %q, want an error", bad, got)
		}
	}
}

func TestUUIDGetVar(t *testing.T) {
	const u = "0b0b0b0b-0000-4000-8000-00000000000b"
	if got, err := UUIDGetVar(u, "bgcall_leg"); err != nil || got != "uuid_getvar "+u+" bgcall_leg" {
		t.Errorf("UUIDGetVar = %q, %v", got, err)
	}
	for _, c := range [][2]string{{"nope", "bgcall_leg"}, {u, "a b"}, {u, "${x}"}, {u, ""}} {
		if got, err := UUIDGetVar(c[0], c[1]); err == nil {
			t.Errorf("UUIDGetVar(%q, %q) = %q, want an error", c[0], c[1], got)
		}
	}
}

// TestParseChannelsRealReply reads what FreeSWITCH 1.10.12 answered to
// "show channels like 6100200000000001 as json" (testdata, recorded through
// fs_cli on loopback calls): a call to 6100200000000001's phone (both
// loopback halves, listed for their name) and a leg placed with
// 6100200000000001 as caller ID (its -b half listed for its cid_num; the
// -a half, whose cid_num FreeSWITCH shows as "default", is not).
func TestParseChannelsRealReply(t *testing.T) {
	b, err := os.ReadFile("testdata/show-channels-like.json")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ParseChannels(string(b))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.Name+":"+r.CIDNum)
	}
	want := "loopback/96100200000000001-a:default loopback/96100200000000001-b:0000000000 loopback/96100200000000002-b:6100200000000001"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("rows %s\nwant %s", got, want)
	}
	// Only the leg with A's caller ID is A's own; the others are the
	// phone of "9" followed by A's digits.
	var own []string
	for _, r := range rows {
		if r.Names("6100200000000001") {
			own = append(own, r.Name)
		}
	}
	if len(own) != 1 || own[0] != "loopback/96100200000000002-b" {
		t.Errorf("channels of 6100200000000001: %v, want the -b half of the call it places", own)
	}
	if !rows[0].Names("96100200000000001") || !rows[1].Names("96100200000000001") {
		t.Errorf("the loopback halves of a call to 96100200000000001 are not that number's")
	}
}

func TestParseChannelsEmptyAndBroken(t *testing.T) {
	// FreeSWITCH's empty table, byte for byte.
	if rows, err := ParseChannels(`{"row_count": 0}` + "\n"); err != nil || len(rows) != 0 {
		t.Errorf("empty table: %v, %v", rows, err)
	}
	for _, bad := range []string{"", "-ERR no reply", `{"rows":[]}`, `{"row_count":2,"rows":[{"uuid":"x"}]}`, "\n0 total.\n"} {
		if _, err := ParseChannels(bad); err == nil {
			t.Errorf("ParseChannels(%q) succeeded, want an error", bad)
		}
	}
}

func TestChannelRowNames(t *testing.T) {
	for _, c := range []struct {
		row  ChannelRow
		want bool
	}{
		{ChannelRow{Name: "sofia/internal/1001@10.0.0.1:5060", CIDNum: "2000"}, true},
		{ChannelRow{Name: "sofia/internal/21001@10.0.0.1:5060", CIDNum: "2000"}, false},
		{ChannelRow{Name: "sofia/internal/2000@10.0.0.1", CIDNum: "1001"}, true},
		{ChannelRow{Name: "sofia/internal/2000@10.0.0.1", CIDNum: "10011"}, false},
		{ChannelRow{Name: "loopback/1001-b", CIDNum: "0000000000"}, true},
		{ChannelRow{Name: "sofia/gateway/gw1/1001", CIDNum: "x"}, true},
		{ChannelRow{UUID: "1001aaaa-0000-4000-8000-000000000000", Name: "sofia/internal/3000@h"}, false},
	} {
		if got := c.row.Names("1001"); got != c.want {
			t.Errorf("%+v names 1001: %v, want %v", c.row, got, c.want)
		}
	}
}

func TestCommandTemplate(t *testing.T) {
	if got, err := CommandTemplate("hash select/busy/{number}").Command("1001"); err != nil || got != "hash select/busy/1001" {
		t.Errorf("Command = %q, %v", got, err)
	}
	if got, err := CommandTemplate("limit_usage hash outbound {number}").Command("+1001"); err != nil || got != "limit_usage hash outbound +1001" {
		t.Errorf("Command = %q, %v", got, err)
	}
	for _, bad := range []CommandTemplate{"", "hash select/busy", "${x} {number}", "expand {number}|x", "eval '{number}'",
		"hash {number}\nfsctl shutdown", "hash {domain}/{number}", "{number}", "a\\b {number}"} {
		if err := bad.Validate(); err == nil {
			t.Errorf("template %q validated, want an error", bad)
		}
	}
	if got, err := CommandTemplate("hash select/busy/{number}").Command("1001 x"); err == nil {
		t.Errorf("a number with a blank gave %q, want an error", got)
	}
	for reply, busy := range map[string]bool{"true": true, "1": true, "12": true, "BUSY": true, "false": false, "0": false, "_undef_": false, "": false} {
		if DefaultBusyReply.MatchString(reply) != busy {
			t.Errorf("reply %q busy %v, want %v", reply, !busy, busy)
		}
	}
}
