package prototest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Impure lists what a pure state machine must not use, so that it runs the same in wall-clock
// time, in virtual time (testing/synctest) and in a datadriven script: the packages that
// bring locks, goroutine plumbing, I/O or the bus (a path ending in "/" bans everything
// below it), and the functions of package time that read or wait on the clock. time.Time
// and time.Duration values are fine: a machine is told the time as an input. Channels are
// banned too: a machine never blocks.
var Impure = struct {
	Imports    []string
	ClockCalls []string
}{
	Imports: []string{
		"sync", "sync/atomic", "os", "net", "io",
		"github.com/replbench/replbench/protocols/transport",
		"github.com/replbench/replbench/internal/driver",
	},
	ClockCalls: []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "NewTimer", "NewTicker", "Tick"},
}

// CheckMachines parses the non-test Go files of the package in dir and reports every use of
// something Impure, every go statement, select statement and channel in a file that
// isDriver does not accept (give it the names of the driver's files: the provider that connects the
// machines to goroutines, timers and the bus). It is how a protocol package asserts that its
// machines are pure: one test calling it lists the violations, file:line, or returns nil.
func CheckMachines(dir string, isDriver func(file string) bool) error {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	var bad []string
	checked := 0
	for _, path := range files {
		name := filepath.Base(path)
		if strings.HasSuffix(name, "_test.go") || isDriver(name) {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		timeName := ""
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			for _, banned := range Impure.Imports {
				if p == banned || strings.HasSuffix(banned, "/") && strings.HasPrefix(p, banned) {
					bad = append(bad, fmt.Sprintf("%s: imports %s", fset.Position(im.Pos()), p))
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
				bad = append(bad, fmt.Sprintf("%s: go statement", fset.Position(n.Pos())))
			case *ast.SelectStmt:
				bad = append(bad, fmt.Sprintf("%s: select statement", fset.Position(n.Pos())))
			case *ast.SendStmt, *ast.ChanType:
				bad = append(bad, fmt.Sprintf("%s: channel use", fset.Position(n.Pos())))
			case *ast.UnaryExpr:
				if n.Op == token.ARROW {
					bad = append(bad, fmt.Sprintf("%s: channel receive", fset.Position(n.Pos())))
				}
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName {
					for _, c := range Impure.ClockCalls {
						if n.Sel.Name == c {
							bad = append(bad, fmt.Sprintf("%s: reads the clock (time.%s)", fset.Position(n.Pos()), c))
						}
					}
				}
			}
			return true
		})
	}
	if checked == 0 {
		return fmt.Errorf("%s: no machine files to check (is the driver filter too wide?)", dir)
	}
	if len(bad) > 0 {
		return fmt.Errorf("the machines are not pure (move this to a driver file, or give the value as an input):\n  %s", strings.Join(bad, "\n  "))
	}
	return nil
}
