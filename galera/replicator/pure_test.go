package replicator

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The machine packages are pure: inputs are calls, time is ticks, outputs are returned. This
// test reads their source and refuses anything that would let a goroutine, a clock, a lock,
// randomness or the network in. The driver (package galera) is where those belong.
var machinePackages = []string{"../gcs", "../cert", "."}

// forbiddenImports are packages a machine must not import, by path or path prefix.
var forbiddenImports = []string{
	"sync", "sync/atomic", "context", "net", "os", "math/rand", "math/rand/v2", "crypto/rand",
	"github.com/replbench/replbench/protocols/transport",
	"github.com/replbench/replbench/protocols/monitor",
	"github.com/replbench/replbench/internal/driver",
	"github.com/nats-io/",
}

// forbiddenTime are the functions of package time that read or wait for the clock.
var forbiddenTime = map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "Tick": true, "NewTicker": true, "NewTimer": true}

func TestMachinesArePure(t *testing.T) {
	for _, dir := range machinePackages {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			checked++
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			timeName := ""
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				for _, bad := range forbiddenImports {
					if p == bad || strings.HasSuffix(bad, "/") && strings.HasPrefix(p, bad) {
						t.Errorf("%s imports %s: a machine has no goroutines, locks, clocks or transport", path, p)
					}
				}
				if p == "time" {
					timeName = "time"
					if im.Name != nil {
						timeName = im.Name.Name
					}
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.GoStmt:
					t.Errorf("%s: go statement: a machine runs on its caller's goroutine", fset.Position(n.Pos()))
				case *ast.SelectStmt, *ast.SendStmt, *ast.ChanType:
					t.Errorf("%s: channel use: a machine never blocks", fset.Position(n.Pos()))
				case *ast.SelectorExpr:
					if id, ok := n.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName && forbiddenTime[n.Sel.Name] {
						t.Errorf("%s: time.%s: time is ticks in a machine", fset.Position(n.Pos()), n.Sel.Name)
					}
				}
				return true
			})
		}
		if checked == 0 {
			t.Errorf("%s: no source files found; the list of machine packages is stale", dir)
		}
	}
}
