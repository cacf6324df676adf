package fssim

import (
	"os"
	"testing"
	"time"
)

func TestDumpForDiff(t *testing.T) {
	if os.Getenv("FSSIM_DUMP") == "" {
		t.Skip()
	}
	n := StartT(t, fastOptions())
	n.SetSubscriber("noanswer", Behavior{Action: NoAnswer})
	n.SetSubscriber("busy", Behavior{Action: Busy})
	out, _ := os.Create(os.Getenv("FSSIM_DUMP"))
	defer out.Close()
	c := authedRaw(t, n)
	c.tap = out
	c.reply("event plain ALL")
	c.reply("bgapi originate {origination_uuid=aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa,originate_timeout=10}loopback/answer-1000/default &park()")
	c.reply("bgapi originate {origination_uuid=bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb,originate_timeout=10}loopback/answer-1500/default &park()")
	time.Sleep(100 * time.Millisecond)
	c.reply("api uuid_broadcast aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa tone_stream://%(1000,0,440) aleg")
	time.Sleep(100 * time.Millisecond)
	c.reply("api uuid_bridge aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb")
	c.reply("api uuid_kill aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa NORMAL_CLEARING")
	c.reply("bgapi originate {origination_uuid=22222222-2222-2222-2222-222222222222,originate_timeout=1}loopback/noanswer/default &park()")
	c.reply("bgapi originate {origination_uuid=33333333-3333-3333-3333-333333333333,originate_timeout=1}loopback/busy/default &park()")
	time.Sleep(200 * time.Millisecond)
	c.reply("api chat event|alice@127.0.0.1|bob@127.0.0.1|hello via event proto|text/plain")
	c.send("exit")
	for {
		if _, err := c.readFrame(); err != nil {
			break
		}
	}
}
