package groupreplication

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// machinePackages are the pure state machines below the driver: whatever waits, runs or
// talks lives in this package's driver files, never in them.
var machinePackages = []string{"group", "agreement", "certifier", "flowcontrol", "membership"}

// forbiddenImports are what a machine must not import: locks and atomics, contexts,
// goroutine plumbing, I/O, the bus, the commit monitor.
var forbiddenImports = []string{
	"sync", "sync/atomic", "context", "net", "os", "os/signal",
	"github.com/nats-io/", "github.com/replbench/replbench/protocols/transport",
	"github.com/replbench/replbench/protocols/monitor", "github.com/replbench/replbench/internal/driver",
}

// clockFuncs are the time package's clocks and timers; a machine may use its types
// (Duration, Time) for the instants its inputs carry.
var clockFuncs = map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true,
	"NewTicker": true, "NewTimer": true, "After": true, "AfterFunc": true, "Tick": true}

// TestMachinesArePure asserts, from the source, that the machine packages start no
// goroutine, read no clock, take no lock and import no transport: the property that
// makes them testable step by step (group/testdata) and identical on every member.
func TestMachinesArePure(t *testing.T) {
	for _, pkg := range machinePackages {
		files, err := filepath.Glob(filepath.Join(pkg, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", pkg, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			checkPure(t, f)
		}
	}
}

func checkPure(t *testing.T, path string) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	timeName := ""
	for _, imp := range file.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		for _, bad := range forbiddenImports {
			if p == bad || (strings.HasSuffix(bad, "/") && strings.HasPrefix(p, bad)) {
				t.Errorf("%s imports %s: a machine takes no locks and does no I/O; move that to the driver", fset.Position(imp.Pos()), p)
			}
		}
		if p == "time" {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			t.Errorf("%s: go statement: a machine starts no goroutines", fset.Position(n.Pos()))
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName && clockFuncs[n.Sel.Name] {
				t.Errorf("%s: time.%s: a machine reads no clock; time comes in with its inputs", fset.Position(n.Pos()), n.Sel.Name)
			}
		}
		return true
	})
}
