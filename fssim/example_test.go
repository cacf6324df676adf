package fssim_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"bgcall/fssim"
)

// A node whose subscriber 1002 first does not answer, then is busy, then
// answers after 50ms and hangs up after 100ms of talk.
func ExampleStart() {
	node, err := fssim.Start(fssim.Options{
		Second: 20 * time.Millisecond, // originate_timeout=5 lasts 100ms
		Subscribers: map[string][]fssim.Behavior{
			"1002": {
				{Action: fssim.NoAnswer},
				{Action: fssim.Busy},
				{Action: fssim.Answer, Ring: 50 * time.Millisecond, Talk: 100 * time.Millisecond},
			},
		},
	})
	if err != nil {
		panic(err)
	}
	defer node.Close()

	conn, _ := net.Dial("tcp", node.Addr())
	defer conn.Close()
	r := bufio.NewReader(conn)
	read := func() string { // one frame's body
		length := 0
		for {
			line, _ := r.ReadString('\n')
			if line == "\n" {
				break
			}
			if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		body := make([]byte, length)
		io.ReadFull(r, body)
		return string(body)
	}
	read() // auth/request
	fmt.Fprint(conn, "auth ClueCon\n\n")
	read()
	for i := 0; i < 3; i++ {
		fmt.Fprint(conn, "api originate {origination_uuid=00000000-0000-4000-8000-00000000000"+strconv.Itoa(i)+",originate_timeout=5}user/1002@example.com &park()\n\n")
		fmt.Print(read())
	}
	fmt.Println(node.Attempts("1002"), "attempts")
	// Output:
	// -ERR NO_ANSWER
	// -ERR USER_BUSY
	// +OK 00000000-0000-4000-8000-000000000002
	// 3 attempts
}
