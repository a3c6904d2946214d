package transport_test

import (
	"fmt"

	"github.com/replbench/replbench/protocols/transport"
)

// A network for the CLI flags --network wan-50 --link n2-n3=20ms --jitter normal:2ms,1ms.
func ExamplePreset() {
	members := []string{"n1", "n2", "n3"}
	nw, err := transport.Preset("wan-50", members)
	if err != nil {
		panic(err)
	}
	l, _ := transport.ParseLink("n2-n3=20ms")
	l.Apply(&nw)
	nw.Jitter, _ = transport.ParseJitter("normal:2ms,1ms")
	if err := nw.Validate(members); err != nil {
		panic(err)
	}
	fmt.Println(nw.OneWay("n1", "n2"), nw.OneWay("n2", "n1"), nw.RTT("n2", "n3"), nw.Jitter)
	_, _, err = transport.ParseEgress("n7=5ms")
	fmt.Println(err, transport.CheckNode("n7", members))
	// Output:
	// 50.025ms 25µs 40.05ms normal:2ms,1ms
	// <nil> unknown node n7 (accepted: n1, n2, n3)
}
