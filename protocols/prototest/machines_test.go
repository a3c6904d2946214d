package prototest

import (
	"strings"
	"testing"
)

// CheckMachines names every impure use in a machine file, by line, also under a renamed
// time import, and accepts the same file once it is declared a driver.
func TestCheckMachines(t *testing.T) {
	err := CheckMachines("testdata/machines", func(string) bool { return false })
	if err == nil {
		t.Fatal("impure.go passed")
	}
	for _, want := range []string{"impure.go:4:2: imports sync", "impure.go:12:6: reads the clock (time.Now)", "impure.go:13:2: go statement", "impure.go:14:2: select statement", "impure.go:11:14: channel use", "impure.go:15:7: channel receive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("report lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "machines/pure.go") {
		t.Errorf("pure.go reported: %v", err)
	}
	if err := CheckMachines("testdata/machines", func(f string) bool { return f == "impure.go" }); err != nil {
		t.Errorf("with impure.go as the driver: %v", err)
	}
	if err := CheckMachines("testdata/machines", func(string) bool { return true }); err == nil {
		t.Error("a filter that excludes every file must be an error, not a pass")
	}
}
