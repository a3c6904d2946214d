package yamlstrict

import (
	"strings"
	"testing"
)

type inner struct {
	Port int    `yaml:"port"`
	Host string `yaml:"host"`
}

type outer struct {
	Kind  string  `yaml:"kind"`
	Nodes []inner `yaml:"nodes"`
}

func TestDecodeErrorsAreOneLineWithAcceptedFields(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"kind: x\nwat: 1\n", `f.yaml:2: unknown field "wat" (accepted: kind, nodes)`},
		{"nodes:\n  - port: 1\n    hots: a\n", `f.yaml:3: unknown field "hots" (accepted: port, host)`},
		{"nodes:\n  - port: many\n", `f.yaml:2: cannot unmarshal !!str`},
		{"kind: [\n", "f.yaml:"},
		{"", "f.yaml: empty file"},
	} {
		var o outer
		err := Decode("f.yaml", []byte(tc.in), &o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line containing %q", tc.in, err, tc.want)
		}
	}
	var o outer
	if err := Decode("f.yaml", []byte("kind: galera\nnodes: [{port: 3306, host: h}]\n"), &o); err != nil || o.Nodes[0].Port != 3306 {
		t.Fatalf("valid file: %v %+v", err, o)
	}
}
