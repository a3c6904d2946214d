package protocols

import (
	"strings"
	"testing"
)

func flavoured() *Protocol {
	return &Protocol{
		Name: "toy",
		Params: []Param{
			{Name: "wait_point", Default: "AFTER_SYNC", Choices: []string{"AFTER_SYNC", "AFTER_COMMIT"}},
			{Name: "wait_count", Default: "1", Min: new(1.0)},
		},
		Flavors: []Flavor{
			{Name: "mysql-8.0", Summary: "MySQL"},
			{Name: "mariadb-10.11", Summary: "MariaDB", Defaults: map[string]string{"wait_point": "AFTER_COMMIT"}, Lacks: []string{"wait_count"}},
		},
	}
}

func TestFlavorDefaultsAndRefusals(t *testing.T) {
	p := flavoured()
	p.Params = append(p.Params, flavorParam(p))
	for _, c := range []struct {
		user      map[string]string
		wantPoint string
		wantFl    string
		err       string
	}{
		{nil, "AFTER_SYNC", "mysql-8.0", ""},
		{map[string]string{FlavorParam: "mariadb-10.11"}, "AFTER_COMMIT", "mariadb-10.11", ""},
		{map[string]string{FlavorParam: "MariaDB-10.11", "wait_point": "AFTER_SYNC"}, "AFTER_SYNC", "mariadb-10.11", ""},
		{map[string]string{FlavorParam: "mariadb-10.11", "wait_count": "2"}, "", "", "parameter wait_count: flavour mariadb-10.11 has no such option (accepted with --flavor mysql-8.0)"},
		{map[string]string{FlavorParam: "oracle"}, "", "", `protocol toy has no flavour "oracle" (accepted: mysql-8.0, mariadb-10.11)`},
		{map[string]string{"wait_count": "2"}, "AFTER_SYNC", "mysql-8.0", ""},
	} {
		st, err := p.Resolve(c.user)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%v: error %v, want %q", c.user, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", c.user, err)
			continue
		}
		ps := st.Params()
		if ps["wait_point"] != c.wantPoint || p.FlavorOf(ps).Name != c.wantFl {
			t.Errorf("%v: wait_point %s flavour %s, want %s %s", c.user, ps["wait_point"], p.FlavorOf(ps).Name, c.wantPoint, c.wantFl)
		}
		if _, ok := ps["wait_count"]; !ok {
			t.Errorf("%v: a lacking option must stay declared so Parse finds it", c.user)
		}
	}
	shown := p.ParamsFor(&p.Flavors[1])
	for _, d := range shown {
		if d.Name == "wait_count" {
			t.Error("ParamsFor shows an option the flavour lacks")
		}
		if d.Name == "wait_point" && d.Default != "AFTER_COMMIT" {
			t.Errorf("ParamsFor shows default %s, want the flavour's AFTER_COMMIT", d.Default)
		}
	}
}

func TestRegisterRefusesFlavorDefaultForUndeclaredParameter(t *testing.T) {
	p := flavoured()
	p.Name = "toy-bad"
	p.Flavors[1].Defaults = map[string]string{"no_such": "1"}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "undeclared parameter no_such") {
			t.Fatalf("panic %v", r)
		}
	}()
	Register(*p)
}
