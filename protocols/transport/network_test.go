package transport

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var members3 = []string{"n1", "n2", "n3"}

func TestPresets(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		preset   string
		from, to string
		oneWay   time.Duration
	}{
		// lan: 0.05 ms RTT between every pair.
		{"lan", "n1", "n2", 25 * time.Microsecond},
		{"lan", "n3", "n1", 25 * time.Microsecond},
		// wan-50/100: netem on n1's interface delays what n1 sends, nothing else.
		{"wan-50", "n1", "n2", 50*ms + LANOneWay},
		{"wan-50", "n2", "n1", LANOneWay},
		{"wan-50", "n2", "n3", LANOneWay},
		{"wan-100", "n1", "n3", 100*ms + LANOneWay},
		// 3dc: n1 US-East, n2 US-West, n3 Europe.
		{"3dc", "n1", "n2", 35*ms + LANOneWay},
		{"3dc", "n2", "n3", 62*ms + LANOneWay},
		{"3dc", "n3", "n1", 38*ms + LANOneWay},
		{"3az", "n1", "n2", 500*time.Microsecond + LANOneWay},
		{"2dc", "n1", "n2", 40*ms + LANOneWay},
		{"2dc", "n1", "n3", LANOneWay}, // n3 is back in DC1
	} {
		nw, err := Preset(tc.preset, members3)
		if err != nil {
			t.Fatal(err)
		}
		if got := nw.OneWay(tc.from, tc.to); got != tc.oneWay {
			t.Errorf("%s: OneWay(%s,%s) = %v, want %v", tc.preset, tc.from, tc.to, got, tc.oneWay)
		}
		if err := nw.Validate(members3); err != nil {
			t.Errorf("%s: %v", tc.preset, err)
		}
	}
	nw, _ := Preset("lan", members3)
	if nw.RTT("n1", "n2") != 50*time.Microsecond {
		t.Errorf("lan RTT = %v, want 0.05 ms", nw.RTT("n1", "n2"))
	}
	// The documents' 50 ms ping from the delayed node.
	nw, _ = Preset("wan-50", members3)
	if got := nw.RTT("n1", "n2"); got != 50*ms+2*LANOneWay {
		t.Errorf("wan-50 RTT = %v", got)
	}
	for _, name := range PresetNames() {
		if PresetDescription(name) == "" {
			t.Errorf("preset %s has no description", name)
		}
	}
	_, err := Preset("moon", members3)
	if err == nil || !strings.Contains(err.Error(), "moon") || !strings.Contains(err.Error(), "wan-50") {
		t.Errorf("unknown preset error %q should name it and list the accepted ones", err)
	}
}

func TestLinkSpecsRoundTrip(t *testing.T) {
	var nw Network
	for _, s := range []string{"n1-n2=20ms", "n3>n1=5ms", "n1>n3=7ms", "n2-n3=1ms"} {
		l, err := ParseLink(s)
		if err != nil {
			t.Fatal(err)
		}
		l.Apply(&nw)
	}
	var got []string
	for _, l := range nw.LinkSpecs() {
		got = append(got, l.String())
	}
	want := []string{"n1-n2=20ms", "n1>n3=7ms", "n2-n3=1ms", "n3>n1=5ms"}
	if !slices.Equal(got, want) {
		t.Errorf("LinkSpecs = %v, want %v", got, want)
	}
}

func TestNetworkCloneIsDeep(t *testing.T) {
	a, _ := Preset("wan-50", members3)
	b := a.Clone()
	b.SetEgress("n1", time.Second)
	b.SetLinkBoth("n2", "n3", time.Second)
	if a.OneWay("n1", "n2") != 50*time.Millisecond+LANOneWay || a.OneWay("n2", "n3") != LANOneWay {
		t.Fatal("changing a clone changed the original")
	}
}

func TestParsers(t *testing.T) {
	node, d, err := ParseEgress("n2=50ms")
	if err != nil || node != "n2" || d != 50*time.Millisecond {
		t.Errorf("ParseEgress: %s %v %v", node, d, err)
	}
	l, err := ParseLink("n1-n2=20ms")
	if err != nil || l != (LinkDelay{From: "n1", To: "n2", Delay: 20 * time.Millisecond}) {
		t.Errorf("ParseLink: %+v %v", l, err)
	}
	var nw Network
	l.Apply(&nw)
	if nw.RTT("n1", "n2") != 40*time.Millisecond {
		t.Errorf("n1-n2=20ms gives RTT %v, want 40ms", nw.RTT("n1", "n2"))
	}
	l, err = ParseLink("n1>n2=5ms")
	if err != nil || !l.Directed {
		t.Errorf("ParseLink directed: %+v %v", l, err)
	}
	for in, want := range map[string]Jitter{
		"uniform:5ms":      {Uniform, 5 * time.Millisecond, 0},
		"normal:10ms,2ms":  {Normal, 10 * time.Millisecond, 2 * time.Millisecond},
		"pareto:10ms,5ms":  {Pareto, 10 * time.Millisecond, 5 * time.Millisecond},
		"constant:1ms":     {Constant, time.Millisecond, 0},
		"none":             {},
		"NORMAL: 1ms, 1us": {Normal, time.Millisecond, time.Microsecond},
	} {
		got, err := ParseJitter(in)
		if err != nil || got != want {
			t.Errorf("ParseJitter(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, want := range map[string]float64{"0.01": 0.01, "1%": 0.01, "0": 0} {
		if got, err := ParseLoss(in); err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("ParseLoss(%q) = %v, %v", in, got, err)
		}
	}

	// Errors name the problem and the accepted forms.
	for _, tc := range []struct {
		err  error
		want []string
	}{
		{second(ParseEgress("n2")), []string{"NODE=DELAY", "n2=50ms"}},
		{second(ParseEgress("n2=-5ms")), []string{"negative"}},
		{second(ParseEgress("n2=fast")), []string{"bad duration", "50ms"}},
		{errOf(ParseLink("n1n2=5ms")), []string{"A-B=DELAY"}},
		{errOf(ParseLink("n1-n1=5ms")), []string{"two different nodes"}},
		{errOf(ParseLink("n1-n2=-1ms")), []string{"negative"}},
		{errOf(ParseJitter("gauss:5ms")), []string{"gauss", "uniform:5ms", "normal:10ms,2ms", "pareto"}},
		{errOf(ParseJitter("normal:5ms")), []string{"standard deviation"}},
		{errOf(ParseJitter("uniform:-5ms")), []string{"negative"}},
		{errOf(ParseJitter("5ms")), []string{"accepted"}},
		{errOf(ParseLoss("150%")), []string{"out of range"}},
		{CheckNode("n7", members3), []string{"unknown node n7 (accepted: n1, n2, n3)"}},
	} {
		if tc.err == nil {
			t.Errorf("expected an error containing %q", tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.err.Error(), w) {
				t.Errorf("error %q does not mention %q", tc.err, w)
			}
		}
	}

	nw = Network{}
	nw.SetEgress("n7", time.Millisecond)
	if err := nw.Validate(members3); err == nil || !strings.Contains(err.Error(), "unknown node n7 (accepted: n1, n2, n3)") {
		t.Errorf("Validate: %v", err)
	}
	nw = Network{Loss: 2}
	if err := nw.Validate(members3); err == nil {
		t.Error("Validate accepted loss 2")
	}
}

func second(_ string, _ time.Duration, err error) error { return err }

func errOf[T any](_ T, err error) error { return err }

// The jitter distributions have the mean and spread they claim, and never go negative.
func TestJitterDistributions(t *testing.T) {
	ms := float64(time.Millisecond)
	for _, tc := range []struct {
		j          Jitter
		mean, sd   float64
		tolM, tolS float64
	}{
		{Jitter{Constant, 3 * time.Millisecond, 0}, 3 * ms, 0, 0, 0},
		{Jitter{Uniform, 10 * time.Millisecond, 0}, 5 * ms, 10 * ms / math.Sqrt(12), 0.05 * ms, 0.05 * ms},
		{Jitter{Normal, 10 * time.Millisecond, 2 * time.Millisecond}, 10 * ms, 2 * ms, 0.05 * ms, 0.05 * ms},
		// Heavy tail: the sample deviation converges slowly, so only the mean is tight.
		{Jitter{Pareto, 10 * time.Millisecond, 5 * time.Millisecond}, 10 * ms, 5 * ms, 0.1 * ms, 1 * ms},
	} {
		r := rand.New(rand.NewPCG(1, 2))
		const n = 200000
		var sum, sum2 float64
		for range n {
			v := tc.j.Sample(r)
			if v < 0 {
				t.Fatalf("%s: negative sample", tc.j)
			}
			sum += float64(v)
			sum2 += float64(v) * float64(v)
		}
		mean := sum / n
		sd := math.Sqrt(sum2/n - mean*mean)
		if math.Abs(mean-tc.mean) > tc.tolM || math.Abs(sd-tc.sd) > tc.tolS {
			t.Errorf("%s: mean %.3fms sd %.3fms, want %.3fms / %.3fms", tc.j, mean/ms, sd/ms, tc.mean/ms, tc.sd/ms)
		}
	}
	if !slices.Equal(PresetNames(), []string{"lan", "wan-50", "wan-100", "3az", "2dc", "3dc"}) {
		t.Errorf("preset names %v", PresetNames())
	}
}
