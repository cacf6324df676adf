package fssim

import (
	"strconv"
	"strings"
	"time"
)

var channelColumns = strings.Split("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context", ",")

var callLegColumns = strings.Split("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,hostname,sent_callee_name,sent_callee_num", ",")

var callBColumns = strings.Split("b_uuid,b_direction,b_created,b_created_epoch,b_name,b_state,b_cid_name,b_cid_num,b_ip_addr,b_dest,b_presence_id,b_presence_data,b_accountcode,b_callstate,b_callee_name,b_callee_num,b_callee_direction,b_sent_callee_name,b_sent_callee_num,call_created_epoch", ",")

// row is the channels-table row FreeSWITCH keeps for a channel.
func (n *Node) row(ch *channel) map[string]string {
	callUUID := ch.callUUID
	app, data := ch.app, ch.appData
	if ch.play != nil {
		app, data = ch.play.app, ch.play.path
	}
	return map[string]string{
		"uuid": ch.uuid, "direction": "outbound",
		"created":       ch.created.Local().Format("2006-01-02 15:04:05"),
		"created_epoch": strconv.FormatInt(ch.created.Unix(), 10),
		"name":          ch.name, "state": ch.running, "cid_name": ch.cidName, "cid_num": ch.cidNum,
		"ip_addr": "", "dest": ch.number, "application": app, "application_data": data,
		"dialplan": ch.dialplan, "context": ch.context, "read_codec": "PCMU", "read_rate": "8000",
		"read_bit_rate": "64000", "write_codec": "PCMU", "write_rate": "8000", "write_bit_rate": "64000",
		"secure": "", "hostname": n.opts.Hostname, "presence_id": "", "presence_data": "", "accountcode": "",
		"callstate": ch.callState, "callee_name": "Outbound Call", "callee_num": ch.callee,
		"callee_direction": "", "call_uuid": callUUID, "sent_callee_name": "", "sent_callee_num": "",
		"initial_cid_name": ch.cidName, "initial_cid_num": ch.cidNum, "initial_ip_addr": "",
		"initial_dest": ch.number, "initial_dialplan": ch.dialplan, "initial_context": ch.context,
	}
}

// showSnapshot is the channels table as show last read it.
type showSnapshot struct {
	at       time.Time
	channels []map[string]string
	calls    []map[string]string
}

// tables returns the rows of show channels and show calls, as of at most
// the show lag ago: FreeSWITCH feeds its channels table asynchronously, so
// it can lag changes by about a second.
func (n *Node) tables() ([]map[string]string, []map[string]string) {
	now := time.Now()
	if s := n.snapshot; s != nil && n.faults.showLag > 0 && now.Sub(s.at) < n.faults.showLag {
		return s.channels, s.calls
	}
	var channels, calls []map[string]string
	for _, ch := range n.sortedChannels() {
		if ch.gone {
			continue
		}
		channels = append(channels, n.row(ch))
		if ch.partner != nil && !ch.bridgeA {
			continue
		}
		r := n.row(ch)
		for _, c := range callBColumns {
			r[c] = ""
		}
		if p := ch.partner; p != nil {
			pr := n.row(p)
			for _, c := range callBColumns[:len(callBColumns)-1] {
				r[c] = pr[strings.TrimPrefix(c, "b_")]
			}
			r["call_created_epoch"] = strconv.FormatInt(ch.bridgedAt.Unix(), 10)
		}
		calls = append(calls, r)
	}
	n.snapshot = &showSnapshot{at: now, channels: channels, calls: calls}
	return channels, calls
}

// SetShowLag makes show channels and show calls answer from a table at most
// d old, as FreeSWITCH's asynchronously fed table does (up to about a
// second). 0, the default, answers from the live state.
func (n *Node) SetShowLag(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults.showLag = d
	n.snapshot = nil
}

// likeColumns are the columns "show channels like <text>" looks for the
// text in, anywhere (SQL LIKE '%text%'), as FreeSWITCH 1.10.12 does: not
// dest, callee_num or presence_id (recorded in
// testdata/freeswitch/flows.json, "busy check").
var likeColumns = []string{"uuid", "name", "cid_name", "cid_num", "presence_data", "accountcode"}

// like keeps the rows that mention text in one of likeColumns.
func like(rows []map[string]string, text string) []map[string]string {
	var out []map[string]string
	for _, r := range rows {
		for _, c := range likeColumns {
			if strings.Contains(strings.ToLower(r[c]), text) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// show answers "show channels|calls [as json|count]" and "show channels
// like <text> [as json]".
func (n *Node) show(arg string) string {
	f := strings.Fields(strings.ToLower(arg))
	if len(f) == 0 {
		return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n"
	}
	what, match := f[0], ""
	if what == "channels" && len(f) >= 3 && f[1] == "like" {
		match, f = f[2], append(f[:1:1], f[3:]...)
	}
	asJSON := len(f) >= 3 && f[1] == "as" && f[2] == "json"
	count := len(f) >= 2 && f[1] == "count"
	var cols []string
	var rows []map[string]string
	channels, calls := n.tables()
	switch what {
	case "channels":
		cols, rows = channelColumns, channels
		if match != "" {
			rows = like(rows, match)
		}
	case "calls":
		cols, rows = append(append([]string(nil), callLegColumns...), callBColumns...), calls
	default:
		return "-ERR Cannot find " + what + "\n"
	}
	if count {
		return "\n" + strconv.Itoa(len(rows)) + " total.\n"
	}
	if asJSON {
		if len(rows) == 0 {
			return `{"row_count": 0}` + "\n" // FreeSWITCH's own spelling of an empty table
		}
		var b strings.Builder
		b.WriteString(`{"row_count":`)
		b.WriteString(strconv.Itoa(len(rows)))
		if len(rows) > 0 {
			b.WriteString(`,"rows":[`)
			for i, r := range rows {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('{')
				for j, c := range cols {
					if j > 0 {
						b.WriteByte(',')
					}
					writeJSONString(&b, c)
					b.WriteByte(':')
					writeJSONString(&b, r[c])
				}
				b.WriteByte('}')
			}
			b.WriteByte(']')
		}
		b.WriteByte('}')
		return b.String()
	}
	var b strings.Builder
	if len(rows) > 0 {
		b.WriteString(strings.Join(cols, ","))
		b.WriteByte('\n')
		for _, r := range rows {
			for j, c := range cols {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(r[c])
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString("\n" + strconv.Itoa(len(rows)) + " total.\n")
	return b.String()
}
